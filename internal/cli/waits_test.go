package cli_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// running reports whether process pid still runs (and is not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// TestSQLiteWriteLockWait: another process (the sqlite3 shell) holds the
// SQLite database's write lock in a transaction it does not end. db sync
// says while it waits (the file, that the shell holds its write lock),
// gives up after --busy-timeout saying how long it waited and why (not the
// migration lock, which is free), and succeeds once the shell is gone.
// Before, it printed nothing for the whole wait and ended with "gave up
// waiting for the migration lock ... held by another run".
func TestSQLiteWriteLockWait(t *testing.T) {
	bin := buildTool(t)
	db := testdb.New(t, testdb.SQLite)
	if out := runTool(t, bin, db.URL, "db", "sync"); !strings.Contains(out, "Database is synced successfully.") {
		t.Fatalf("db sync: %s", out)
	}
	pid, release := testdb.HoldSQLiteWriteLock(t, db.Name)
	holder := "another connection (pid " + strconv.Itoa(pid) + ", sqlite3)"

	p := start(t, bin, db.URL, nil, "--busy-timeout", "3s", "--lock-timeout", "2s", "db", "sync")
	notice := p.waitLine(t, "WARNING: waiting for the write lock")
	if !running(p.cmd.Process.Pid) {
		t.Error("the notice came only as the run ended")
	}
	want := "WARNING: waiting for the write lock of the SQLite database " + db.Name + ": " + holder + " holds it, in a transaction that has not ended. Waiting up to 3s (--busy-timeout)."
	if notice != want {
		t.Errorf("notice:\n%s\nwant:\n%s", notice, want)
	}
	code, stderr := p.wait()
	errLines := errorLines(stderr)
	if code != 1 || len(errLines) != 1 {
		t.Fatalf("exit %d, want 1 and one error line:\n%s", code, stderr)
	}
	// The time waited, at least the bound (more on a busy machine).
	re := regexp.MustCompile(`^ERROR: gave up after (3|3\.\d|4)s waiting for the write lock of the SQLite database ` + regexp.QuoteMeta(db.Name+" (--busy-timeout 3s): "+holder+" holds it"))
	if !re.MatchString(errLines[0]) {
		t.Errorf("error line does not match %s:\n%s", re, errLines[0])
	}
	for _, w := range []string{"not the migration lock", "run `glance-manage db sync` again"} {
		if !strings.Contains(errLines[0], w) {
			t.Errorf("error line lacks %q:\n%s", w, errLines[0])
		}
	}
	if strings.Contains(stderr, "held by another run") || strings.Contains(stderr, "waiting for the migration lock") {
		t.Errorf("blames the migration lock:\n%s", stderr)
	}
	if out := runTool(t, bin, db.URL, "db", "lock", "show"); !strings.Contains(out, "The migration lock is free.") {
		t.Errorf("db lock show: %s", out)
	}

	release()
	if out := runTool(t, bin, db.URL, "db", "sync"); !strings.Contains(out, "Database is up to date") || strings.Contains(out, "WARNING") {
		t.Errorf("db sync once the shell is gone: %s", out)
	}
}

// holdImages opens a transaction on a second connection that reads images
// and keeps it open (as a forgotten session would): every DDL on images
// waits for it. It returns the session's id (MySQL connection id,
// PostgreSQL backend pid) and a function that ends the transaction.
func holdImages(t *testing.T, db *testdb.DB) (id int64, release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT CONNECTION_ID()"
	if db.Backend == testdb.PostgreSQL {
		q = "SELECT pg_backend_pid()"
	}
	if err := conn.QueryRowContext(ctx, q).Scan(&id); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM images").Scan(&n); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback()
			conn.Close()
		}
	}
	t.Cleanup(release)
	return id, release
}

