package cli_test

// The migration lock across the nodes of a Galera cluster, where MySQL's
// GET_LOCK would hold on one node only: runners connected to different
// nodes of one cluster must exclude each other through the lease row,
// which Galera replicates (a conflicting write on two nodes fails one of
// them at commit, as a deadlock, and that runner tries again).
//
// Enabled by GLANCE_TEST_GALERA_URLS: two comma-separated URLs of two
// nodes of one cluster (root privileges; the database in the path is used
// to create and drop the test databases). tools/galera/cluster.sh starts
// such a cluster on this host and prints them; .ci/run does so.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

const envGalera = "GLANCE_TEST_GALERA_URLS"

// galeraDB is one database, seen through two nodes.
type galeraDB struct {
	urls [2]string
	sql  [2]*sql.DB
}

// newGaleraDB creates an empty database on the cluster and returns its
// URL on each node; it is dropped when t ends.
func newGaleraDB(t *testing.T) *galeraDB {
	t.Helper()
	raw := strings.Split(os.Getenv(envGalera), ",")
	if len(raw) != 2 {
		t.Fatalf("%s must hold two URLs separated by a comma", envGalera)
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	name := "gmt_galera_" + hex.EncodeToString(suffix)
	g := &galeraDB{}
	ctx := context.Background()
	for i, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			t.Fatalf("%s: node %d: not a URL", envGalera, i+1)
		}
		if i == 0 {
			admin := open(t, u.String())
			if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
					t.Error(err)
				}
			})
		}
		u.Path = "/" + name
		g.urls[i] = u.String()
		g.sql[i] = openReplicated(t, g.urls[i])
		// Galera applies another node's commits on this one a moment
		// after they are certified: wsrep_sync_wait makes this
		// session's reads wait until the node has applied every commit
		// the cluster had when the read began. One connection, so the
		// session setting holds for every read of the checks.
		g.sql[i].SetMaxOpenConns(1)
		g.sql[i].SetMaxIdleConns(1)
		if _, err := g.sql[i].ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1"); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// openReplicated opens raw once the database exists on that node: other
