package rolling_test

import (
	"context"
	"database/sql"
	"flag"
	"strconv"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/galera"
	"github.com/glance-manage/glance-manage/rolling"
)

var galeraImages = flag.Int("rolling.galera.images", 20000, "images seeded by TestRollingUpgradeGalera (above migrate.DefaultClusterInPlaceRows, so that expand's index builds take the shadow copy)")

// TestRollingUpgradeGalera runs the rolling upgrade on a three-node
// Galera cluster (GLANCE_TEST_GALERA_URLS, and HAProxy's
// GLANCE_TEST_GALERA_PROXY_URL), the steps on node 1, in two layouts:
// the writers through HAProxy (one active node, kolla-ansible's layout)
// and the writers on every node at once. It fails on any failed write
// (after the writers' deadlock retries, as oslo.db retries certification
// failures), lost row or wrong visibility, on a DDL statement that
// scanned images in total order (an index built in place instead of on
// the shadow copy), and on nodes that differ at the end; it logs per
// phase and node the writes, latencies, flow control and certification
// failures.
func TestRollingUpgradeGalera(t *testing.T) {
	for _, layout := range []string{"haproxy", "every node"} {
		t.Run(strings.ReplaceAll(layout, " ", "-"), func(t *testing.T) {
			g := testdb.NewGalera(t)
			cfg := rolling.Config{
				Backend: "mysql", DB: g.SQL[0], Images: *galeraImages, Phase: *phase,
				MigrateChunk: int64(*galeraImages / 3), Status: g.SQL,
				// Three of each release, so that every node has old and
				// new writers in the multi-writer layout.
				OldWriters: 3, NewWriters: 3,
				// Deadlocks retried as oslo.db's wrap_db_retry does
				// (up to 20 times).
				WriteRetries: 20,
			}
			// The batches are paced by flow control, as the CLI paces
			// them on a cluster.
			fc := &galera.FlowControl{Nodes: g.SQL}
			cfg.Options.Throttle = fc
			if layout == "haproxy" {
				cfg.Writers = []*sql.DB{g.OpenProxy(t)}
			} else {
				cfg.Writers = g.SQL
			}
			rep, err := rolling.Run(context.Background(), cfg)
			if rep != nil {
				t.Logf("\n%s", rep)
				for _, s := range rep.TotalOrder {
					t.Logf("total order: %s: %s: %s", s.Phase, s.Took, s.SQL)
				}
			}
			st := fc.Stats()
			t.Logf("flow-control throttler: %d batches, %d waited (%s in all), %d certification failures of batches (retried)", st.Batches, st.Waits, st.Waited, st.CertFailures)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("the rolling upgrade lost or broke writes: %v %v %v", rep.Failures, rep.Lost, rep.Wrong)
			}
			if st.Batches == 0 {
				t.Error("the flow-control throttler saw no batch")
			}
			// ocata_expand01's index on images goes onto the empty shadow
			// copy, not in place in total order. rocky_expand01/02's
			// indexes find ocata's visibility triggers on images, which
			// a copy cannot carry: they are built in place, and their
			// cluster-wide stall is reported (docs/galera.md).
			shadowed, reported := false, 0
			for _, s := range rep.TotalOrder {
				switch {
				case strings.HasPrefix(s.SQL, "CREATE INDEX visibility_image_idx ON images"):
					t.Errorf("%s: visibility_image_idx was built on images in place, in total order (%s)", s.Phase, s.Took)
				case strings.HasPrefix(s.SQL, "CREATE INDEX visibility_image_idx ON _images_new"):
					shadowed = true
				case strings.HasPrefix(s.SQL, "CREATE INDEX os_hidden_image_idx ON images"), strings.HasPrefix(s.SQL, "CREATE INDEX os_hash_value_image_idx ON images"):
					reported++
				}
			}
			if !shadowed {
				t.Error("visibility_image_idx was not built on the shadow copy of images")
			}
			if reported != 2 {
				t.Errorf("%d of rocky's 2 in-place index builds on images reported as total-order stalls", reported)
			}
			assertNodesIdentical(t, g)
		})
	}
}

