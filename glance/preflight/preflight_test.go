package preflight_test

// Each finding is made on a real server by the real condition (a user
// without a privilege, a MyISAM table, a transaction left open on a
// second connection, a desynced Galera node, a slot nobody reads, ...),
// and every run is checked to have changed nothing: schema, rows and the
// migration lock's table.

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

var ctx = context.Background()

// open opens a Manager on an SQLAlchemy URL (a pool of its own, as the
// CLI's), closed when t ends.
func open(t *testing.T, raw string) *glance.Manager { return openTB(t, raw) }

func openTB(t testing.TB, raw string) *glance.Manager {
	t.Helper()
	u, err := dburl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := dburl.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := glance.New(db, u.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// upgrade brings the database at raw to rev (offline, as db upgrade
// without the online DDL).
func upgrade(t *testing.T, raw, rev string) { upgradeTB(t, raw, rev) }

func upgradeTB(t testing.TB, raw, rev string) {
	t.Helper()
	m := openTB(t, raw)
	targets, err := m.Graph().Resolve(rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrator.Upgrade(ctx, targets, migrate.Options{RunData: true}); err != nil {
		t.Fatalf("upgrade to %s: %v", rev, err)
	}
	m.DB.Close()
}

func mustExec(t *testing.T, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// state is what a preflight must leave as it was: the schema and rows
// (snapshot) and the migration lock's table (whether it exists, its
// rows' owners).
func state(t *testing.T, m *glance.Manager) string {
	t.Helper()
	s, err := snapshot.Take(ctx, m.DB, m.Dialect.Name())
	if err != nil {
		t.Fatal(err)
	}
	ok, err := m.Dialect.TableExists(ctx, m.DB, glance.Naming.LockTable())
	if err != nil {
		t.Fatal(err)
	}
	s += fmt.Sprintf("\nlock table exists: %v\n", ok)
	if ok {
		rows, err := m.DB.QueryContext(ctx, "SELECT name, owner, acquired FROM "+glance.Naming.LockTable()+" ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name, owner string
			var acquired int64
			if err := rows.Scan(&name, &owner, &acquired); err != nil {
				t.Fatal(err)
			}
			s += fmt.Sprintf("lock %s %s %d\n", name, owner, acquired)
		}
	}
	return s
}

// run runs the checks and fails t if they changed anything.
func run(t *testing.T, m *glance.Manager, o preflight.Options) *preflight.Report {
	t.Helper()
	before := state(t, m)
	r, err := preflight.Run(ctx, m, o)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if after := state(t, m); after != before {
		t.Errorf("preflight changed the database:\n%s", firstDiff(before, after))
	}
	return r
}

func firstDiff(want, got string) string { return glancetest.FirstDiff(want, got) }

// want is a finding a case expects: its check and severity, and words
// its message must contain.
type want struct {
	check string
	sev   preflight.Severity
	says  []string
}

func all(r *preflight.Report) []preflight.Finding {
	return slices.Concat(r.Blockers, r.Warnings, r.Notes)
}

func dump(r *preflight.Report) string {
	var b strings.Builder
	for _, f := range all(r) {
		fmt.Fprintf(&b, "  %s %s: %s\n", f.Severity, f.Check, f.Message)
	}
	return b.String()
}

// expect checks that r has each wanted finding and no other blocker or
// warning than those wanted (notes aside unless wanted).
func expect(t *testing.T, r *preflight.Report, wants ...want) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, f := range all(r) {
			if f.Check != w.check || f.Severity != w.sev {
				continue
			}
			found = true
			for _, s := range w.says {
				if !strings.Contains(f.Message, s) {
					t.Errorf("%s: message %q lacks %q", f.Check, f.Message, s)
				}
			}
			if f.Details == nil {
				t.Errorf("%s: no details", f.Check)
			}
		}
		if !found {
			t.Errorf("no %s %s; found:\n%s", w.sev, w.check, dump(r))
		}
	}
	for _, f := range slices.Concat(r.Blockers, r.Warnings) {
		if !slices.ContainsFunc(wants, func(w want) bool { return w.check == f.Check && w.sev == f.Severity }) {
			t.Errorf("unexpected %s %s: %s", f.Severity, f.Check, f.Message)
		}
	}
	if r.Blocked() != slices.ContainsFunc(wants, func(w want) bool { return w.sev == preflight.Blocker }) {
		t.Errorf("Blocked() = %v", r.Blocked())
	}
}

// rolling are the options of `db preflight`: the rolling phases.
var rolling = preflight.Options{Online: true, TransactionAge: time.Second}

// TestPreflightNothingFound: a database in each state this tool leaves,
// on every backend, has no finding; the phases checked are those left.
func TestPreflightNothingFound(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, c := range []struct {
			rev    string // "" empty
			phases []string
		}{
			{"", []string{"build"}},
			{"mitaka02", []string{"expand", "migrate", "contract"}},
			{"2024_1_expand01", []string{"migrate", "contract"}},
			{"heads", []string{}},
		} {
			t.Run(c.rev, func(t *testing.T) {
				db := testdb.New(t, b)
				if c.rev != "" {
					upgrade(t, db.URL, c.rev)
				}
				m := open(t, db.URL)
				for _, o := range []preflight.Options{rolling, {}, {Online: true, Before: true}} {
					r := run(t, m, o)
					expect(t, r)
					if !slices.Equal(r.Phases, c.phases) {
						t.Errorf("phases %v; want %v", r.Phases, c.phases)
					}
				}
			})
		}
	})
}

