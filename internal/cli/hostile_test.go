package cli_test

// Hostile and broken input: every case must end with a non-zero exit, one
// clear error line (log lines aside), no password anywhere in the output,
// and the database exactly as it was before (schema, rows, version).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/cli"
	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// hostileRun runs the CLI with OS_DATABASE__CONNECTION=url (unless url is
// "") and HOME pointing to an empty directory, so that no default config
// file is read.
func hostileRun(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home := t.TempDir()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		switch k {
		case "OS_DATABASE__CONNECTION":
			return url
		case "HOME":
			return home
		}
		return ""
	}})
	return out.String(), errb.String(), code
}

func hostileMust(t *testing.T, url string, args ...string) {
	t.Helper()
	if out, errs, code := hostileRun(t, url, args...); code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
}

// errorLines are the lines of stderr that are not logs.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if l == "" || strings.HasPrefix(l, "Run '") || strings.HasPrefix(l, "INFO ") || strings.HasPrefix(l, "WARNING") || strings.HasPrefix(l, "DEBUG") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func state(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := snapshot.Take(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	// The lock table's rows name processes; it is bookkeeping, and
	// schemadump already leaves the table out.
	var b strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, "rows ") {
			skip = strings.HasPrefix(line, "rows "+glance.Naming.LockTable()+" ")
		}
		if !skip {
			b.WriteString(line)
		}
	}
	return b.String()
}

// noEnv as a case's URL: no OS_DATABASE__CONNECTION (the config files say).
const noEnv = "-"

type hostileCase struct {
	name string
	// setup prepares db (nil: empty) and returns the arguments, the URL
	// to use ("" keeps db.URL) and the secrets that must not be printed.
	setup func(t *testing.T, db *testdb.DB) (args []string, url string, secrets []string)
	// want is a substring of the error line; "{dir}" stands for the
	// directory of the SQLite database.
	want string
	// all: run on every backend (otherwise SQLite only).
	all bool
	// unprivileged: run the built binary as a user without privileges
	// (nobody, when the tests run as root: root reads and writes every
	// file); the case's files must be reachable by it (testdb.Reachable).
	unprivileged bool
}

