package cli_test

// The migration lock across the nodes of a Galera cluster, where MySQL's
// GET_LOCK would hold on one node only: runners connected to different
// nodes of one cluster must exclude each other through the lease row,
// which Galera replicates (a conflicting write on two nodes fails one of
// them at commit, as a deadlock, and that runner tries again).
//
// Enabled by GLANCE_TEST_GALERA_URLS: the comma-separated URLs of the
// nodes of one cluster, at least two (see testdb.NewGalera).
// tools/galera/cluster.sh starts such a cluster on this host and prints
// them; .ci/run does so.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/rolling"
)

// assertHeadEverywhere checks that every node sees the same schema, at
// head.
func assertHeadEverywhere(t *testing.T, g *testdb.Galera) {
	t.Helper()
	var first string
	for i, db := range g.SQL {
		d, err := schemadump.Dump(context.Background(), db, "mysql")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d, "row 2024_1_contract01") || strings.Count(d, "\n  row ") != 1 {
			t.Fatalf("node %d: the database is not at head:\n%s", i+1, d[max(0, len(d)-300):])
		}
		if i == 0 {
			first = d
		} else if d != first {
			t.Fatalf("node %d shows another schema than node 1", i+1)
		}
	}
}

func TestLockAcrossGaleraNodes(t *testing.T) {
	testdb.GaleraURLs(t)            // skips, or fails under CI=true, without a cluster
	testdb.Require(t, testdb.MySQL) // the tool's MySQL paths are what runs
	bin := buildTool(t)

	t.Run("runner on node 2 waits for one on node 1", func(t *testing.T) {
		g := testdb.NewGalera(t)
		dir := t.TempDir()
		a := start(t, bin, g.URLs[0], pauseEnv(dir, 3), "db", "sync")
		waitFile(t, filepath.Join(dir, "paused"))

		quick := start(t, bin, g.URLs[1], nil, "--lock-timeout", "1s", "db", "sync")
		if code, stderr := quick.wait(); code != 1 || !strings.Contains(stderr, "gave up waiting for the migration lock") {
			t.Fatalf("runner on node 2 did not wait for node 1's: exit %d\n%s", code, stderr)
		}
		if out := runTool(t, bin, g.URLs[1], "db", "lock", "show"); !strings.Contains(out, "db sync") {
			t.Fatalf("node 2 does not show node 1's lock:\n%s", out)
		}
		patient := start(t, bin, g.URLs[1], nil, "--lock-timeout", "-1", "db", "sync")
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
		assertHeadEverywhere(t, g)
	})

	t.Run("killed runner on node 1 is taken over from node 2", func(t *testing.T) {
		g := testdb.NewGalera(t)
		dir := t.TempDir()
		a := start(t, bin, g.URLs[0], pauseEnv(dir, 2), "db", "sync")
		waitFile(t, filepath.Join(dir, "paused"))
		if err := a.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_, _ = a.wait()
		// GLANCE_MANAGE_LOCK_LEASE=1s (set by start): the lease expires
		// soon and node 2's runner takes over and finishes the job.
		b := start(t, bin, g.URLs[1], nil, "--lock-timeout", "-1", "db", "sync")
		if code, stderr := b.wait(); code != 0 {
			t.Fatalf("runner on node 2: exit %d\n%s\n%s", code, b.stdout.String(), stderr)
		}
		assertHeadEverywhere(t, g)
	})

	t.Run("runners on every node racing", func(t *testing.T) {
		for round := range 3 {
			g := testdb.NewGalera(t)
			var ps []*proc
			for i := range g.URLs {
				ps = append(ps, start(t, bin, g.URLs[i], nil, "--lock-timeout", "-1", "db", "sync"))
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
			assertHeadEverywhere(t, g)
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
	testdb.GaleraURLs(t) // skips, or fails under CI=true, without a cluster
	testdb.Require(t, testdb.MySQL)
	g := testdb.NewGalera(t)
	mustCLI(t, g.URLs[0], "db", "sync", "mitaka02")
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
			if _, err := g.SQL[0].Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cmd := range []string{"expand", "migrate", "contract"} {
		_, errs, code := runCLI(t, g.URLs[0], "db", cmd)
		if code != 0 {
			t.Fatalf("db %s on node 1: exit %d\n%s", cmd, code, errs)
		}
		if cmd != "migrate" && !strings.Contains(errs, "copy of images into a shadow table done: 300/300 rows") {
			t.Fatalf("db %s did not copy images into a shadow table:\n%s", cmd, errs)
		}
	}
	assertHeadEverywhere(t, g)
	d, err := schemadump.Dump(context.Background(), g.SQL[1], "mysql")
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
	if err := g.SQL[1].QueryRow("SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM image_properties), (SELECT COUNT(*) FROM images WHERE visibility = 'public')").Scan(&images, &props, &public); err != nil {
		t.Fatal(err)
	}
	if images != 300 || props != 300 || public != 150 {
		t.Errorf("node 2: %d images (%d public), %d properties; want 300 (150 public), 300", images, public, props)
	}
}

// nodesIdentical compares every node's schema, alembic_version and the
// checksums of Glance's image tables.
func nodesIdentical(t *testing.T, g *testdb.Galera) {
	t.Helper()
	ctx := context.Background()
	var first []string
	for i, db := range g.SQL {
		d, err := schemadump.Dump(ctx, db, "mysql")
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		got := []string{d}
		for _, table := range []string{"images", "image_properties", "image_tags", "image_locations", "image_members", "alembic_version"} {
			var name string
			var sum sql.NullInt64
			var n int64
			if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
				t.Fatalf("node %d: %v", i+1, err)
			}
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("node %d: %v", i+1, err)
			}
			got = append(got, fmt.Sprintf("%s: %d rows, checksum %d", table, n, sum.Int64))
		}
		t.Logf("node %d: %s", i+1, strings.Join(got[1:], "; "))
		if i == 0 {
			first = got
			continue
		}
		for k := range got {
			if got[k] != first[k] {
				if k == 0 {
					t.Errorf("node %d has another schema than node 1", i+1)
				} else {
					t.Errorf("node %d: %s; node 1: %s", i+1, got[k], first[k])
				}
			}
		}
	}
}

// TestGaleraFailover kills node 1, HAProxy's active node, with SIGKILL
// while each phase runs through HAProxy (paused in the middle of its
// work: a shadow copy of images for expand and contract, a data-migration
// batch for migrate). The run ends with one line saying the connection
// was lost and what to do; the same command through HAProxy (now on a
// backup node) takes over the dead run's lock once its lease expires and
// finishes the phase; node 1 restarts, rejoins, and every node ends with
// the same schema, alembic_version and rows.
func TestGaleraFailover(t *testing.T) {
	testdb.GaleraURLs(t)
	testdb.GaleraProxyURL(t)
	bin := buildTool(t)
	for _, c := range []struct {
		phase, pauseOn, check string
	}{
		{"expand", "batch:copy of images#3", "Your next step is to run `glance-manage db migrate`"},
		{"migrate", "batch:ocata_migrate01#3", "Your next step is to run `glance-manage db contract`"},
		{"contract", "batch:copy of images#3", "Database is up to date"},
	} {
		t.Run(c.phase, func(t *testing.T) {
			ctx := context.Background()
			g := testdb.NewGalera(t)
			if n, err := g.ProxyNode(ctx); err != nil || n != 1 {
				t.Fatalf("HAProxy sends new connections to node %d (%v), want node 1", n, err)
			}
			mustCLI(t, g.ProxyURL, "db", "sync", "mitaka02")
			if err := rolling.Seed(ctx, g.SQL[0], "mysql", 2000); err != nil {
				t.Fatal(err)
			}
			for _, before := range map[string][]string{"migrate": {"expand"}, "contract": {"expand", "migrate"}}[c.phase] {
				mustCLI(t, g.ProxyURL, "db", before)
			}
			dir := t.TempDir()
			env := []string{"GLANCE_MANAGE_PAUSE_DIR=" + dir, "GLANCE_MANAGE_PAUSE_ON=" + c.pauseOn, "GLANCE_MANAGE_DATA_BATCH=200"}
			run := start(t, bin, g.ProxyURL, env, "db", c.phase)
			waitFile(t, filepath.Join(dir, "paused-1"))
			testdb.GaleraKill(t, 1)
			if err := os.WriteFile(filepath.Join(dir, "resume-1"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := run.wait()
			var errLines []string
			for _, l := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(l, "ERROR") {
					errLines = append(errLines, l)
				}
			}
			t.Logf("the run on the killed node: exit %d: %s", code, strings.Join(errLines, " | "))
			if code == 0 || len(errLines) != 1 || !strings.Contains(errLines[0], "closed or dropped the connection") || !strings.Contains(errLines[0], "run `glance-manage db "+c.phase+"` again") {
				t.Fatalf("db %s whose node was killed: exit %d, want one ERROR line saying the connection was lost and to run it again:\n%s", c.phase, code, stderr)
			}

			again := start(t, bin, g.ProxyURL, nil, "--lock-timeout", "-1", "db", c.phase)
			if code, stderr := again.wait(); code != 0 {
				t.Fatalf("db %s again through HAProxy: exit %d\n%s\n%s", c.phase, code, again.stdout.String(), stderr)
			}
			if n, err := g.ProxyNode(ctx); err != nil || n == 1 {
				t.Fatalf("HAProxy still on node %d (%v) after node 1 was killed", n, err)
			}
			testdb.GaleraRestart(t, 1)
			if out, synced := testdb.GaleraStatus(t); !synced {
				t.Fatalf("the cluster after node 1 restarted:\n%s", out)
			}
			nodesIdentical(t, g)
			for i, u := range g.URLs {
				if _, stdout := runToolCode(t, bin, u, "db", "check"); !strings.Contains(stdout, c.check) {
					t.Errorf("db check on node %d after db %s: %q, want %q", i+1, c.phase, strings.TrimSpace(stdout), c.check)
				}
			}
		})
	}
}

// runToolCode runs the tool and returns its exit code and stdout.
func runToolCode(t *testing.T, bin, url string, args ...string) (int, string) {
	t.Helper()
	p := start(t, bin, url, nil, args...)
	code, _ := p.wait()
	return code, p.stdout.String()
}

// TestGaleraRefusesNodeNotSynced: a node that is desynced from the
// cluster (wsrep_desync, as a donor is during a state transfer) is refused
// as the place to run a phase: by the preflight checks before contract,
// and by the engine itself (db migrate, which has no preflight, and
// upgrade with --skip-preflight), each with one line saying what to do,
// and nothing changed.
func TestGaleraRefusesNodeNotSynced(t *testing.T) {
	testdb.GaleraURLs(t)
	bin := buildTool(t)
	ctx := context.Background()
	g := testdb.NewGalera(t)
	mustCLI(t, g.URLs[0], "db", "sync", "mitaka02")
	if err := rolling.Seed(ctx, g.SQL[0], "mysql", 100); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, g.URLs[0], "db", "expand")
	before, err := schemadump.Dump(ctx, g.SQL[0], "mysql")
	if err != nil {
		t.Fatal(err)
	}
	unmigrated := func() (n int) {
		if err := g.SQL[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM images WHERE visibility IS NULL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	left := unmigrated()
	if _, err := g.SQL[1].ExecContext(ctx, "SET GLOBAL wsrep_desync = ON"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := g.SQL[1].ExecContext(context.Background(), "SET GLOBAL wsrep_desync = OFF"); err != nil {
			t.Errorf("node 2: %v", err)
		}
	})
	for _, args := range [][]string{{"db", "contract"}, {"db", "upgrade", "--skip-preflight"}, {"db", "migrate"}} {
		p := start(t, bin, g.URLs[1], nil, args...)
		code, stderr := p.wait()
		t.Logf("%s on a desynced node: exit %d: %s", strings.Join(args, " "), code, lastError(stderr))
		if code == 0 || !strings.Contains(stderr, "not Synced") || !strings.Contains(stderr, "Donor/Desynced") {
			t.Errorf("%s on a desynced node: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	after, err := schemadump.Dump(ctx, g.SQL[0], "mysql")
	if err != nil {
		t.Fatal(err)
	}
	if now := unmigrated(); after != before || now != left {
		t.Fatalf("the refused runs changed the database: schema changed %v, %d images without a visibility, %d before", after != before, now, left)
	}
}

// lastError is the last line of stderr that starts with ERROR (or the
// last line).
func lastError(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "ERROR") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}