// urlAs returns raw with other credentials.
func urlAs(t *testing.T, raw, user, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// randomName is a fresh name for a user or role, dropped by the test.
func randomName(t *testing.T) string {
	return fmt.Sprintf("gmt_pf_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
}

// holdOpen opens a transaction on a second connection to m's database
// and runs stmts in it; the transaction stays open until t ends (or the
// returned function is called).
func holdOpen(t *testing.T, m *glance.Manager, stmts ...string) func() {
	t.Helper()
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		rows, err := tx.QueryContext(ctx, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		rows.Close()
	}
	done := false
	end := func() {
		if !done {
			done = true
			_ = tx.Rollback()
			conn.Close()
		}
	}
	t.Cleanup(end)
	return end
}

// TestPreflightFindings makes each condition on a real server and
// checks the finding, its severity and what it tells to do.
func TestPreflightFindings(t *testing.T) {
	type env struct {
		db *testdb.DB
		m  *glance.Manager // root's
	}
	cases := []struct {
		name     string
		backends []testdb.Backend
		// setup makes the condition and returns the Manager to check
		// with (nil: root's) and the options.
		setup func(t *testing.T, e env) (*glance.Manager, preflight.Options)
		wants []want
	}{
		{name: "revision newer than this tool", backends: testdb.All,
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "heads")
				mustExec(t, e.db.SQL, "UPDATE alembic_version SET version_num = '2099_1_contract01'")
				return nil, rolling
			},
			wants: []want{{preflight.CheckUnknownRevision, preflight.Blocker, []string{"2099_1_contract01", "newer release"}}}},
		{name: "newer revision before a command: the command refuses by itself", backends: testdb.All,
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "heads")
				mustExec(t, e.db.SQL, "UPDATE alembic_version SET version_num = '2099_1_contract01'")
				return nil, preflight.Options{Online: true, Before: true}
			}},
		{name: "migration lock held by another run", backends: testdb.All,
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				l := &migrate.Locker{DB: e.m.DB, Dialect: e.m.Dialect, Naming: glance.Naming, Holder: migrate.Holder{Host: "elsewhere", PID: 4242, Command: "db expand"}}
				lease, err := l.Acquire(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = lease.Release(ctx) })
				return nil, rolling
			},
			wants: []want{{preflight.CheckMigrationLock, preflight.Warning, []string{"db expand, pid 4242 on host elsewhere", "db lock show"}}}},
		{name: "user without TRIGGER", backends: []testdb.Backend{testdb.MySQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				user := randomName(t)
				mustExec(t, e.db.SQL, "CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw'",
					"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON `"+e.db.Name+"`.* TO '"+user+"'@'%'")
				t.Cleanup(func() { mustExec(t, e.db.SQL, "DROP USER '"+user+"'@'%'") })
				return open(t, urlAs(t, e.db.URL, user, "pw")), rolling
			},
			wants: []want{
				{preflight.CheckPrivileges, preflight.Blocker, []string{"TRIGGER on images", "Grant them"}},
				// Nor PROCESS: the server's transactions cannot be read.
				{preflight.CheckSessionsHidden, preflight.Note, []string{"PROCESS"}},
			}},
		{name: "role that owns no table", backends: []testdb.Backend{testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				role := randomName(t)
				mustExec(t, e.db.SQL, "CREATE ROLE "+role+" LOGIN",
					"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+role)
				t.Cleanup(func() {
					mustExec(t, e.db.SQL, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "+role, "DROP ROLE "+role)
				})
				return open(t, urlAs(t, e.db.URL, role, "")), rolling
			},
			wants: []want{{preflight.CheckPrivileges, preflight.Blocker, []string{"ALTER on images", "TRIGGER on images"}}}},
		{name: "another user's transaction, its state hidden", backends: []testdb.Backend{testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				role := randomName(t)
				mustExec(t, e.db.SQL, "CREATE ROLE "+role+" LOGIN", "GRANT ALL ON SCHEMA public TO "+role)
				for _, tbl := range mustTables(t, e.m) {
					mustExec(t, e.db.SQL, "ALTER TABLE "+tbl+" OWNER TO "+role)
				}
				t.Cleanup(func() {
					for _, tbl := range mustTables(t, e.m) {
						mustExec(t, e.db.SQL, "ALTER TABLE "+tbl+" OWNER TO postgres")
					}
					mustExec(t, e.db.SQL, "REVOKE ALL ON SCHEMA public FROM "+role, "DROP ROLE "+role)
				})
				holdOpen(t, e.m, "SELECT * FROM images FOR UPDATE")
				return open(t, urlAs(t, e.db.URL, role, "")), rolling
			},
			wants: []want{
				{preflight.CheckBlockingSession, preflight.Blocker, []string{"an unknown time", "holding locks on images", "pg_terminate_backend"}},
				{preflight.CheckSessionsHidden, preflight.Note, []string{"pg_read_all_stats"}},
			}},
		{name: "MyISAM images, online", backends: []testdb.Backend{testdb.MySQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				toMyISAM(t, e.db.SQL, "images")
				return nil, rolling
			},
			wants: []want{{preflight.CheckEngine, preflight.Blocker, []string{"MyISAM", "locks the whole table", "ALTER TABLE images ENGINE=InnoDB;"}}}},
		{name: "MyISAM images, offline (db sync)", backends: []testdb.Backend{testdb.MySQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				toMyISAM(t, e.db.SQL, "images")
				return nil, preflight.Options{}
			},
			wants: []want{{preflight.CheckEngine, preflight.Warning, []string{"MyISAM", "ALTER TABLE images ENGINE=InnoDB;"}}}},
		{name: "latin1 table", backends: []testdb.Backend{testdb.MySQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				mustExec(t, e.db.SQL, "ALTER TABLE image_tags DROP FOREIGN KEY image_tags_ibfk_1",
					"ALTER TABLE image_tags CONVERT TO CHARACTER SET latin1")
				return nil, rolling
			},
			wants: []want{{preflight.CheckCharset, preflight.Warning, []string{"table image_tags has character set latin1", "utf8mb3", "ALTER TABLE image_tags CONVERT TO CHARACTER SET utf8mb3"}}}},
		{name: "idle transaction holding a row lock", backends: []testdb.Backend{testdb.MySQL, testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				mustExec(t, e.db.SQL, "INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ('img', 'a', 'active', true, '2016-01-01 00:00:00', false, 0, 0, false)")
				holdOpen(t, e.m, "SELECT * FROM images WHERE id = 'img' FOR UPDATE")
				time.Sleep(1500 * time.Millisecond)
				return nil, rolling
			},
			wants: []want{{preflight.CheckBlockingSession, preflight.Blocker, []string{"has had a transaction open for", "End that session"}}}},
		{name: "idle transaction, phases that change no existing table", backends: []testdb.Backend{testdb.MySQL, testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "2023_1_contract01")
				holdOpen(t, e.m, "SELECT COUNT(*) FROM images")
				time.Sleep(1500 * time.Millisecond)
				return nil, rolling
			},
			wants: []want{{preflight.CheckIdleInTransaction, preflight.Warning, []string{"idle in an open transaction"}}}},
		{name: "idle transaction that locks no table", backends: []testdb.Backend{testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				holdOpen(t, e.m, "SELECT 1")
				time.Sleep(1500 * time.Millisecond)
				return nil, rolling
			},
			wants: []want{{preflight.CheckIdleInTransaction, preflight.Warning, []string{"idle in an open transaction", "pg_terminate_backend"}}}},
		{name: "long running transaction that locks no table", backends: []testdb.Backend{testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "mitaka02")
				conn, err := e.m.DB.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				go func() { _, _ = conn.ExecContext(ctx, "BEGIN; SELECT pg_sleep(4); COMMIT") }()
				t.Cleanup(func() { conn.Close() })
				time.Sleep(1500 * time.Millisecond)
				return nil, rolling
			},
			wants: []want{{preflight.CheckLongTransaction, preflight.Warning, []string{"has had a transaction open for"}}}},
		{name: "long running transaction, phases that change no existing table", backends: []testdb.Backend{testdb.MySQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				upgrade(t, e.db.URL, "2023_1_contract01")
				conn, err := e.m.DB.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				mustExec(t, conn, "BEGIN", "SELECT COUNT(*) FROM images")
				go func() { _, _ = conn.ExecContext(ctx, "SELECT SLEEP(4)") }()
				time.Sleep(1500 * time.Millisecond)
				return nil, rolling
			},
			wants: []want{{preflight.CheckLongTransaction, preflight.Warning, []string{"has had a transaction open for", "KILL"}}}},
		{name: "database not in UTF-8", backends: []testdb.Backend{testdb.PostgreSQL},
			setup: func(t *testing.T, e env) (*glance.Manager, preflight.Options) {
				name := randomName(t)
				mustExec(t, e.db.SQL, "CREATE DATABASE "+name+" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
				raw := strings.Replace(e.db.URL, "/"+e.db.Name, "/"+name, 1)
				m := open(t, raw)
				t.Cleanup(func() {
					m.DB.Close()
					mustExec(t, e.db.SQL, "DROP DATABASE "+name)
				})
				return m, rolling
			},
			wants: []want{{preflight.CheckEncoding, preflight.Warning, []string{"SQL_ASCII, not UTF8"}}}},
	}
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, c := range cases {
			if !slices.Contains(c.backends, b) {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				db := testdb.New(t, b)
				e := env{db: db, m: open(t, db.URL)}
				m, o := c.setup(t, e)
				if m == nil {
					m = e.m
				}
				expect(t, run(t, m, o), c.wants...)
			})
		}
	})
}

