package cli_test

// db preflight on the command line, and the same checks at the start of
// db expand, db contract, db sync and db upgrade: exit codes, the text
// and JSON output, a refusal in one line that names the check and
// --skip-preflight, warnings that let the run go on, and nothing changed.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// preflightJSON is the shape of `db preflight --format json`.
type preflightJSON struct {
	Phases   []string `json:"phases"`
	Blockers []struct {
		Check   string         `json:"check"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"blockers"`
	Warnings []json.RawMessage `json:"warnings"`
	Notes    []json.RawMessage `json:"notes"`
}

// lockTableState says whether the migration lock's table exists and
// what it holds.
func lockTableState(t *testing.T, db *testdb.DB) string {
	t.Helper()
	var q string
	switch db.Backend {
	case testdb.SQLite:
		q = "SELECT COUNT(*) FROM sqlite_master WHERE name = '" + glance.Naming.LockTable() + "'"
	case testdb.MySQL:
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '" + glance.Naming.LockTable() + "'"
	default:
		q = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '" + glance.Naming.LockTable() + "'"
	}
	var n int
	if err := db.SQL.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return "no lock table"
	}
	var rows int
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM " + glance.Naming.LockTable()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("lock table with %d row(s)", rows)
}

// TestPreflightCommand: db preflight on every backend, in each state:
// nothing found (exit 0, the line that says so), a blocker (exit 6,
// BLOCKER:), JSON with typed findings; it changes nothing, the lock table
// included (it takes no lock).
func TestPreflightCommand(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		check := func(wantCode int, args ...string) string {
			t.Helper()
			before, lockBefore := state(t, db), lockTableState(t, db)
			out, errs, code := hostileRun(t, db.URL, append([]string{"db", "preflight"}, args...)...)
			if code != wantCode {
				t.Fatalf("db preflight %v: exit %d, want %d\n%s%s", args, code, wantCode, out, errs)
			}
			if after, lockAfter := state(t, db), lockTableState(t, db); after != before || lockAfter != lockBefore {
				t.Errorf("db preflight changed the database (%s, then %s):\n%s", lockBefore, lockAfter, firstLineDiff(before, after))
			}
			return out
		}
		if out := check(0); out != "Preflight: no problems found for the phases still to run (build).\n" {
			t.Errorf("empty database: %q", out)
		}
		hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
		if out := check(0); out != "Preflight: no problems found for the phases still to run (expand, migrate, contract).\n" {
			t.Errorf("at mitaka02: %q", out)
		}
		var r preflightJSON
		if err := json.Unmarshal([]byte(check(0, "--format", "json")), &r); err != nil {
			t.Fatal(err)
		}
		if r.Blockers == nil || r.Warnings == nil || r.Notes == nil || strings.Join(r.Phases, ",") != "expand,migrate,contract" {
			t.Errorf("JSON: %+v", r)
		}
		hostileMust(t, db.URL, "db", "sync")
		if out := check(0); out != "Nothing to check: the database is up to date, no phase is left to run.\n" {
			t.Errorf("at head: %q", out)
		}
		if _, err := db.SQL.Exec("UPDATE alembic_version SET version_num = '2099_1_contract01'"); err != nil {
			t.Fatal(err)
		}
		out := check(6)
		if !strings.HasPrefix(out, "BLOCKER: the database is at revision(s) 2099_1_contract01") || !strings.Contains(out, "Fix the blockers") {
			t.Errorf("newer revision: %q", out)
		}
		r = preflightJSON{}
		if err := json.Unmarshal([]byte(check(6, "--format", "json")), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Blockers) != 1 || r.Blockers[0].Check != "unknown_revision" || fmt.Sprint(r.Blockers[0].Details["rows"]) != "[2099_1_contract01]" {
			t.Errorf("JSON: %+v", r)
		}
		if _, errs, code := hostileRun(t, db.URL, "db", "preflight", "--format", "xml"); code != 2 || !strings.Contains(errs, "--format") {
			t.Errorf("--format xml: exit %d, %q", code, errs)
		}
	})
}

// errorLine returns stderr's one line that is not a log line (failing t
// if there is not exactly one).
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	lines := errorLines(stderr)
	if len(lines) != 1 {
		t.Fatalf("want one error line, got %q", lines)
	}
	return lines[0]
}