// nodes apply a CREATE DATABASE a moment after the node that ran it.
func openReplicated(t *testing.T, raw string) *sql.DB {
	t.Helper()
	u, err := dburl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for tries := 0; ; tries++ {
		db, err := dburl.Open(context.Background(), u)
		if err == nil {
			t.Cleanup(func() { db.Close() })
			return db
		}
		if tries == 200 || !strings.Contains(err.Error(), "Unknown database") {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func open(t *testing.T, raw string) *sql.DB {
	t.Helper()
	u, err := dburl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := dburl.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// assertHeadOnBoth checks that both nodes see the same schema, at head.
func (g *galeraDB) assertHeadOnBoth(t *testing.T) {
	t.Helper()
	var dumps [2]string
	for i, db := range g.sql {
		d, err := schemadump.Dump(context.Background(), db, "mysql")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d, "row 2024_1_contract01") || strings.Count(d, "\n  row ") != 1 {
			t.Fatalf("node %d: the database is not at head:\n%s", i+1, d[max(0, len(d)-300):])
		}
		dumps[i] = d
	}
	if dumps[0] != dumps[1] {
		t.Fatal("the two nodes show different schemas")
	}
}

// requireGalera skips the test unless a Galera cluster is given, and
// fails it under CI=true (.ci/run starts one).
func requireGalera(t *testing.T) {
	t.Helper()
	if os.Getenv(envGalera) != "" {
		return
	}
	msg := fmt.Sprintf("Galera tests skipped: set %s to two nodes' URLs (tools/galera/cluster.sh start prints them)", envGalera)
	if testdb.CI() {
		t.Fatal(msg + " (CI=true: every suite must run)")
	}
	t.Skip(msg)
}

func TestLockAcrossGaleraNodes(t *testing.T) {
	requireGalera(t)
	testdb.Require(t, testdb.MySQL) // the tool's MySQL paths are what runs
	bin := buildTool(t)

	t.Run("runner on node 2 waits for one on node 1", func(t *testing.T) {
		g := newGaleraDB(t)
		dir := t.TempDir()
		a := start(t, bin, g.urls[0], pauseEnv(dir, 3), "db", "sync")
		waitFile(t, filepath.Join(dir, "paused"))

		quick := start(t, bin, g.urls[1], nil, "--lock-timeout", "1s", "db", "sync")
		if code, stderr := quick.wait(); code != 1 || !strings.Contains(stderr, "gave up waiting for the migration lock") {
			t.Fatalf("runner on node 2 did not wait for node 1's: exit %d\n%s", code, stderr)
		}
		if out := runTool(t, bin, g.urls[1], "db", "lock", "show"); !strings.Contains(out, "db sync") {
			t.Fatalf("node 2 does not show node 1's lock:\n%s", out)
		}
		patient := start(t, bin, g.urls[1], nil, "--lock-timeout", "-1", "db", "sync")
		patient.waitLine(t, "Waiting for the migration lock")
		if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, stderr := a.wait(); code != 0 {
			t.Fatalf("runner on node 1: exit %d\n%s", code, stderr)
		}
		if code, stderr := patient.wait(); code != 0 || !strings.Contains(patient.stdout.String(), "up to date") {
			t.Fatalf("runner on node 2: exit %d\n%s\n%s", code, patient.stdout.String(), stderr)
		}
		g.assertHeadOnBoth(t)
	})

	t.Run("killed runner on node 1 is taken over from node 2", func(t *testing.T) {
		g := newGaleraDB(t)
		dir := t.TempDir()
		a := start(t, bin, g.urls[0], pauseEnv(dir, 2), "db", "sync")
		waitFile(t, filepath.Join(dir, "paused"))
		if err := a.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_, _ = a.wait()
		// GLANCE_MANAGE_LOCK_LEASE=1s (set by start): the lease expires
		// soon and node 2's runner takes over and finishes the job.
		b := start(t, bin, g.urls[1], nil, "--lock-timeout", "-1", "db", "sync")
		if code, stderr := b.wait(); code != 0 {
			t.Fatalf("runner on node 2: exit %d\n%s\n%s", code, b.stdout.String(), stderr)
		}
		g.assertHeadOnBoth(t)
	})

	t.Run("runners on both nodes racing", func(t *testing.T) {
		for round := range 3 {
			g := newGaleraDB(t)
			var ps []*proc
			for i := range 2 {
				ps = append(ps, start(t, bin, g.urls[i], nil, "--lock-timeout", "-1", "db", "sync"))
			}
			ran := 0
			for i, p := range ps {
				code, stderr := p.wait()
				if code != 0 {
					t.Fatalf("round %d: runner on node %d: exit %d\n%s\n%s", round, i+1, code, p.stdout.String(), stderr)
				}
				if strings.Contains(p.stdout.String(), "synced successfully") {
					ran++
				}
			}
			if ran != 1 {
				t.Fatalf("round %d: %d runners built the schema, want exactly 1", round, ran)
			}
			g.assertHeadOnBoth(t)
		}
	})
}

// TestShadowCopyOnGalera: a rolling upgrade from Mitaka through node 1
// copies images into a shadow table (expand and contract) and moves the
// foreign keys of its four children with foreign_key_checks off; Galera
// replicates each of those statements to node 2 (total order isolation),
// which must end with the same schema (foreign keys under their own
// names, no shadow left) and the same rows.
func TestShadowCopyOnGalera(t *testing.T) {
	requireGalera(t)
	testdb.Require(t, testdb.MySQL)
	g := newGaleraDB(t)
	mustCLI(t, g.urls[0], "db", "sync", "mitaka02")
	for i := range 300 {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(i)*2654435761, i)
		for _, q := range []string{
			"INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (?, 'img', 'active', ?, UTC_TIMESTAMP(), 0, 0, 0, 0)",
			"INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES (?, 'k', 'v', UTC_TIMESTAMP(), 0)",
			"INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES (?, 't', UTC_TIMESTAMP(), 0)",
		} {
			args := []any{id}
			if strings.HasPrefix(q, "INSERT INTO images") {
				args = append(args, i%2)
			}
			if _, err := g.sql[0].Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cmd := range []string{"expand", "migrate", "contract"} {
		_, errs, code := runCLI(t, g.urls[0], "db", cmd)
		if code != 0 {
			t.Fatalf("db %s on node 1: exit %d\n%s", cmd, code, errs)
		}
		if cmd != "migrate" && !strings.Contains(errs, "copy of images into a shadow table done: 300/300 rows") {
			t.Fatalf("db %s did not copy images into a shadow table:\n%s", cmd, errs)
		}
	}
	g.assertHeadOnBoth(t)
	d, err := schemadump.Dump(context.Background(), g.sql[1], "mysql")
	if err != nil {
		t.Fatal(err)
	}
	for _, fk := range []string{"image_properties_ibfk_1", "image_tags_ibfk_1", "image_members_ibfk_1", "image_locations_ibfk_1"} {
		if !strings.Contains(d, "foreign key "+fk+" (image_id) references images (id)") {
			t.Errorf("node 2: no foreign key %s referencing images:\n%s", fk, d)
		}
	}
	if strings.Contains(d, "_images_new") || strings.Contains(d, "_images_old") || strings.Contains(d, "_images_shadow") {
		t.Errorf("node 2: the shadow copy left something behind:\n%s", d)
	}
	var images, props, public int
	if err := g.sql[1].QueryRow("SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM image_properties), (SELECT COUNT(*) FROM images WHERE visibility = 'public')").Scan(&images, &props, &public); err != nil {
		t.Fatal(err)
	}
	if images != 300 || props != 300 || public != 150 {
		t.Errorf("node 2: %d images (%d public), %d properties; want 300 (150 public), 300", images, public, props)
	}
}