// TestDDLWaitBounded: an online revision whose ALTER TABLE waits behind a
// transaction left open on images reports each retry on one line
// (revision, statement, what it waited for, attempt, next try), gives up
// after --ddl-wait in all, and says how long it tried, which session is in
// the way (its id, user, state, how long its transaction has been open),
// how to end it, and where the database is. Before, it retried 31 times
// over minutes and ended with "Error 1205" alone.
func TestDDLWaitBounded(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			db := testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			id, release := holdImages(t, db)

			_, stderr, code := runCLI(t, db.URL, "--ddl-wait", "5s", "db", "expand")
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, stderr)
			}
			waited := map[testdb.Backend]string{testdb.MySQL: "a metadata lock", testdb.PostgreSQL: "a lock"}[b]
			var retries int
			for _, l := range strings.Split(stderr, "\n") {
				if !strings.HasPrefix(l, "WARNING: revision ocata_expand01:") {
					continue
				}
				retries++
				for _, w := range []string{"ALTER TABLE images could not get " + waited + " on images in time (another session holds one): attempt " + strconv.Itoa(retries+1) + " in ",
					"; trying for at most 5s (--ddl-wait), "} {
					if !strings.Contains(l, w) {
						t.Errorf("retry line lacks %q:\n%s", w, l)
					}
				}
			}
			if retries == 0 {
				t.Fatalf("no retry reported:\n%s", stderr)
			}
			lines := errorLines(stderr)
			if len(lines) != 1 {
				t.Fatalf("want one error line:\n%s", stderr)
			}
			t.Logf("%s", stderr)
			end := map[testdb.Backend]string{testdb.MySQL: "KILL %d", testdb.PostgreSQL: "SELECT pg_terminate_backend(%d)"}[b]
			user := map[testdb.Backend]string{testdb.MySQL: "user root", testdb.PostgreSQL: "user postgres"}[b]
			state := map[testdb.Backend]string{testdb.MySQL: "Sleep", testdb.PostgreSQL: "idle in transaction"}[b]
			// Both run ocata_expand01 in several transactions online
			// (PostgreSQL builds an index concurrently).
			kept := map[testdb.Backend]string{
				testdb.MySQL:      "On MySQL/MariaDB every DDL statement commits at once: what ocata_expand01 did before that statement is kept (columns, indexes, triggers, a shadow copy of a table), the database is at revision(s) mitaka02, and the next run skips what is done.",
				testdb.PostgreSQL: "ocata_expand01 runs in several transactions here (an index built concurrently, a NOT NULL checked outside the transaction): those that committed are kept, the database is at revision(s) mitaka02, and the next run skips what is done.",
			}[b]
			for _, w := range []string{
				"ERROR: revision ocata_expand01: ALTER TABLE images could not get " + waited + " on images: gave up after " + strconv.Itoa(retries+1) + " attempt(s) in ",
				"(--ddl-wait 5s).",
				fmt.Sprintf("session %d (%s, ", id, user), state, "transaction open ", "end it with `" + fmt.Sprintf(end, id) + "`",
				kept, "End that session (or its transaction), or run `glance-manage db expand` again later.",
			} {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error line lacks %q:\n%s", w, lines[0])
				}
			}
			if strings.Contains(stderr, "ERROR: Error 1205") {
				t.Errorf("the server's error alone:\n%s", stderr)
			}

			release()
			mustCLI(t, db.URL, "db", "expand")
		})
	}
}

// killWaiting ends the session of database db that runs a statement
// starting with stmt (the tool's, waiting behind a held lock), as an
// administrator would: MySQL KILL, PostgreSQL pg_terminate_backend. It
// returns the session's id.
func killWaiting(t *testing.T, db *testdb.DB, stmt string, p *proc) int64 {
	t.Helper()
	ctx := context.Background()
	find := `SELECT ID FROM information_schema.PROCESSLIST
		WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE CONCAT(?, '%') LIMIT 1`
	kill := "KILL %d"
	if db.Backend == testdb.PostgreSQL {
		find = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $2 || '%' LIMIT 1"
		kill = "SELECT pg_terminate_backend(%d)"
	}
	for {
		select {
		case l, ok := <-p.stderr:
			if !ok {
				t.Fatalf("the run ended before its session could be killed:\n%s", strings.Join(p.lines, "\n"))
			}
			p.lines = append(p.lines, l)
		default:
		}
		var id int64
		err := db.SQL.QueryRowContext(ctx, find, db.Name, stmt).Scan(&id)
		if err == nil {
			if _, err := db.SQL.ExecContext(ctx, fmt.Sprintf(kill, id)); err != nil {
				t.Fatal(err)
			}
			return id
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServerDropsConnection: the tool's session is killed by an
// administrator while it waits (a DDL of a revision, a data-migration
// batch). The error says that the server closed or dropped the
// connection, where the run stopped (revision, batch) and to run the
// same command again, which then finishes; the MySQL driver's own log
// lines ("[mysql] ... packets.go:58 unexpected EOF") do not reach the
// terminal.
func TestServerDropsConnection(t *testing.T) {
	bin := buildTool(t)
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b)+"/revision", func(t *testing.T) {
			db := testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			_, release := holdImages(t, db)
			p := start(t, bin, db.URL, nil, "--ddl-wait", "5m", "db", "expand")
			killWaiting(t, db, "ALTER TABLE images", p)
			code, stderr := p.wait()
			release()
			assertDropped(t, code, stderr, "while revision ocata_expand01 ran (add column images.visibility)", "db expand")
			if out := runTool(t, bin, db.URL, "db", "expand"); !strings.Contains(out, "Upgraded database to: 2024_1_expand01") {
				t.Fatalf("db expand again: %s", out)
			}
		})
		t.Run(string(b)+"/data migration batch", func(t *testing.T) {
			db := testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			for _, id := range []string{"a", "b", "c"} {
				if _, err := db.SQL.Exec(fmt.Sprintf("INSERT INTO images (id, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ('%s', 'active', %s, CURRENT_TIMESTAMP, %s, 0, 0, %s)",
					id, boolLit(b, true), boolLit(b, false), boolLit(b, false))); err != nil {
					t.Fatal(err)
				}
			}
			mustCLI(t, db.URL, "db", "expand")
			// A row lock on one image: the batch that updates it waits.
			tx, err := db.SQL.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // ends the hold
			if _, err := tx.Exec("UPDATE images SET min_ram = 1 WHERE id = 'b'"); err != nil {
				t.Fatal(err)
			}
			p := start(t, bin, db.URL, nil, "db", "migrate")
			killWaiting(t, db, "UPDATE images SET visibility", p)
			code, stderr := p.wait()
			_ = tx.Rollback()
			assertDropped(t, code, stderr, "in batch 1 of data migration ocata_migrate01_community_images", "db migrate")
			if out := runTool(t, bin, db.URL, "db", "migrate"); !strings.Contains(out, "Migrated 3 rows") {
				t.Fatalf("db migrate again: %s", out)
			}
		})
	}
}

