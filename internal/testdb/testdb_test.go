package testdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestNewGivesEmptyIsolatedDatabases(t *testing.T) {
	for _, b := range All {
		t.Run(string(b), func(t *testing.T) {
			a := New(t, b)
			c := New(t, b)
			if a.Name == c.Name || a.URL == c.URL {
				t.Fatalf("two databases share a name: %q %q", a.Name, c.Name)
			}
			if a.Backend != b {
				t.Fatalf("Backend = %q", a.Backend)
			}
			if n := countTables(t, a); n != 0 {
				t.Fatalf("fresh database has %d tables", n)
			}
			if _, err := a.SQL.Exec("CREATE TABLE only_in_a (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			if n := countTables(t, a); n != 1 {
				t.Fatalf("after CREATE TABLE: %d tables", n)
			}
			if n := countTables(t, c); n != 0 {
				t.Fatalf("the other database sees %d tables", n)
			}
			switch b {
			case SQLite:
				if !strings.HasPrefix(a.URL, "sqlite:////") || !strings.HasSuffix(a.URL, a.Name) {
					t.Errorf("URL %q, Name %q", a.URL, a.Name)
				}
				var fk int
				if err := a.SQL.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 0 {
					t.Errorf("foreign_keys = %d, %v; want 0", fk, err)
				}
			case MySQL:
				if !strings.HasPrefix(a.Name, NamePrefix) || !strings.Contains(a.URL, "/"+a.Name+"?") || !strings.Contains(a.URL, "charset=utf8") {
					t.Errorf("URL %q, Name %q", a.URL, a.Name)
				}
			case PostgreSQL:
				if !strings.HasPrefix(a.Name, NamePrefix) || !strings.HasSuffix(a.URL, "/"+a.Name) {
					t.Errorf("URL %q, Name %q", a.URL, a.Name)
				}
			}
		})
	}
}

func countTables(t *testing.T, d *DB) int {
	t.Helper()
	var q string
	switch d.Backend {
	case SQLite:
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	case MySQL:
		q = "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
	case PostgreSQL:
		q = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
	}
	var n int
	if err := d.SQL.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDestroyDropsServerDatabase(t *testing.T) {
	for _, b := range []Backend{MySQL, PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			Require(t, b)
			ctx := context.Background()
			d, err := Create(ctx, b, "")
			if err != nil {
				t.Fatal(err)
			}
			name := d.Name
			if err := d.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
			s, err := parseServer(b)
			if err != nil {
				t.Fatal(err)
			}
			admin, err := s.open("")
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			q := "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
			if b == PostgreSQL {
				q = "SELECT count(*) FROM pg_database WHERE datname = $1"
			}
			var n int
			if err := admin.QueryRow(q, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("database %s still exists after Destroy", name)
			}
		})
	}
}

func TestServerURLs(t *testing.T) {
	t.Setenv(EnvMySQL, "mysql+pymysql://root:p%40ss@db.example:3307/test")
	t.Setenv(EnvPostgres, "postgresql://postgres@localhost/test?sslmode=disable")
	m, err := parseServer(MySQL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.sqlalchemyURL("gmt_x"), "mysql+pymysql://root:p%40ss@db.example:3307/gmt_x?charset=utf8"; got != want {
		t.Errorf("mysql URL %q, want %q", got, want)
	}
	if strings.Contains(m.original, "p%40ss") || strings.Contains(m.original, "p@ss") {
		t.Errorf("redacted URL shows the password: %s", m.original)
	}
	p, err := parseServer(PostgreSQL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.sqlalchemyURL("gmt_x"), "postgresql://postgres@localhost:5432/gmt_x?sslmode=disable"; got != want {
		t.Errorf("postgresql URL %q, want %q", got, want)
	}
	t.Setenv(EnvMySQL, "postgresql://root@127.0.0.1/test")
	if _, err := parseServer(MySQL); err == nil {
		t.Error("a postgresql URL was accepted for MySQL")
	}
}

// fakeTB records Skip and Fatal instead of acting on them.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) { f.Skip(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runFake(t *testing.T, fn func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fn(f)
	}()
	wg.Wait()
	return f
}