func mustTables(t *testing.T, m *glance.Manager) []string {
	t.Helper()
	tables, err := m.Dialect.Tables(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// toMyISAM converts table to MyISAM, dropping the foreign keys that
// reference it first (MyISAM has none, as in a database created so).
func toMyISAM(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT table_name, constraint_name FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE() AND referenced_table_name = ?", table)
	if err != nil {
		t.Fatal(err)
	}
	var drops []string
	for rows.Next() {
		var tbl, name string
		if err := rows.Scan(&tbl, &name); err != nil {
			t.Fatal(err)
		}
		drops = append(drops, "ALTER TABLE "+tbl+" DROP FOREIGN KEY "+name)
	}
	rows.Close()
	mustExec(t, db, append(drops, "ALTER TABLE "+table+" ENGINE=MyISAM")...)
}

// TestPreflightSQLiteDiskFull: a SQLite database in a file system with
// less free space than its file, which the rebuild of images copies.
func TestPreflightSQLiteDiskFull(t *testing.T) {
	dir := smallFS(t, 4<<20)
	db, err := testdb.Create(ctx, testdb.SQLite, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Destroy(ctx) })
	upgrade(t, db.URL, "mitaka02")
	m := open(t, db.URL)
	// About 2.5 MiB of images in a 4 MiB file system.
	mustExec(t, m.DB, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected)
SELECT printf('img-%05d', i), printf('%0500d', i), 'active', 1, '2016-01-01 00:00:00', 0, 0, 0, 0 FROM n`)
	expect(t, run(t, m, rolling), want{preflight.CheckDisk, preflight.Blocker, []string{"table images", dir}})
	// And the rebuild does fail there.
	targets, _ := m.Graph().Resolve("ocata_expand01")
	if _, err := m.Migrator.Upgrade(ctx, targets, migrate.Options{Online: true}); err == nil {
		t.Errorf("the rebuild of images went through with less free disk than the file's size")
	}
}

// smallFS mounts a tmpfs of size bytes for t (root only; elsewhere the
// test skips, and fails under CI=true, where it runs as root).
func smallFS(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if testdb.CI() {
			t.Fatal("CI=true: this test mounts a small file system and needs root")
		}
		t.Skip("mounting a small file system needs root")
	}
	dir, err := os.MkdirTemp("", "glance-manage-small-fs-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
		os.Remove(dir)
	})
	return filepath.Join(dir)
}