// TestPreflightRefusesPhases: db expand, db contract, db sync and db
// upgrade check first; a blocker stops them before anything changes,
// with one line naming the check and --skip-preflight; --skip-preflight
// runs them anyway; a warning is printed and the run goes on.
func TestPreflightRefusesPhases(t *testing.T) {
	db := testdb.New(t, testdb.MySQL)
	hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
	// MyISAM images: every online change of it locks the whole table.
	rows, err := db.SQL.Query("SELECT table_name, constraint_name FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE() AND referenced_table_name = 'images'")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for rows.Next() {
		var tbl, name string
		if err := rows.Scan(&tbl, &name); err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, "ALTER TABLE "+tbl+" DROP FOREIGN KEY "+name)
	}
	rows.Close()
	for _, s := range append(stmts, "ALTER TABLE images ENGINE=MyISAM") {
		if _, err := db.SQL.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range [][]string{{"db", "expand"}, {"db", "upgrade"}, {"db", "upgrade", "ocata_expand01"}, {"db_expand"}, {"db_upgrade", "heads"}} {
		before, lockBefore := state(t, db), lockTableState(t, db)
		_, errs, code := hostileRun(t, db.URL, cmd...)
		if code != 6 {
			t.Fatalf("%v: exit %d, want 6\n%s", cmd, code, errs)
		}
		line := errorLine(t, errs)
		name := cmd[0]
		if name == "db" {
			name += " " + cmd[1]
		}
		for _, w := range []string{"ERROR: glance-manage " + name + " did not start", "non_transactional_table", "ALTER TABLE images ENGINE=InnoDB;", "Nothing was changed", "--skip-preflight"} {
			if !strings.Contains(line, w) {
				t.Errorf("%v: %q lacks %q", cmd, line, w)
			}
		}
		if after, lockAfter := state(t, db), lockTableState(t, db); after != before || lockAfter != lockBefore {
			t.Errorf("%v changed the database:\n%s", cmd, firstLineDiff(before, after))
		}
	}
	// Offline (services stopped) it is a warning: db sync goes on.
	out, errs, code := hostileRun(t, db.URL, "db", "sync")
	if code != 0 || !strings.Contains(errs, "WARNING: table images uses the MyISAM engine") || !strings.Contains(out, "Database is synced successfully.") {
		t.Errorf("db sync: exit %d\n%s%s", code, out, errs)
	}
}

// TestPreflightSkip: --skip-preflight runs a phase the checks refuse, and
// the phase then fails the way the check said: the online expand as a
// user without SUPER on a server with binary logging (error 1419).
func TestPreflightSkip(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.MySQL)
	hostileMust(t, r.URL, "db", "upgrade", "mitaka02")
	url := r.URLAs(testdb.NonSuperUser, testdb.NonSuperPassword)
	_, errs, code := hostileRun(t, url, "db", "expand")
	if line := errorLine(t, errs); code != 6 || !strings.Contains(line, "binlog_trigger_privilege") || !strings.Contains(line, "--skip-preflight") {
		t.Errorf("db expand: exit %d, %q", code, line)
	}
	if strings.Contains(errs, testdb.NonSuperPassword) {
		t.Errorf("the password is shown: %s", errs)
	}
	_, errs, code = hostileRun(t, url, "db", "expand", "--skip-preflight")
	if line := errorLine(t, errs); code != 1 || !strings.Contains(line, "1419") {
		t.Errorf("db expand --skip-preflight: exit %d, %q", code, line)
	}
	// The copy it left is removed by the next run, dropping its
	// triggers, which the server refuses too: db sync is refused as well.
	_, errs, code = hostileRun(t, url, "db", "sync")
	if line := errorLine(t, errs); code != 6 || !strings.Contains(line, "binlog_trigger_privilege") {
		t.Errorf("db sync after the failed expand: exit %d, %q", code, line)
	}
}

// unprivileged runs cmd as the user nobody when this process is root
// (root ignores file permissions), with runuser.
func unprivileged(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Fatalf("runuser is needed to run as an unprivileged user: %v", err)
	}
	cmd.Args = append([]string{runuser, "-u", "nobody", "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = runuser
}

// TestPreflightSQLiteReadOnly: a SQLite database whose directory, or
// file, this user may not write, run as an unprivileged user (as root,
// permissions would not apply): db preflight finds the blocker, and the
// phases refuse to start with it, naming the directory or the file.
func TestPreflightSQLiteReadOnly(t *testing.T) {
	bin := buildTool(t)
	// A place nobody can reach: the binary and the database's directory.
	top, err := os.MkdirTemp("", "glance-manage-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Chmod(filepath.Join(top, "db"), 0o755)
		os.RemoveAll(top)
	})
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(top, "glance-manage")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tool, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "glance.db")
	url := "sqlite:///" + file
	hostileMust(t, url, "db", "upgrade", "mitaka02")
	glanceRun := func(args ...string) (string, string, int) {
		cmd := exec.Command(tool, args...)
		cmd.Env = []string{"OS_DATABASE__CONNECTION=" + url, "HOME=" + top, "PATH=/usr/bin:/bin"}
		unprivileged(t, cmd)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	for _, c := range []struct {
		name        string
		file, dir   os.FileMode
		check, path string
	}{
		{"read-only directory", 0o666, 0o555, "sqlite_directory_not_writable", dir},
		{"read-only file", 0o444, 0o777, "sqlite_file_not_writable", file},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.Chmod(file, c.file); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.dir); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(dir, 0o755)
			before, _ := os.ReadFile(file)
			out, errs, code := glanceRun("db", "preflight")
			if code != 6 || !strings.HasPrefix(out, "BLOCKER: ") || !strings.Contains(out, c.path+" ") || !strings.Contains(out, "not writable") {
				t.Errorf("db preflight: exit %d\n%s%s", code, out, errs)
			}
			for _, cmd := range [][]string{{"db", "sync"}, {"db", "expand"}} {
				out, errs, code := glanceRun(cmd...)
				line := ""
				if l := errorLines(errs); len(l) == 1 {
					line = l[0]
				}
				if code != 6 || !strings.Contains(line, c.check) || !strings.Contains(line, c.path) || !strings.Contains(line, "writable") || !strings.Contains(line, "--skip-preflight") {
					t.Errorf("%v: exit %d, want 6 and one line naming %s and %s\n%s%s", cmd, code, c.check, c.path, out, errs)
				}
			}
			if after, _ := os.ReadFile(file); string(after) != string(before) {
				t.Errorf("the database file changed")
			}
		})
	}
}