func assertDropped(t *testing.T, code int, stderr, where, command string) {
	t.Helper()
	lines := errorLines(stderr)
	if code != 1 || len(lines) != 1 {
		t.Fatalf("exit %d, want 1 and one error line:\n%s", code, stderr)
	}
	for _, w := range []string{"ERROR: the database server closed or dropped the connection", where, "run `glance-manage " + command + "` again"} {
		if !strings.Contains(lines[0], w) {
			t.Errorf("error line lacks %q:\n%s", w, lines[0])
		}
	}
	if strings.Contains(stderr, "[mysql]") || strings.Contains(stderr, "packets.go") {
		t.Errorf("the driver's log reached stderr:\n%s", stderr)
	}
	t.Logf("%s", lines[0])
}

// envMDL names a MySQL/MariaDB server that keeps count of metadata locks
// (tools/mariadb/mdl.sh starts one; .ci/run does).
const envMDL = "GLANCE_TEST_MYSQL_MDL_URL"

// TestDDLWaitNamesLockHolder: where the server keeps count of metadata
// locks (MariaDB's METADATA_LOCK_INFO plugin; performance_schema with its
// metadata-lock instrument, as MySQL has by default), the error names the
// session that holds the lock on images, and not another session with a
// transaction open on another table.
func TestDDLWaitNamesLockHolder(t *testing.T) {
	raw := os.Getenv(envMDL)
	if raw == "" {
		msg := envMDL + " is not set (tools/mariadb/mdl.sh start prints a URL)"
		if testdb.CI() {
			t.Fatal(msg + " (CI=true: every suite must run)")
		}
		t.Skip(msg)
	}
	t.Setenv(testdb.EnvMySQL, raw)
	for _, source := range []string{"METADATA_LOCK_INFO", "performance_schema"} {
		t.Run(source, func(t *testing.T) {
			db := testdb.New(t, testdb.MySQL)
			if source == "METADATA_LOCK_INFO" {
				// Only the plugin counts them.
				const instrument = "UPDATE performance_schema.setup_instruments SET ENABLED = '%s' WHERE NAME = 'wait/lock/metadata/sql/mdl'"
				if _, err := db.SQL.Exec(fmt.Sprintf(instrument, "NO")); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _, _ = db.SQL.Exec(fmt.Sprintf(instrument, "YES")) })
			}
			if source == "performance_schema" {
				// Without the plugin, performance_schema is asked.
				if _, err := db.SQL.Exec("UNINSTALL SONAME 'metadata_lock_info'"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _, _ = db.SQL.Exec("INSTALL SONAME 'metadata_lock_info'") })
			}
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			holder, _ := holdImages(t, db)
			// Another session with a transaction open, on another table.
			other, err := db.SQL.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer other.Rollback() //nolint:errcheck // ends it
			var otherID int64
			if err := other.QueryRow("SELECT CONNECTION_ID()").Scan(&otherID); err != nil {
				t.Fatal(err)
			}
			if _, err := other.Exec("SELECT COUNT(*) FROM tasks"); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runCLI(t, db.URL, "--ddl-wait", "2s", "db", "expand")
			lines := errorLines(stderr)
			if code != 1 || len(lines) != 1 {
				t.Fatalf("exit %d, want 1 and one error line:\n%s", code, stderr)
			}
			if want := fmt.Sprintf("In the way: session %d (user root, ", holder); !strings.Contains(lines[0], want) {
				t.Errorf("error line lacks %q:\n%s", want, lines[0])
			}
			if strings.Contains(lines[0], fmt.Sprintf("session %d ", otherID)) || strings.Contains(lines[0], "does not say") {
				t.Errorf("names a session that holds no lock on images:\n%s", lines[0])
			}
		})
	}
}