// runUnprivileged runs the built binary as hostileRun runs the CLI, as
// nobody when the tests run as root.
func runUnprivileged(t *testing.T, bin, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home := t.TempDir()
	testdb.Reachable(t, home)
	argv := append(testdb.Unprivileged(t), bin)
	cmd := exec.Command(argv[0], append(argv[1:], args...)...)
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	if url != "" {
		cmd.Env = append(cmd.Env, "OS_DATABASE__CONNECTION="+url)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// reachableTool builds the binary where an unprivileged user can run it.
func reachableTool(t *testing.T) string {
	t.Helper()
	bin := buildTool(t)
	testdb.Reachable(t, bin)
	return bin
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func args(a ...string) func(*testing.T, *testdb.DB) ([]string, string, []string) {
	return func(*testing.T, *testdb.DB) ([]string, string, []string) { return a, "", nil }
}

// synced brings db to rev and then runs tamper statements.
func synced(rev string, tamper []string, a ...string) func(*testing.T, *testdb.DB) ([]string, string, []string) {
	return func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
		hostileMust(t, db.URL, "db", "upgrade", rev)
		for _, q := range tamper {
			if _, err := db.SQL.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return a, "", nil
	}
}

func TestHostileInput(t *testing.T) {
	const pw = "p@ss/w%rd-é-Secr3t"
	const pwEnc = "p%40ss%2Fw%25rd-%C3%A9-Secr3t"
	cases := []hostileCase{
		// Argument combinations upstream refuses.
		{name: "too many arguments", setup: args("db", "sync", "a", "b"), want: "error"},
		{name: "version given twice", setup: args("db", "upgrade", "--version", "pike_expand01", "ocata_expand01"), want: "given twice"},
		{name: "version_control twice", setup: args("db", "version_control", "--version", "liberty", "mitaka01"), want: "given twice"},
		{name: "unknown action", setup: args("db", "frobnicate"), want: "invalid choice"},
		{name: "db_purge is not upstream's", setup: args("db_purge"), want: "error"},
		{name: "global option after the command", setup: args("db", "sync", "--config-file", "x.conf"), want: "x.conf"},
		{name: "bad int option", setup: args("db", "purge", "--age_in_days", "x"), want: "invalid int value"},
		{name: "bad max rows", setup: args("db", "migrate", "--max-rows", "lots"), want: "error"},
		{name: "bad lock timeout", setup: args("--lock-timeout", "banana", "db", "sync"), want: "--lock-timeout"},
		{name: "bad format", setup: args("db", "check", "--format", "xml"), want: "--format"},
		{name: "unknown revision", setup: args("db", "upgrade", "no_such_revision"), want: "unknown revision", all: true},
		{name: "downgrade", setup: synced("pike_expand01", nil, "db", "upgrade", "mitaka01"), want: "does not downgrade", all: true},

		// URLs with hostile passwords: nothing is printed of them.
		{name: "password with % @ / and non-ASCII, unreachable server", setup: func(*testing.T, *testdb.DB) ([]string, string, []string) {
			return []string{"db", "sync"}, "mysql+pymysql://glance:" + pwEnc + "@127.0.0.1:1/glance", []string{pw, pwEnc, "Secr3t"}
		}, want: "cannot open"},
		{name: "password in a postgresql URL, unreachable", setup: func(*testing.T, *testdb.DB) ([]string, string, []string) {
			return []string{"db", "version"}, "postgresql://glance:" + pwEnc + "@127.0.0.1:1/glance?connect_timeout=2", []string{pw, pwEnc, "Secr3t"}
		}, want: "cannot open"},
		{name: "unescaped @ in the password", setup: func(*testing.T, *testdb.DB) ([]string, string, []string) {
			return []string{"db", "sync"}, "mysql+pymysql://glance:pa@Secr3t@127.0.0.1:1/glance", []string{"pa@Secr3t", "Secr3t"}
		}, want: "ERROR"},
		{name: "unknown scheme with a password", setup: func(*testing.T, *testdb.DB) ([]string, string, []string) {
			return []string{"db", "sync"}, "oracle://scott:" + pwEnc + "@db/orcl", []string{pw, pwEnc, "Secr3t"}
		}, want: "ERROR"},

		// Configuration files.
		{name: "missing config file", setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			return []string{"--config-file", filepath.Join(t.TempDir(), "absent.conf"), "db", "sync"}, noEnv, nil
		}, want: "absent.conf"},
		{name: "malformed config file", setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			p := writeFile(t, "glance-api.conf", "[database]\nconnection = mysql://u:Secr3tPw@h/d\nbroken line Secr3tPw\n")
			return []string{"--config-file", p, "db", "sync"}, noEnv, []string{"Secr3tPw"}
		}, want: "line 3"},
		{name: "config file without a section", setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			p := writeFile(t, "glance-api.conf", "connection = mysql://u:Secr3tPw@h/d\n")
			return []string{"--config-file", p, "db", "sync"}, noEnv, []string{"Secr3tPw"}
		}, want: "line 1"},
		{name: "missing config dir", setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			return []string{"--config-dir", filepath.Join(t.TempDir(), "nowhere.d"), "db", "sync"}, noEnv, nil
		}, want: "nowhere.d"},
		{name: "unreadable config file", unprivileged: true, setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			p := writeFile(t, "glance-api.conf", "[database]\nconnection = sqlite:///x.db\n")
			testdb.Reachable(t, p)
			if err := os.Chmod(p, 0); err != nil {
				t.Fatal(err)
			}
			return []string{"--config-file", p, "db", "sync"}, noEnv, nil
		}, want: "glance-api.conf"},

		// Files that are not (writable) Glance databases.
		{name: "not an SQLite file", setup: func(t *testing.T, _ *testdb.DB) ([]string, string, []string) {
			p := writeFile(t, "glance.db", strings.Repeat("this is not a database\n", 200))
			t.Cleanup(func() {
				if b, _ := os.ReadFile(p); string(b) != strings.Repeat("this is not a database\n", 200) {
					t.Errorf("the file was changed")
				}
			})
			return []string{"db", "sync"}, "sqlite:///" + p, nil
		}, want: "ERROR"},
		{name: "read-only SQLite file", unprivileged: true, setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
			testdb.Reachable(t, db.Name)
			if err := os.Chmod(db.Name, 0o444); err != nil {
				t.Fatal(err)
			}
			return []string{"db", "sync", "--skip-preflight"}, "", nil
		}, want: "the file is read-only for this user"},
		{name: "read-only SQLite file, preflight", unprivileged: true, setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
			testdb.Reachable(t, db.Name)
			if err := os.Chmod(db.Name, 0o444); err != nil {
				t.Fatal(err)
			}
			return []string{"db", "sync"}, "", nil
		}, want: "sqlite_file_not_writable found a blocker"},
		{name: "SQLite file in a read-only directory", unprivileged: true, setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
			readOnlyDir(t, db.Name)
			return []string{"db", "sync", "--skip-preflight"}, "", nil
		}, want: "cannot create files in its directory {dir}, where SQLite writes the database's journal"},
		{name: "SQLite file in a read-only directory, preflight", unprivileged: true, setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			hostileMust(t, db.URL, "db", "upgrade", "mitaka02")
			readOnlyDir(t, db.Name)
			return []string{"db", "sync"}, "", nil
		}, want: "the directory {dir} of the SQLite database is not writable"},
		{name: "new SQLite file in a read-only directory", unprivileged: true, setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			readOnlyDir(t, db.Name)
			return []string{"db", "sync"}, "sqlite:///" + filepath.Join(filepath.Dir(db.Name), "new.sqlite"), nil
		}, want: "cannot create files in its directory {dir}"},

		// Databases in states no run of ours leaves.
		{name: "another application's database", setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			if _, err := db.SQL.Exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40))"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL.Exec("INSERT INTO customers (id, name) VALUES (1, 'Ada')"); err != nil {
				t.Fatal(err)
			}
			return []string{"db", "sync"}, "", nil
		}, want: "another application", all: true},
		{name: "stamp another application's database", setup: func(t *testing.T, db *testdb.DB) ([]string, string, []string) {
			if _, err := db.SQL.Exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			return []string{"db", "version_control", "--version", "liberty"}, "", nil
		}, want: "another application", all: true},
		{name: "newer revision", setup: synced("2024_1_contract01", []string{"UPDATE alembic_version SET version_num = '2099_1_contract01'"}, "db", "sync"),
			want: "newer release", all: true},
		{name: "unknown version row", setup: synced("ocata_expand01", []string{"INSERT INTO alembic_version (version_num) VALUES ('bogus01')"}, "db", "expand"),
			want: "ERROR", all: true},
		{name: "ancestor and descendant both in the version table", setup: synced("pike_expand01", []string{"INSERT INTO alembic_version (version_num) VALUES ('ocata_expand01')"}, "db", "sync"),
			want: "alembic_version", all: true},
		{name: "half-expanded, visibility dropped by hand: migrate", setup: synced("ocata_expand01", []string{
			"DROP TRIGGER insert_visibility",
			"DROP TRIGGER update_visibility",
			"DROP INDEX visibility_image_idx",
			"ALTER TABLE images DROP COLUMN visibility",
		}, "db", "migrate"), want: "ERROR"},
		{name: "half-expanded, visibility dropped by hand: contract", setup: synced("2024_1_expand01", []string{
			"DROP TRIGGER insert_visibility",
			"DROP TRIGGER update_visibility",
			"DROP INDEX visibility_image_idx",
			"ALTER TABLE images DROP COLUMN visibility",
		}, "db", "contract"), want: "ERROR"},
	}
	bin := reachableTool(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, c := range cases {
			if !c.all && b != testdb.SQLite {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				db := testdb.New(t, b)
				a, url, secrets := c.setup(t, db)
				switch url {
				case "":
					url = db.URL
				case noEnv:
					url = ""
				}
				before := state(t, db)
				var out, errs string
				var code int
				if c.unprivileged {
					out, errs, code = runUnprivileged(t, bin, url, a...)
				} else {
					out, errs, code = hostileRun(t, url, a...)
				}
				if code == 0 {
					t.Fatalf("%v: exit 0\n%s%s", a, out, errs)
				}
				want := strings.ReplaceAll(c.want, "{dir}", filepath.Dir(db.Name))
				lines := errorLines(errs)
				if len(lines) != 1 || !strings.Contains(lines[0], want) {
					t.Errorf("%v: want one error line with %q, got %q (stdout %q)", a, want, lines, out)
				}
				for _, s := range secrets {
					if strings.Contains(out+errs, s) {
						t.Errorf("%v: the output shows a password (%q):\n%s%s", a, s, out, errs)
					}
				}
				if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic") {
					t.Errorf("%v: crashed:\n%s", a, errs)
				}
				if after := state(t, db); after != before {
					t.Errorf("%v changed the database:\n%s", a, firstLineDiff(before, after))
				}
			})
		}
	})
}

// readOnlyDir makes the directory of the SQLite database path read-only
// for everyone but root (and the file writable by everyone): SQLite can
// write the file but not create its journal next to it.
func readOnlyDir(t *testing.T, path string) {
	t.Helper()
	testdb.Reachable(t, path)
	if _, err := os.Stat(path); err == nil {
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Dir(path)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
}

func firstLineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(x), len(y)); i++ {
		var p, q string
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if p != q {
			return "before: " + p + "\nafter:  " + q
		}
	}
	return ""
}