// assertNodesIdentical compares every node's schema, alembic_version and
// the checksums of Glance's image tables (each read waits until the node
// has applied everything: wsrep_sync_wait on testdb's pools).
func assertNodesIdentical(t *testing.T, g *testdb.Galera) {
	t.Helper()
	ctx := context.Background()
	var first []string
	for i, db := range g.SQL {
		d, err := schemadump.Dump(ctx, db, "mysql")
		if err != nil {
			t.Fatal(err)
		}
		got := []string{d}
		for _, table := range []string{"images", "image_properties", "image_tags", "image_locations", "image_members", migrate.VersionTable} {
			var name string
			var sum sql.NullInt64
			if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
				t.Fatalf("node %d: %v", i+1, err)
			}
			var n int64
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("node %d: %v", i+1, err)
			}
			got = append(got, table+": "+strings.TrimSpace(strings.Join([]string{itoa(n), "rows, checksum", itoa(sum.Int64)}, " ")))
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
					t.Errorf("node %d: %s, node 1: %s", i+1, got[k], first[k])
				}
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// setGlobal sets a global variable on every node for the test and
// restores its value after it.
func setGlobal(t *testing.T, g *testdb.Galera, name, value string) {
	t.Helper()
	ctx := context.Background()
	for i, db := range g.SQL {
		var old string
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "SET GLOBAL "+name+" = "+value); err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(func() {
			if _, err := db.ExecContext(context.Background(), "SET GLOBAL "+name+" = "+old); err != nil {
				t.Errorf("node %d: restoring %s: %v", i+1, name, err)
			}
		})
	}
}

// TestGaleraWriteSetLimit: with wsrep_max_ws_rows set to 500 on every
// node, the upgrade's batches (data migration, shadow copies) stay below
// it and the whole upgrade passes (contract's shadow copy of images, in
// batches, is what the limit bites on), while one UPDATE of every image
// is refused by the cluster; with
// the reference tool installed, its db migrate is run on the same data
// and its outcome logged.
func TestGaleraWriteSetLimit(t *testing.T) {
	ctx := context.Background()
	const limit, images = 500, 3000
	g := testdb.NewGalera(t)
	db := g.SQL[0]
	mgr, err := glance.New(db, "mysql")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := mgr.Graph().Resolve(rolling.From)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Migrator.Upgrade(ctx, ids, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := rolling.Seed(ctx, db, "mysql", images); err != nil {
		t.Fatal(err)
	}
	// The same data for the reference tool, when it is installed.
	_, refErr := testdb.FindReference()
	var g2 *testdb.Galera
	if refErr == nil {
		g2 = testdb.NewGalera(t)
		mgr2, err := glance.New(g2.SQL[0], "mysql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mgr2.Migrator.Upgrade(ctx, ids, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := rolling.Seed(ctx, g2.SQL[0], "mysql", images); err != nil {
			t.Fatal(err)
		}
	}
	setGlobal(t, g, "wsrep_max_ws_rows", strconv.Itoa(limit))
	// One UPDATE of the whole table, as upstream's data migration is
	// written (one UPDATE per visibility), is refused. (Between expand
	// and contract, while images has the visibility triggers, MariaDB
	// 10.11 was seen not to count an UPDATE's rows against the limit.)
	if _, err := db.ExecContext(ctx, "UPDATE images SET min_disk = min_disk + 1"); err == nil {
		t.Fatalf("an UPDATE of %d images passed with wsrep_max_ws_rows = %d: the limit is not in force", images, limit)
	} else {
		t.Logf("one UPDATE of every image: %v", err)
	}

	var maxBatch int
	o := migrate.Options{Online: true,
		DataProgress: func(p migrate.DataProgress) { maxBatch = max(maxBatch, p.BatchSize) },
		CopyProgress: func(p migrate.DataProgress) { maxBatch = max(maxBatch, p.BatchSize) },
		// The shadow copy (the change of is_public) copies images in
		// batches; so does the data migration.
		ClusterInPlaceRows: 1000,
	}
	if _, err := mgr.Migrator.Upgrade(ctx, []string{mgr.ExpandHead()}, o); err != nil {
		t.Fatalf("expand: %v", err)
	}
	if n, remaining, err := mgr.Migrator.RunData(ctx, -1, o); err != nil || remaining || n == 0 {
		t.Fatalf("migrate: %d rows, remaining %v: %v", n, remaining, err)
	}
	if _, err := mgr.Migrator.Upgrade(ctx, []string{mgr.ContractHead()}, o); err != nil {
		t.Fatalf("contract: %v", err)
	}
	if maxBatch == 0 || maxBatch > limit {
		t.Fatalf("largest batch %d rows, want 1..%d", maxBatch, limit)
	}
	t.Logf("largest batch: %d rows (wsrep_max_ws_rows %d)", maxBatch, limit)
	assertNodesIdentical(t, g)

	// The reference tool on the same data (seeded before the limit).
	if refErr != nil {
		t.Logf("reference tool not installed (%v): its run is left out", refErr)
		return
	}
	for _, args := range [][]string{{"db", "expand"}, {"db", "migrate"}, {"db", "contract"}} {
		stdout, stderr, code := testdb.RunReference(t, g2.URLs[0], args...)
		t.Logf("reference %s: exit %d\n%s\n%s", strings.Join(args, " "), code, lastLines(stdout, 3), lastLines(stderr, 3))
		if code != 0 {
			return
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
