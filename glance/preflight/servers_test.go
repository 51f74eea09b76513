package preflight_test

// Findings that need a server setting: made on the private servers (a
// Galera cluster, a MariaDB primary with binary logging, a PostgreSQL
// primary with a standby) or on a throwaway PostgreSQL server, and undone.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// TestPreflightBinlogWithoutSuper: on a server with binary logging on and
// log_bin_trust_function_creators off, a user without SUPER can neither
// create nor drop a trigger (error 1419). The online expand creates
// triggers: a blocker, and the expand does fail so when run anyway; then
// the copy it left must be cleaned up, dropping its triggers, by any
// later run, offline too: a blocker for db sync as well. With
// log_bin_trust_function_creators on, as kolla-ansible sets it, nothing
// blocks. An offline sync of a clean database needs no trigger: nothing
// blocks, and it goes through.
func TestPreflightBinlogWithoutSuper(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.MySQL)
	upgrade(t, r.URL, "mitaka02")
	m := open(t, r.URLAs(testdb.NonSuperUser, testdb.NonSuperPassword))
	binlog := want{preflight.CheckBinlogTriggers, preflight.Blocker,
		[]string{"binary logging is on", "neither SUPER nor log_bin_trust_function_creators", "SET GLOBAL log_bin_trust_function_creators=1"}}
	expect(t, run(t, m, rolling), binlog)

	mustExec(t, r.SQL, "SET GLOBAL log_bin_trust_function_creators = 1")
	restored := false
	restore := func() {
		if !restored {
			restored = true
			mustExec(t, r.SQL, "SET GLOBAL log_bin_trust_function_creators = 0")
		}
	}
	t.Cleanup(restore)
	expect(t, run(t, m, rolling))
	restore()

	targets, _ := m.Graph().Resolve(m.ExpandHead())
	_, err := m.Migrator.Upgrade(ctx, targets, migrate.Options{Online: true})
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1419 {
		t.Errorf("online expand as %s without SUPER: %v; want error 1419", testdb.NonSuperUser, err)
	}
	expect(t, run(t, m, preflight.Options{}), binlog)

	// Expanded online by an administrator: the contract drops the
	// triggers, which this user cannot either (rebuilding in place, so
	// that no shadow copy's triggers are made).
	expanded := testdb.NewReplicated(t, testdb.MySQL)
	upgrade(t, expanded.URL, "mitaka02")
	root := open(t, expanded.URL)
	if _, err := root.Migrator.Upgrade(ctx, []string{root.ExpandHead()}, migrate.Options{Online: true}); err != nil {
		t.Fatal(err)
	}
	m = open(t, expanded.URLAs(testdb.NonSuperUser, testdb.NonSuperPassword))
	inPlace := rolling
	inPlace.InPlaceRebuild = true
	expect(t, run(t, m, inPlace), binlog)
	_, err = m.Migrator.Upgrade(ctx, []string{m.ContractHead()}, migrate.Options{Online: true, InPlaceRebuild: true})
	if !errors.As(err, &me) || me.Number != 1419 {
		t.Errorf("online contract as %s without SUPER: %v; want error 1419", testdb.NonSuperUser, err)
	}

	clean := testdb.NewReplicated(t, testdb.MySQL)
	upgrade(t, clean.URL, "mitaka02")
	m = open(t, clean.URLAs(testdb.NonSuperUser, testdb.NonSuperPassword))
	expect(t, run(t, m, preflight.Options{}))
	if _, err := m.Migrator.Upgrade(ctx, m.Graph().Heads(), migrate.Options{RunData: true}); err != nil {
		t.Errorf("offline sync as %s: %v", testdb.NonSuperUser, err)
	}
}

