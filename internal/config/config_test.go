package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// write creates dir/name with content and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestDefaultFilesOrder: upstream's default list is [glance.conf,
// glance-api.conf, glance.conf, glance-manage.conf], each the first found
// in the search directories, so glance.conf beats glance-api.conf and
// glance-manage.conf beats everything.
func TestDefaultFilesOrder(t *testing.T) {
	home, etc := t.TempDir(), t.TempDir()
	write(t, etc, "glance-api.conf", "[database]\nconnection = sqlite:///api.db\n")
	write(t, etc, "glance.conf", "[database]\nconnection = sqlite:///etc-glance.db\n")
	write(t, home, "glance.conf", "[database]\nconnection = sqlite:///home-glance.db\n") // shadows etc's
	search := []string{home, etc}

	files := DefaultFiles(search)
	want := []string{filepath.Join(home, "glance.conf"), filepath.Join(etc, "glance-api.conf"), filepath.Join(home, "glance.conf")}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("DefaultFiles = %v, want %v", files, want)
	}
	c, err := Load(Options{SearchDirs: search, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Connection != "sqlite:///home-glance.db" {
		t.Errorf("glance.conf is read again after glance-api.conf and wins; got %q", c.Connection)
	}

	write(t, etc, "glance-manage.conf", "[database]\nconnection = sqlite:///manage.db\n")
	c, err = Load(Options{SearchDirs: search, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Connection != "sqlite:///manage.db" || c.ConnectionSource != filepath.Join(etc, "glance-manage.conf") {
		t.Errorf("glance-manage.conf should win: %q from %q", c.Connection, c.ConnectionSource)
	}
}

func TestDefaultSearchDirs(t *testing.T) {
	got := DefaultSearchDirs(env(map[string]string{"HOME": "/home/op", "SNAP_COMMON": "/snap/c", "SNAP": "/snap/s"}))
	want := []string{"/home/op/.glance", "/home/op", "/etc/glance", "/etc", "/snap/c/etc/glance", "/snap/s/etc/glance"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultSearchDirs = %v, want %v", got, want)
	}
}

// TestPrecedence covers --config-file order, --config-dir after files,
// the environment over everything, and deprecated names.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.conf", "[database]\nconnection = sqlite:///a.db\nmysql_sql_mode = ANSI\n")
	b := write(t, dir, "b.conf", "[database]\nconnection = sqlite:///b.db\n")
	confd := filepath.Join(dir, "conf.d")
	write(t, confd, "20-late.conf", "[database]\nconnection = sqlite:///late.db\n")
	write(t, confd, "10-early.conf", "[database]\nconnection = sqlite:///early.db\nconnection_parameters = charset=utf8mb4\n")
	write(t, confd, ".hidden.conf", "[database]\nconnection = sqlite:///hidden.db\n")
	write(t, confd, "ignored.txt", "not a config file at all")
	legacy := write(t, dir, "legacy.conf", "[DEFAULT]\nsql_connection = mysql://old@db/glance\n")
	legacySQL := write(t, dir, "legacy-sql.conf", "[sql]\nconnection = mysql://older@db/glance\n")
	legacyDB := write(t, dir, "legacy-db.conf", "[DATABASE]\nsql_connection = mysql://oldest@db/glance\n")

	cases := []struct {
		name       string
		o          Options
		conn, from string
		deprecated bool
		sqlMode    string
		params     string
	}{
		{name: "later file wins", o: Options{ConfigFiles: []string{a, b}}, conn: "sqlite:///b.db", from: b, sqlMode: "ANSI"},
		{name: "order matters", o: Options{ConfigFiles: []string{b, a}}, conn: "sqlite:///a.db", from: a, sqlMode: "ANSI"},
		{name: "config dir after files, sorted", o: Options{ConfigFiles: []string{a}, ConfigDirs: []string{confd}},
			conn: "sqlite:///late.db", from: filepath.Join(confd, "20-late.conf"), sqlMode: "ANSI", params: "charset=utf8mb4"},
		{name: "environment over files", o: Options{ConfigFiles: []string{a}, Getenv: env(map[string]string{ConnectionEnvVar: "postgresql://pg@db/glance"})},
			conn: "postgresql://pg@db/glance", from: "environment variable " + ConnectionEnvVar, sqlMode: "ANSI"},
		{name: "DEFAULT sql_connection", o: Options{ConfigFiles: []string{legacy}}, conn: "mysql://old@db/glance", from: legacy, deprecated: true, sqlMode: DefaultMySQLSQLMode},
		{name: "sql connection", o: Options{ConfigFiles: []string{legacySQL}}, conn: "mysql://older@db/glance", from: legacySQL, deprecated: true, sqlMode: DefaultMySQLSQLMode},
		{name: "DATABASE sql_connection", o: Options{ConfigFiles: []string{legacyDB}}, conn: "mysql://oldest@db/glance", from: legacyDB, deprecated: true, sqlMode: DefaultMySQLSQLMode},
		{name: "deprecated name in a later file beats the real one", o: Options{ConfigFiles: []string{a, legacy}},
			conn: "mysql://old@db/glance", from: legacy, deprecated: true, sqlMode: "ANSI"},
		{name: "real name in a later file", o: Options{ConfigFiles: []string{legacy, b}}, conn: "sqlite:///b.db", from: b, sqlMode: DefaultMySQLSQLMode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Getenv == nil {
				tc.o.Getenv = env(nil)
			}
			tc.o.SearchDirs = []string{}
			c, err := Load(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.Connection != tc.conn || c.ConnectionSource != tc.from {
				t.Errorf("connection %q from %q, want %q from %q", c.Connection, c.ConnectionSource, tc.conn, tc.from)
			}
			if got := len(c.Deprecations) > 0; got != tc.deprecated {
				t.Errorf("deprecations %v, want some: %v", c.Deprecations, tc.deprecated)
			}
			if c.MySQLSQLMode != tc.sqlMode {
				t.Errorf("mysql_sql_mode %q, want %q", c.MySQLSQLMode, tc.sqlMode)
			}
			if c.ConnectionParameters != tc.params {
				t.Errorf("connection_parameters %q, want %q", c.ConnectionParameters, tc.params)
			}
			if c.MetadataSourcePath != DefaultMetadataSourcePath {
				t.Errorf("metadata_source_path %q", c.MetadataSourcePath)
			}
		})
	}
}

// TestRealGlanceAPIConf reads an install-guide style glance-api.conf.
func TestRealGlanceAPIConf(t *testing.T) {
	c, err := Load(Options{ConfigFiles: []string{"testdata/glance-api.conf"}, Getenv: env(nil), SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Connection != "mysql+pymysql://glance:GLANCE_DBPASS@controller/glance" {
		t.Errorf("connection = %q", c.Connection)
	}
	if v, ok := c.Get("glance_store", "default_backend"); !ok || v != "fast" {
		t.Errorf("[glance_store] default_backend = %q, %v", v, ok)
	}
	if v, ok := c.Get("DEFAULT", "transport_url"); !ok || v != "rabbit://openstack:RABBIT_PASS@controller:5672/" {
		t.Errorf("[DEFAULT] transport_url = %q", v)
	}
}

// TestLookupSource: Lookup says where a value came from, for messages
// about the logging options.
func TestLookupSource(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.conf", "[DEFAULT]\nlog_file = /var/log/a.log\nlog_dir = /var/log\nstate = /srv\nlog_x = $state/x\n")
	b := write(t, dir, "b.conf", "[DEFAULT]\nlog_file = /var/log/b.log\n")
	c, err := Load(Options{ConfigFiles: []string{a, b}, Getenv: env(map[string]string{"OS_DEFAULT__LOG_DIR": "/env"}), SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct{ key, value, source string }{
		{"log_file", "/var/log/b.log", b},
		{"log_dir", "/env", "environment variable OS_DEFAULT__LOG_DIR"},
		{"log_x", "/srv/x", a},
	} {
		if v, src, ok := c.Lookup("DEFAULT", ch.key); !ok || v != ch.value || src != ch.source {
			t.Errorf("%s: %q from %q (%v); want %q from %q", ch.key, v, src, ok, ch.value, ch.source)
		}
	}
	if _, _, ok := c.Lookup("DEFAULT", "use_json"); ok {
		t.Error("an option set nowhere was found")
	}
}

func TestINIDialect(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "x.conf", "\xef\xbb\xbf"+`[DEFAULT]
host = db.example
pw = "p%40ss$$word"
colon: value with = sign # not a comment
multi = first
  second

[Database]
connection = mysql+pymysql://glance:${pw}@$host/glance
connection = mysql+pymysql://glance:$pw@${DEFAULT.host}/glance
; a comment
# another
[glance.store.http.store]
x = 1
`)
	c, err := Load(Options{ConfigFiles: []string{p}, Getenv: env(nil), SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ section, key, want string }{
		{"DEFAULT", "pw", "p%40ss$word"},
		{"DEFAULT", "colon", "value with = sign # not a comment"},
		{"DEFAULT", "multi", "first\nsecond"},
		{"glance.store.http.store", "x", "1"},
	}
	for _, ch := range checks {
		if v, ok := c.Get(ch.section, ch.key); !ok || v != ch.want {
			t.Errorf("[%s] %s = %q, %v; want %q", ch.section, ch.key, v, ok, ch.want)
		}
	}
	if _, ok := c.Get("glance", "x"); ok {
		t.Errorf("[glance] x must not fall back to [glance.store.http.store]")
	}
	// [Database] is [database] (section names are case-insensitive), the
	// last occurrence wins, and "$" references are substituted.
	if want := "mysql+pymysql://glance:p%40ss$word@db.example/glance"; c.Connection != want {
		t.Errorf("connection = %q, want %q", c.Connection, want)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.conf", "[database]\nconnection = sqlite:///x.db\n")
	cases := []struct {
		name    string
		content string // "" means the file is not created
		dirs    []string
		check   func(t *testing.T, err error)
	}{
		{name: "missing file", check: func(t *testing.T, err error) {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Op != "find" || !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("want a find FileError, got %v", err)
			}
			if !strings.Contains(err.Error(), "failed to find config file") {
				t.Errorf("message: %v", err)
			}
		}},
		{name: "no separator", content: "[database]\nconnection\n", check: parseErr(2, "No ':' or '=' found in assignment")},
		{name: "before section", content: "connection = x\n", check: parseErr(1, "Section must be started before assignment")},
		{name: "unclosed section", content: "[database\n", check: parseErr(1, "Invalid section (must end with ])")},
		{name: "empty section", content: "[]\n", check: parseErr(1, "Empty section name")},
		{name: "empty key", content: "[database]\n= x\n", check: parseErr(2, "Key cannot be empty")},
		{name: "stray continuation", content: "[database]\n\n  x\n", check: parseErr(3, "Unexpected continuation line")},
		{name: "invalid utf-8", content: "[database]\nconnection = \xff\n", check: parseErr(2, "invalid UTF-8")},
		{name: "unset reference", content: "[database]\nconnection = mysql://u:pa$word@h/g\n", check: func(t *testing.T, err error) {
			var se *SubstitutionError
			if !errors.As(err, &se) || se.Key != "connection" {
				t.Fatalf("want a SubstitutionError, got %v", err)
			}
			if strings.Contains(err.Error(), "pa$word") {
				t.Errorf("the error repeats the value (a password): %v", err)
			}
		}},
		{name: "reference loop", content: "[DEFAULT]\na = $b\nb = $a\n[database]\nconnection = $a\n", check: func(t *testing.T, err error) {
			if !errors.Is(err, errSubstLoop) {
				t.Fatalf("want the loop error, got %v", err)
			}
		}},
		{name: "missing config dir", content: "[database]\nconnection = x\n", dirs: []string{filepath.Join(dir, "nope")}, check: func(t *testing.T, err error) {
			var fe *FileError
			if !errors.As(err, &fe) || !fe.Dir || fe.Op != "find" {
				t.Fatalf("want a directory FileError, got %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "glance-api.conf")
			if tc.content != "" {
				write(t, filepath.Dir(p), filepath.Base(p), tc.content)
			}
			_, err := Load(Options{ConfigFiles: []string{good, p}, ConfigDirs: tc.dirs, Getenv: env(nil), SearchDirs: []string{}})
			if err == nil {
				t.Fatal("no error")
			}
			tc.check(t, err)
		})
	}
}

func parseErr(line int, msg string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("want a ParseError, got %v", err)
		}
		if pe.Line != line || pe.Msg != msg || !strings.HasSuffix(pe.File, "glance-api.conf") {
			t.Errorf("got %s:%d %q, want line %d %q", pe.File, pe.Line, pe.Msg, line, msg)
		}
	}
}

// TestUnreadableDirectoryAsFile: a directory named as a configuration
// file cannot be read as one, whoever runs.
func TestUnreadableDirectoryAsFile(t *testing.T) {
	d := filepath.Join(t.TempDir(), "glance-api.conf")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{ConfigFiles: []string{d}, Getenv: env(nil), SearchDirs: []string{}})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Op != "read" {
		t.Fatalf("want a read FileError, got %v", err)
	}
}

// TestUnreadableFile runs as nobody when the tests run as root (who reads
// any file).
func TestUnreadableFile(t *testing.T) {
	if testdb.ReexecUnprivileged(t) {
		return
	}
	p := write(t, t.TempDir(), "glance-api.conf", "[database]\nconnection = x\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{ConfigFiles: []string{p}, Getenv: env(nil), SearchDirs: []string{}})
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("want permission denied, got %v", err)
	}
}

func TestNoConnection(t *testing.T) {
	p := write(t, t.TempDir(), "glance-api.conf", "[DEFAULT]\ndebug = true\n")
	c, err := Load(Options{ConfigFiles: []string{p}, Getenv: env(nil), SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.RequireConnection(), ErrNoConnection) {
		t.Errorf("RequireConnection = %v", c.RequireConnection())
	}
}

func TestTildeExpansion(t *testing.T) {
	home := t.TempDir()
	write(t, home, "my.conf", "[database]\nconnection = sqlite:///t.db\n")
	c, err := Load(Options{ConfigFiles: []string{"~/my.conf"}, Getenv: env(map[string]string{"HOME": home}), SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Connection != "sqlite:///t.db" {
		t.Errorf("connection = %q", c.Connection)
	}
}