func TestRequireGating(t *testing.T) {
	t.Setenv(EnvMySQL, "")
	t.Setenv(EnvPostgres, "")
	t.Setenv(EnvCI, "")
	f := runFake(t, func(tb testing.TB) { Require(tb, MySQL) })
	if want := "MySQL tests skipped: set GLANCE_TEST_MYSQL_URL (e.g. mysql+pymysql://root@127.0.0.1:3306/test) to run them"; f.skipped != want || f.failed != "" {
		t.Errorf("skipped %q failed %q; want skip %q", f.skipped, f.failed, want)
	}
	f = runFake(t, func(tb testing.TB) { Require(tb, PostgreSQL) })
	if !strings.Contains(f.skipped, "GLANCE_TEST_POSTGRES_URL") || f.failed != "" {
		t.Errorf("skipped %q failed %q", f.skipped, f.failed)
	}
	f = runFake(t, func(tb testing.TB) { Require(tb, SQLite) })
	if f.skipped != "" || f.failed != "" {
		t.Errorf("sqlite: skipped %q failed %q", f.skipped, f.failed)
	}
	t.Setenv(EnvCI, "true")
	f = runFake(t, func(tb testing.TB) { Require(tb, MySQL) })
	if f.skipped != "" || !strings.Contains(f.failed, "GLANCE_TEST_MYSQL_URL") {
		t.Errorf("CI=true: skipped %q failed %q; want a failure", f.skipped, f.failed)
	}
	f = runFake(t, func(tb testing.TB) { Require(tb, "oracle") })
	if f.failed == "" {
		t.Error("unknown backend accepted")
	}
}

func TestFindReferenceSkipsNonPython(t *testing.T) {
	t.Setenv(EnvReference, "")
	goDir, pyDir := t.TempDir(), t.TempDir()
	write := func(dir, content string) string {
		p := filepath.Join(dir, "glance-manage")
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(goDir, "\x7fELF\x02\x01\x01 not a script")
	py := write(pyDir, "#! /usr/bin/python3\n# PBR Generated from 'console_scripts'\n")
	t.Setenv("PATH", goDir+string(os.PathListSeparator)+pyDir)
	got, err := findReference()
	if err != nil || got != py {
		t.Fatalf("findReference() = %q, %v; want %q", got, err, py)
	}
	t.Setenv("PATH", goDir)
	if _, err := findReference(); err != ErrNoReference {
		t.Fatalf("without a python glance-manage: err = %v", err)
	}
	t.Setenv(EnvReference, filepath.Join(goDir, "glance-manage"))
	if got, err := findReference(); err != nil || got != filepath.Join(goDir, "glance-manage") {
		t.Fatalf("%s not honoured: %q, %v", EnvReference, got, err)
	}
}

func TestWriteConfigEscapesDollar(t *testing.T) {
	p, err := WriteConfig(t.TempDir(), "mysql+pymysql://u:a$b@h/db")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[database]\nconnection = mysql+pymysql://u:a$$b@h/db\n"; string(b) != want {
		t.Fatalf("config %q, want %q", b, want)
	}
}

// TestReferenceUsesURL checks that the URL of each backend works for the
// reference tool: it creates the Liberty schema, which our driver then sees.
func TestReferenceUsesURL(t *testing.T) {
	for _, b := range All {
		t.Run(string(b), func(t *testing.T) {
			d := New(t, b)
			out, errOut, code := RunReference(t, d.URL, "db", "version")
			if !strings.Contains(out, "not under migration control") {
				t.Fatalf("db version on an empty database: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			out, errOut, code = RunReference(t, d.URL, "db", "upgrade", "--version", "liberty")
			if code != 0 {
				t.Fatalf("db upgrade: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			var v string
			if err := d.SQL.QueryRow("SELECT version_num FROM alembic_version").Scan(&v); err != nil || v != "liberty" {
				t.Fatalf("alembic_version = %q, %v", v, err)
			}
		})
	}
}