// TestPreflightWaitsForAnotherRun: while another glance-manage run holds
// the migration lock, its own transaction (PostgreSQL: a revision's,
// holding images) is not a session to end: the checks are made again
// once this run has the lock, when the other run is over.
func TestPreflightWaitsForAnotherRun(t *testing.T) {
	bin := buildTool(t)
	// A crash point where the online expand has altered images in a
	// revision's transaction and not committed it yet (rocky_expand02
	// adds two columns): from the trace of a run on another database.
	probe := testdb.New(t, testdb.PostgreSQL)
	hostileMust(t, probe.URL, "db", "upgrade", "mitaka02")
	trace := filepath.Join(t.TempDir(), "trace")
	c := exec.Command(bin, "db", "expand")
	c.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+probe.URL, "GLANCE_MANAGE_CRASH_TRACE="+trace)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("traced db expand: %v\n%s", err, out)
	}
	lines, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	point := 0
	prev := []string{}
	for _, l := range strings.Split(string(lines), "\n") {
		f := strings.SplitN(l, "\t", 3)
		if len(f) == 3 && len(prev) == 3 && point == 0 && f[1] == prev[1] &&
			strings.Contains(prev[2], "ALTER TABLE images ADD COLUMN") && strings.Contains(f[2], "ALTER TABLE images ADD COLUMN") {
			point, _ = strconv.Atoi(f[0])
		}
		prev = f
	}
	if point == 0 {
		t.Fatalf("no two additions of columns to images in one revision in the trace:\n%s", lines)
	}

	db := testdb.New(t, testdb.PostgreSQL)
	hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
	dir := t.TempDir()
	first := start(t, bin, db.URL, pauseEnv(dir, point), "db", "expand")
	t.Cleanup(func() { _ = first.cmd.Process.Kill() })
	waitFile(t, filepath.Join(dir, "paused"))
	time.Sleep(preflight.DefaultTransactionAge + time.Second)
	if out, _, code := hostileRun(t, db.URL, "db", "preflight"); code != 6 || !strings.Contains(out, "holding locks on images") {
		t.Fatalf("db preflight while the other run holds images: exit %d\n%s\n%s", code, out, lines)
	}
	second := start(t, bin, db.URL, nil, "--lock-timeout", "-1", "db", "expand")
	second.waitLine(t, "Waiting for the migration lock")
	if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stderr := first.wait(); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	code, stderr := second.wait()
	if code != 0 || !strings.Contains(second.stdout.String(), "up to date") || strings.Contains(stderr, "session") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, second.stdout.String(), stderr)
	}
}

// TestPreflightDiskUnseen: a process that cannot see the server's data
// directory (here: run in a mount namespace of its own with a tmpfs over
// it, as a container would not see the server's files) cannot check the
// free disk for the copy of images: a note that says so and what to
// check, and nothing blocks.
func TestPreflightDiskUnseen(t *testing.T) {
	if os.Geteuid() != 0 {
		if testdb.CI() {
			t.Fatal("CI=true: this test makes a mount namespace and needs root")
		}
		t.Skip("a mount namespace needs root")
	}
	bin := buildTool(t)
	db := testdb.New(t, testdb.MySQL)
	hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
	var datadir string
	if err := db.SQL.QueryRow("SELECT @@datadir").Scan(&datadir); err != nil {
		t.Fatal(err)
	}
	run := func(hide bool) (string, int) {
		script := `exec "$0" db preflight`
		if hide {
			script = `mount -t tmpfs tmpfs "$1" && ` + script
		}
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, bin, datadir)
		cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+db.URL)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run(false); code != 0 || strings.Contains(out, "NOTE") {
		t.Errorf("seeing the data directory: exit %d\n%s", code, out)
	}
	out, code := run(true)
	if code != 0 || !strings.Contains(out, "NOTE: the phases write a new copy of table images") || !strings.Contains(out, "cannot be checked from here") || !strings.Contains(out, datadir) {
		t.Errorf("not seeing it: exit %d\n%s", code, out)
	}
}