// TestPreflightBufferPool: images larger than the buffer pool, rebuilt
// in place (--in-place-rebuild), on the private primary with its pool
// shrunk for the test.
func TestPreflightBufferPool(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.MySQL)
	upgrade(t, r.URL, "mitaka02")
	mustExec(t, r.SQL, `INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected)
SELECT LPAD(seq, 36, '0'), REPEAT('x', 250), 'active', 1, '2016-01-01 00:00:00', 0, 0, 0, 0 FROM seq_1_to_40000`, "ANALYZE TABLE images")
	var pool int64
	if err := r.SQL.QueryRow("SELECT @@innodb_buffer_pool_size").Scan(&pool); err != nil {
		t.Fatal(err)
	}
	mustExec(t, r.SQL, "SET GLOBAL innodb_buffer_pool_size = 6291456")
	t.Cleanup(func() { mustExec(t, r.SQL, fmt.Sprintf("SET GLOBAL innodb_buffer_pool_size = %d", pool)) })
	waitFor(t, func() bool {
		var now int64
		return r.SQL.QueryRow("SELECT @@innodb_buffer_pool_size").Scan(&now) == nil && now < pool
	})
	m := open(t, r.URL)
	o := rolling
	o.InPlaceRebuild = true
	expect(t, run(t, m, o), want{preflight.CheckBufferPool, preflight.Warning,
		[]string{"rebuilds table images online", "6.0 MiB", "Raise innodb_buffer_pool_size"}})
	// A shadow copy does not replay the writes at its end: no warning.
	expect(t, run(t, m, rolling))
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting")
		}
	}
}

// TestPreflightDiskKnown: on a server of this host (the shared MariaDB)
// the free space of the data directory is read, as statfs tells it here.
func TestPreflightDiskKnown(t *testing.T) {
	db := testdb.New(t, testdb.MySQL)
	m := open(t, db.URL)
	d, err := m.Dialect.(dialect.DiskInspector).Disk(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	var datadir, name string
	if err := db.SQL.QueryRow("SELECT @@datadir, DATABASE()").Scan(&datadir, &name); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(datadir, name)
	free, err := dialect.FreeSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Known || d.Path != dir || d.Free <= 0 || d.Free > free+free/20 || d.Free < free-free/20 {
		t.Errorf("disk %+v; want %s with about %d bytes free", d, dir, free)
	}
}

// galeraNode opens node n's database as the CLI would.
func galeraNode(t *testing.T, g *testdb.Galera, n int) *glance.Manager {
	t.Helper()
	return open(t, g.URLs[n-1])
}

func setGlobal(t *testing.T, g *testdb.Galera, n int, set, undo string) {
	t.Helper()
	mustExec(t, g.SQL[n-1], set)
	t.Cleanup(func() { mustExec(t, g.SQL[n-1], undo) })
}

// TestPreflightGalera: a desynced node (a donor's state), RSU, a node cut
// off from the others (not ready, not Primary) and the cluster it left
// behind (fewer nodes than configured), each on a node of the private
// cluster, and undone.
func TestPreflightGalera(t *testing.T) {
	g := testdb.NewGalera(t)
	upgrade(t, g.URLs[0], "mitaka02")
	// Each node has applied the upgrade (g.SQL reads with
	// wsrep_sync_wait) before the plain pools of the checks read it.
	for n, p := range g.SQL {
		var rows int
		if err := p.QueryRow("SELECT COUNT(*) FROM alembic_version").Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("node %d: %d version rows, %v", n+1, rows, err)
		}
	}

	t.Run("clean", func(t *testing.T) {
		for n := range g.URLs {
			expect(t, run(t, galeraNode(t, g, n+1), rolling))
		}
	})
	t.Run("desynced", func(t *testing.T) {
		setGlobal(t, g, 2, "SET GLOBAL wsrep_desync = ON", "SET GLOBAL wsrep_desync = OFF")
		expect(t, run(t, galeraNode(t, g, 2), rolling), want{preflight.CheckGaleraNotSynced, preflight.Blocker,
			[]string{"Donor/Desynced, not Synced", "Synced node"}})
		expect(t, run(t, galeraNode(t, g, 1), rolling))
	})
	t.Run("RSU", func(t *testing.T) {
		// The tool's connections take the global value when they
		// connect: a new pool after the change.
		setGlobal(t, g, 2, "SET GLOBAL wsrep_OSU_method = 'RSU'", "SET GLOBAL wsrep_OSU_method = 'TOI'")
		expect(t, run(t, galeraNode(t, g, 2), rolling), want{preflight.CheckGaleraOSU, preflight.Blocker,
			[]string{"wsrep_OSU_method is RSU", "not replicate", "TOI"}})
	})
	t.Run("isolated", func(t *testing.T) {
		t.Cleanup(func() { waitSynced(t, g) }) // after the undo below
		setGlobal(t, g, 3, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'", "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
		waitFor(t, func() bool { return status(g, 3, "wsrep_cluster_status") == "non-Primary" })
		// Node 3 refuses to be read: the database is checked unchanged
		// through node 1.
		m1 := galeraNode(t, g, 1)
		before := state(t, m1)
		r, err := preflight.Run(ctx, galeraNode(t, g, 3), rolling)
		if err != nil {
			t.Fatal(err)
		}
		if after := state(t, m1); after != before {
			t.Errorf("preflight changed the database:\n%s", firstDiff(before, after))
		}
		expect(t, r,
			want{preflight.CheckGaleraNotReady, preflight.Blocker, []string{"not ready", "refuses queries"}},
			want{preflight.CheckGaleraNotPrimary, preflight.Blocker, []string{"not in the primary component", "quorum"}})
		waitFor(t, func() bool { return status(g, 1, "wsrep_cluster_size") == "2" })
		expect(t, run(t, galeraNode(t, g, 1), rolling), want{preflight.CheckGaleraSize, preflight.Warning,
			[]string{fmt.Sprintf("2 of the %d nodes", len(g.URLs))}})
	})
}

func status(g *testdb.Galera, n int, name string) string {
	var k, v string
	_ = g.SQL[n-1].QueryRow("SHOW STATUS LIKE '"+name+"'").Scan(&k, &v)
	return v
}

// waitSynced waits until every node is Synced in a cluster of all.
func waitSynced(t *testing.T, g *testdb.Galera) {
	t.Helper()
	want := fmt.Sprint(len(g.URLs))
	waitFor(t, func() bool {
		for n := range g.URLs {
			if status(g, n+1, "wsrep_local_state_comment") != "Synced" || status(g, n+1, "wsrep_cluster_size") != want {
				return false
			}
		}
		return true
	})
}

// TestPreflightReplicationSlot: a physical slot that nothing reads, on
// the private primary (made with its WAL reserved at once, and dropped);
// the standby's own slot is active and not reported.
func TestPreflightReplicationSlot(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.PostgreSQL)
	slot := strings.ReplaceAll(randomName(t), "-", "_")
	mustExec(t, r.SQL, "SELECT pg_create_physical_replication_slot('"+slot+"', true)")
	t.Cleanup(func() { mustExec(t, r.SQL, "SELECT pg_drop_replication_slot('"+slot+"')") })
	upgrade(t, r.URL, "mitaka02")
	expect(t, run(t, open(t, r.URL), rolling), want{preflight.CheckSlotInactive, preflight.Warning,
		[]string{"replication slot " + slot + " (physical) has no consumer", "drop the slot"}})
}

// TestPreflightLockTable: a server whose lock table is sized for fewer
// objects than the build of an empty database locks in its one
// transaction.
func TestPreflightLockTable(t *testing.T) {
	raw := testdb.StartPostgres(t, map[string]string{
		"max_connections": "5", "max_locks_per_transaction": "10", "autovacuum_max_workers": "1",
		"max_worker_processes": "0", "max_wal_senders": "0", "max_prepared_transactions": "0",
		"superuser_reserved_connections": "0",
	})
	m := open(t, raw)
	expect(t, run(t, m, rolling), want{preflight.CheckMaxLocks, preflight.Warning,
		[]string{"the build of the empty database locks about", "max_locks_per_transaction=10"}})
}
