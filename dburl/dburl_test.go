package dburl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

type parseCase struct {
	name     string
	in       string
	backend  Backend
	dialect  string
	driver   string
	path     string
	host     string
	port     string
	user     string
	database string
	socket   string
	password string   // decoded password expected to reach the driver
	dsnHas   []string // substrings the DSN must contain
	dsnLacks []string // substrings it must not contain
}

var parseCases = []parseCase{
	// SQLite
	{name: "sqlite relative", in: "sqlite:///glance.sqlite", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "glance.sqlite", database: "glance.sqlite",
		dsnHas: []string{"file:glance.sqlite?", "_pragma=busy_timeout(30000)", "_pragma=foreign_keys(0)", "_txlock=immediate"}},
	{name: "sqlite relative subdir", in: "sqlite:///relative/path.db", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "relative/path.db", database: "relative/path.db", dsnHas: []string{"file:relative/path.db?"}},
	{name: "sqlite absolute", in: "sqlite:////var/lib/glance/glance.sqlite", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "/var/lib/glance/glance.sqlite", database: "/var/lib/glance/glance.sqlite",
		dsnHas: []string{"file:/var/lib/glance/glance.sqlite?"}},
	{name: "sqlite pysqlite driver", in: "sqlite+pysqlite:////tmp/x.db", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "/tmp/x.db", database: "/tmp/x.db"},
	{name: "sqlite memory empty", in: "sqlite://", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		dsnHas: []string{"file::memory:?"}},
	{name: "sqlite memory slash", in: "sqlite:///", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		dsnHas: []string{"file::memory:?"}},
	{name: "sqlite memory explicit", in: "sqlite:///:memory:", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		dsnHas: []string{"file::memory:?"}},
	{name: "sqlite escaped path", in: "sqlite:////tmp/a b/c%d#e.db", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "/tmp/a b/c%d#e.db", database: "/tmp/a b/c%d#e.db", dsnHas: []string{"file:/tmp/a%20b/c%25d%23e.db?"}},
	{name: "sqlite timeout", in: "sqlite:///g.db?timeout=2.5", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "g.db", database: "g.db", dsnHas: []string{"_pragma=busy_timeout(2500)"}},
	{name: "sqlite harmless options", in: "sqlite:///g.db?check_same_thread=false&cached_statements=0", backend: SQLite,
		dialect: "sqlite", driver: "sqlite", path: "g.db", database: "g.db"},
	{name: "sqlite double slash path", in: "sqlite://///srv/x.db", backend: SQLite, dialect: "sqlite", driver: "sqlite",
		path: "//srv/x.db", database: "//srv/x.db", dsnHas: []string{"file:////srv/x.db?"}},

	// MySQL family
	{name: "install guide", in: "mysql+pymysql://glance:GLANCE_DBPASS@controller/glance", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance", password: "GLANCE_DBPASS",
		dsnHas: []string{"glance:GLANCE_DBPASS@tcp(controller:3306)/glance?", "charset=utf8", "parseTime=true",
			"interpolateParams=true", "sql_mode=%27TRADITIONAL%27"},
		dsnLacks: []string{"multiStatements"}},
	{name: "mysql plain", in: "mysql://glance:pw@db.example.org:3307/glance?charset=utf8", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "db.example.org", port: "3307", user: "glance", database: "glance", password: "pw",
		dsnHas: []string{"tcp(db.example.org:3307)", "charset=utf8&"}},
	{name: "mysqldb", in: "mysql+mysqldb://u:pw@h/d", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},
	{name: "mysqlconnector", in: "mysql+mysqlconnector://u:pw@h/d", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},
	{name: "mariadb", in: "mariadb://u:pw@h/d", backend: MySQL, dialect: "mariadb", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},
	{name: "mariadb pymysql", in: "mariadb+pymysql://u:pw@h/d", backend: MySQL, dialect: "mariadb", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},
	{name: "utf8mb4 charset", in: "mysql+pymysql://u:pw@h/d?charset=utf8mb4", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw", dsnHas: []string{"charset=utf8mb4"}},
	{name: "encoded at", in: "mysql+pymysql://glance:p%40ss@controller:3306/glance?charset=utf8", backend: MySQL,
		dialect: "mysql", driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance", password: "p@ss"},
	{name: "many specials", in: "mysql+pymysql://glance:pw%40%25%2F%21%23%24%28%29@controller/glance", backend: MySQL,
		dialect: "mysql", driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance",
		password: "pw@%/!#$()"},
	{name: "non-ascii", in: "mysql+pymysql://glance:p%C3%A4ss@controller/glance", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance", password: "päss"},
	{name: "raw specials in password", in: "mysql+pymysql://glance:a/b:c?d#e@controller/glance", backend: MySQL,
		dialect: "mysql", driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance",
		password: "a/b:c?d#e"},
	{name: "plus stays plus", in: "mysql+pymysql://glance:a+b@controller/glance", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "controller", port: "3306", user: "glance", database: "glance", password: "a+b"},
	{name: "encoded user", in: "mysql+pymysql://gl%61nce:pw@h/g", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "glance", database: "g", password: "pw"},
	{name: "no host", in: "mysql+pymysql://glance:pw@/glance", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "localhost", port: "3306", user: "glance", database: "glance", password: "pw",
		dsnHas: []string{"tcp(localhost:3306)"}},
	{name: "ipv6", in: "mysql+pymysql://glance:pw@[fd00::5]:3307/glance", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "fd00::5", port: "3307", user: "glance", database: "glance", password: "pw", dsnHas: []string{"tcp([fd00::5]:3307)"}},
	{name: "unix socket", in: "mysql+pymysql://glance:pw@/glance?unix_socket=/run/mysqld/mysqld.sock", backend: MySQL,
		dialect: "mysql", driver: "mysql", user: "glance", database: "glance", socket: "/run/mysqld/mysqld.sock", password: "pw",
		dsnHas: []string{"unix(/run/mysqld/mysqld.sock)/glance"}},
	{name: "timeouts", in: "mysql+pymysql://u:pw@h/d?connect_timeout=5&read_timeout=30&write_timeout=1.5", backend: MySQL,
		dialect: "mysql", driver: "mysql", host: "h", port: "3306", user: "u", database: "d", password: "pw",
		dsnHas: []string{"timeout=5s", "readTimeout=30s", "writeTimeout=1.5s"}},
	{name: "ignored options", in: "mysql+pymysql://u:pw@h/d?plugin=x&binary_prefix=true&program_name=glance&read_default_file=/etc/my.cnf&read_default_group=client",
		backend: MySQL, dialect: "mysql", driver: "mysql", host: "h", port: "3306", user: "u", database: "d", password: "pw",
		dsnLacks: []string{"plugin", "program_name", "my.cnf"}},
	{name: "tls no verify", in: "mysql+pymysql://u:pw@h/d?ssl_verify_cert=false", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "h", port: "3306", user: "u", database: "d", password: "pw", dsnHas: []string{"tls=dburl-"}},
	{name: "empty password", in: "mysql+pymysql://root:@127.0.0.1/test", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "127.0.0.1", port: "3306", user: "root", database: "test", dsnHas: []string{"root@tcp(127.0.0.1:3306)/test"}},
	{name: "blank query values dropped", in: "mysql+pymysql://u:pw@h/d?charset=&foo", backend: MySQL, dialect: "mysql",
		driver: "mysql", host: "h", port: "3306", user: "u", database: "d", password: "pw", dsnHas: []string{"charset=utf8&"}},
	{name: "empty port", in: "mysql+pymysql://u:pw@h:/d", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},
	{name: "mixed case scheme", in: "MySQL+PyMySQL://u:pw@h/d", backend: MySQL, dialect: "mysql", driver: "mysql",
		host: "h", port: "3306", user: "u", database: "d", password: "pw"},

	// PostgreSQL
	{name: "postgresql", in: "postgresql://glance:pw@db:5433/glance", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "db", port: "5433", user: "glance", database: "glance", password: "pw",
		dsnHas: []string{"host='db'", "port='5433'", "user='glance'", "password='pw'", "dbname='glance'"}},
	{name: "pg loopback: plain TCP first", in: "postgresql://glance:pw@127.0.0.1/glance", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "127.0.0.1", port: "5432", user: "glance", database: "glance", password: "pw", dsnHas: []string{"sslmode='allow'"}},
	{name: "pg localhost: plain TCP first", in: "postgresql://glance:pw@localhost/glance", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "localhost", port: "5432", user: "glance", database: "glance", password: "pw", dsnHas: []string{"sslmode='allow'"}},
	{name: "pg loopback, sslmode given", in: "postgresql://glance:pw@[::1]/glance?sslmode=require", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "::1", port: "5432", user: "glance", database: "glance", password: "pw", dsnHas: []string{"sslmode='require'"}, dsnLacks: []string{"allow"}},
	{name: "postgres alias", in: "postgres://glance:pw@db/glance", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "db", port: "5432", user: "glance", database: "glance", password: "pw", dsnLacks: []string{"port=", "sslmode"}},
	{name: "psycopg2", in: "postgresql+psycopg2://glance:p%40ss@db/glance?sslmode=require&connect_timeout=10",
		backend: Postgres, dialect: "postgresql", driver: "pgx", host: "db", port: "5432", user: "glance", database: "glance",
		password: "p@ss", dsnHas: []string{"sslmode='require'", "connect_timeout='10'", "password='p@ss'"}},
	{name: "pg8000", in: "postgresql+pg8000://u:pw@h/d", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "h", port: "5432", user: "u", database: "d", password: "pw"},
	{name: "psycopg3", in: "postgresql+psycopg://u:pw@h/d", backend: Postgres, dialect: "postgresql", driver: "pgx",
		host: "h", port: "5432", user: "u", database: "d", password: "pw"},
	{name: "pg socket dir", in: "postgresql://glance@/glance?host=/var/run/postgresql", backend: Postgres,
		dialect: "postgresql", driver: "pgx", port: "5432", user: "glance", database: "glance", socket: "/var/run/postgresql",
		dsnHas: []string{"host='/var/run/postgresql'"}, dsnLacks: []string{"password"}},
	{name: "pg quoting", in: "postgresql://u:it%27s%5Cx@h/d?application_name=glance+manage&options=-c+statement_timeout%3D5000",
		backend: Postgres, dialect: "postgresql", driver: "pgx", host: "h", port: "5432", user: "u", database: "d",
		password: `it's\x`, dsnHas: []string{`password='it\'s\\x'`, "application_name='glance manage'", "options='-c statement_timeout=5000'"}},
	{name: "pg non-ascii", in: "postgresql://u:p%C3%A4ss@h/d?target_session_attrs=read-write&sslrootcert=/etc/ssl/ca.pem",
		backend: Postgres, dialect: "postgresql", driver: "pgx", host: "h", port: "5432", user: "u", database: "d",
		password: "päss", dsnHas: []string{"target_session_attrs='read-write'", "sslrootcert='/etc/ssl/ca.pem'"}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("Backend", string(u.Backend), string(tc.backend))
			check("Dialect", u.Dialect, tc.dialect)
			check("Driver", u.Driver, tc.driver)
			check("Path", u.Path, tc.path)
			check("Host", u.Host, tc.host)
			check("Port", u.Port, tc.port)
			if tc.user != "" || tc.backend != MySQL {
				check("User", u.User, tc.user)
			}
			check("Database", u.Database, tc.database)
			check("Socket", u.Socket, tc.socket)
			check("password", u.password, tc.password)
			for _, s := range tc.dsnHas {
				if !strings.Contains(u.DSN, s) {
					t.Errorf("DSN %q lacks %q", u.DSN, s)
				}
			}
			for _, s := range tc.dsnLacks {
				if strings.Contains(u.DSN, s) {
					t.Errorf("DSN %q contains %q", u.DSN, s)
				}
			}
			assertNoSecret(t, "Redacted()", u.Redacted(), tc.password)
			assertNoSecret(t, "String()", u.String(), tc.password)
			assertNoSecret(t, "%v", fmt.Sprintf("%v", u), tc.password)
			assertNoSecret(t, "%#v", fmt.Sprintf("%#v", u), tc.password)
			if tc.password != "" && !strings.Contains(u.Redacted(), ":****@") {
				t.Errorf("Redacted() = %q: password not masked", u.Redacted())
			}
			if u.Backend == MySQL {
				// The DSN must read back to the same credentials.
				cfg, err := mysql.ParseDSN(u.DSN)
				if err != nil {
					t.Fatalf("mysql.ParseDSN: %v", err)
				}
				check("DSN password", cfg.Passwd, tc.password)
				check("DSN dbname", cfg.DBName, tc.database)
			}
		})
	}
}

// assertNoSecret fails if s contains the decoded password or a URL-encoded
// form of it. Passwords shorter than 3 bytes are not checked (they occur
// in ordinary text).
func assertNoSecret(t *testing.T, what, s, password string) {
	t.Helper()
	if len(password) < 3 {
		return
	}
	for _, f := range []string{password, url.QueryEscape(password), url.PathEscape(password), encodeAll(password)} {
		if strings.Contains(s, f) {
			t.Errorf("%s = %q contains the password (as %q)", what, s, f)
		}
	}
}

func TestRedacted(t *testing.T) {
	cases := map[string]string{
		"mysql+pymysql://glance:GLANCE_DBPASS@controller/glance?charset=utf8": "mysql+pymysql://glance:****@controller/glance?charset=utf8",
		"mysql+pymysql://glance@controller/glance":                            "mysql+pymysql://glance@controller/glance",
		"mysql+pymysql://glance:@controller/glance":                           "mysql+pymysql://glance:****@controller/glance",
		"sqlite:////var/lib/glance/glance.sqlite":                             "sqlite:////var/lib/glance/glance.sqlite",
		"postgresql://u:p%40ss@h/d?sslmode=require":                           "postgresql://u:****@h/d?sslmode=require",
		"mysql+pymysql://u:a/b:c?d#e@h/db":                                    "mysql+pymysql://u:****@h/db",
		"sqlite:////srv/glance@2/glance.sqlite":                               "sqlite:////srv/glance@2/glance.sqlite",
	}
	for in, want := range cases {
		u, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := u.Redacted(); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in       string
		sentinel error
		msgHas   string
		secret   string
	}{
		{"", ErrUnsupportedScheme, "empty database URL", ""},
		{"   ", ErrUnsupportedScheme, "empty database URL", ""},
		{"oracle://scott:tiger123@db/orcl", ErrUnsupportedScheme, `unsupported database URL scheme "oracle"`, "tiger123"},
		{"mongodb://u:Secr3tPw@h/d", ErrUnsupportedScheme, "supported schemes: ", "Secr3tPw"},
		{"postgresql+asyncpg://u:Secr3tPw@h/d", ErrUnsupportedScheme, "postgresql+asyncpg", "Secr3tPw"},
		{"/var/lib/glance/glance.sqlite", ErrUnsupportedScheme, "sqlite:////absolute/path", ""},
		{"glance:Secr3tPw@controller/glance", ErrUnsupportedScheme, "not a database URL", "Secr3tPw"},
		{"mysql+pymysql://glance:p@ss@controller/glance", ErrMalformed, "percent-encode", "p@ss"},
		{"mysql+pymysql://glance:Secr3t@Pw@controller/glance", ErrMalformed, "%40", "Secr3t@Pw"},
		{"mysql+pymysql://glance:Qw7@host9/db@127.0.0.1/glance", ErrMalformed, `"mysql+pymysql://****@127.0.0.1/glance"`, "host9/db"},
		{"mysql+pymysql://glance:Qw7@h9:x@127.0.0.1:3306/glance", ErrMalformed, "more than one '@'", "h9:x"},
		{"postgresql://glance:Qw7@h9?x@127.0.0.1/glance", ErrMalformed, `"postgresql://****@127.0.0.1/glance"`, "h9?x"},
		{"mysql://us/er:Secr3tPw@h/db", ErrMalformed, "more than one '@'", "Secr3tPw"},
		{"oracle://glance:Qw7@host9/db@127.0.0.1/glance", ErrUnsupportedScheme, `"oracle://****@127.0.0.1/glance"`, "host9"},
		{"mysql+pymysql://glance:Secr3tPw@controller:33o6/glance", ErrMalformed, "invalid port", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller:0/glance", ErrMalformed, "invalid port", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller:70000/glance", ErrMalformed, "invalid port", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?foo=bar", ErrMalformed, `unknown query option "foo"`, "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?password=0therSecret", ErrMalformed, `unknown query option "password"`, "0therSecret"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?charset=utf8;drop", ErrMalformed, "charset", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?read_timeout=-1", ErrMalformed, "read_timeout", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?connect_timeout=soon", ErrMalformed, "connect_timeout", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?ssl_ca=/nonexistent/ca.pem", ErrMalformed, "ssl_ca", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?ssl_verify_cert=maybe", ErrMalformed, "boolean", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@controller/glance?charset=utf8&charset=latin1", ErrMalformed, "more than once", "Secr3tPw"},
		{"mysql+pymysql://gl%3Aance:Secr3tPw@controller/glance", ErrMalformed, "go-sql-driver", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@[::1/glance", ErrMalformed, "IPv6", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3tPw@[::1]x/glance", ErrMalformed, "unexpected text", "Secr3tPw"},
		{"mysql+pymysql://glance:Secr3t%00Pw@controller/glance", ErrMalformed, "NUL", "Secr3t"},
		{"mysql+pymysql://glance:Secr3tPw@contr\noller/glance", ErrMalformed, "control characters", "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?sslmode=sometimes", ErrMalformed, "sslmode", "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?client_encoding=latin1", ErrMalformed, "client_encoding", "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?connect_timeout=1.5", ErrMalformed, "connect_timeout", "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?foo=1", ErrMalformed, `unknown query option "foo"`, "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?host=other", ErrMalformed, "host", "Secr3tPw"},
		{"postgresql://u:Secr3tPw@h/d?target_session_attrs=whatever", ErrMalformed, "target_session_attrs", "Secr3tPw"},
		{"sqlite://glance.sqlite", ErrMalformed, "3 slashes", ""},
		{"sqlite://u:Secr3tPw@h/x.db", ErrMalformed, "no user", "Secr3tPw"},
		{"sqlite:///x.db?mode=ro", ErrMalformed, `unknown query option "mode"`, ""},
		{"sqlite:///x.db?uri=true", ErrMalformed, "uri", ""},
		{"sqlite:///x.db?timeout=later", ErrMalformed, "timeout", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.in, u)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v is not %v", err, tc.sentinel)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "dburl: ") {
				t.Errorf("error %q lacks the dburl: prefix", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q is not one line", msg)
			}
			if !strings.Contains(msg, tc.msgHas) {
				t.Errorf("error %q does not mention %q", msg, tc.msgHas)
			}
			assertNoSecret(t, "error", msg, tc.secret)
			assertNoSecret(t, "ParseError.URL", pe.URL, tc.secret)
		})
	}
}

func TestSQLiteForeignKeysOption(t *testing.T) {
	dir := t.TempDir()
	u, err := Parse("sqlite:///" + filepath.Join(dir, "fk.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		var opts []OpenOption
		if on {
			opts = append(opts, WithSQLiteForeignKeys(true))
		}
		db, err := Open(ctx, u, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var fk, busy int
		if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if (fk == 1) != on || busy != 30000 {
			t.Errorf("foreign_keys=%d busy_timeout=%d, want foreign_keys on=%v busy 30000", fk, busy, on)
		}
		if db.Stats().MaxOpenConnections != 1 {
			t.Errorf("MaxOpenConnections = %d, want 1", db.Stats().MaxOpenConnections)
		}
		db.Close()
	}
}

func TestSQLiteOpenFile(t *testing.T) {
	dir := t.TempDir()
	// An absolute path with characters that need escaping in a file: URI.
	path := filepath.Join(dir, "a b%c#d&e=f.db") // a "?" would start the query, as in SQLAlchemy
	u, err := Parse("sqlite:///" + path)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != path {
		t.Fatalf("Path = %q, want %q", u.Path, path)
	}
	ctx := context.Background()
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var file string
	db, err = Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name='main'").Scan(&file); err != nil {
		t.Fatal(err)
	}
	if file != path {
		t.Errorf("opened %q, want %q", file, path)
	}
}

func TestSQLiteMemory(t *testing.T) {
	u, err := Parse("sqlite://")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestSQLiteUnopenable(t *testing.T) {
	u, err := Parse("sqlite:///" + filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), u)
	var ce *ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Open = %v, want a *ConnectError that is ErrUnreachable", err)
	}
}

func TestOpenConnectionParameters(t *testing.T) {
	u, err := Parse("sqlite:///" + filepath.Join(t.TempDir(), "cp.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, u, WithConnectionParameters("timeout=3"))
	if err != nil {
		t.Fatal(err)
	}
	var busy int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 3000 {
		t.Errorf("busy_timeout = %d (%v), want 3000", busy, err)
	}
	db.Close()

	_, err = Open(ctx, u, WithConnectionParameters("?bogus=1"))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "bogus") ||
		!strings.Contains(err.Error(), "connection_parameters") {
		t.Errorf("Open with bad connection_parameters = %v", err)
	}

	m, err := Parse("mysql+pymysql://u:Secr3tPw@127.0.0.1:1/d")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, m, WithConnectionParameters("charset=utf8mb4&nonsense=1"))
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("want ErrMalformed, got %v", err)
	}
	assertNoSecret(t, "error", fmt.Sprint(err), "Secr3tPw")
}

func TestMySQLSQLModeOption(t *testing.T) {
	u, err := Parse("mysql+pymysql://u:pw@h/d")
	if err != nil {
		t.Fatal(err)
	}
	mode := func(opts ...OpenOption) string {
		o := defaultOpenOptions()
		for _, f := range opts {
			f(&o)
		}
		v, err := parse(u.p.raw, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		return v.mysqlCfg.Params["sql_mode"]
	}
	if got := mode(); got != "'TRADITIONAL'" {
		t.Errorf("default sql_mode = %q", got)
	}
	if got := mode(WithMySQLSQLMode("STRICT_ALL_TABLES,NO_ZERO_DATE")); got != "'STRICT_ALL_TABLES,NO_ZERO_DATE'" {
		t.Errorf("sql_mode = %q", got)
	}
	if got := mode(WithMySQLSQLMode("")); got != "" {
		t.Errorf("empty mode gives sql_mode %q, want none", got)
	}
	_, err = Open(context.Background(), u, WithMySQLSQLMode("x'; DROP TABLE images; --"))
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("bad sql mode: %v", err)
	}
}

func TestTLSConfigNameDeterministic(t *testing.T) {
	a, err := Parse("mysql+pymysql://u:pw@h/d?ssl_verify_cert=false")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("mysql+pymysql://u:other@h/d2?ssl_verify_cert=false")
	if err != nil {
		t.Fatal(err)
	}
	if a.mysqlCfg.TLSConfig == "" || a.mysqlCfg.TLSConfig != b.mysqlCfg.TLSConfig {
		t.Errorf("TLS config names %q, %q: want equal and non-empty", a.mysqlCfg.TLSConfig, b.mysqlCfg.TLSConfig)
	}
}

func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, raw := range []string{
		"mysql+pymysql://glance:Unr3achablePw@127.0.0.1:1/glance",
		"postgresql://glance:Unr3achablePw@127.0.0.1:1/glance",
		"mysql+pymysql://glance:Unr3achablePw@/glance?unix_socket=/nonexistent/mysqld.sock",
	} {
		u, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		db, err := Open(ctx, u)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%s) succeeded", u)
		}
		var ce *ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("Open(%s) = %T %v, want *ConnectError", u, err, err)
		}
		if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAuth) {
			t.Errorf("Open(%s) = %v: want ErrUnreachable", u, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open(%s) took %v", u, d)
		}
		assertNoSecret(t, "error", err.Error(), "Unr3achablePw")
		assertNoSecret(t, "unwrapped error", errors.Unwrap(err).Error(), "Unr3achablePw")
		if !strings.HasPrefix(err.Error(), "dburl: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q: want one line starting dburl:", err)
		}
	}
}

func TestScrub(t *testing.T) {
	pw := "S3cr%t@/x"
	msg := "dial failed for user:" + pw + "@tcp(h)/ and " + url.QueryEscape(pw) + " and " + encodeAll(pw)
	got := scrub(msg, pw, "")
	assertNoSecret(t, "scrub", got, pw)
	if got := scrub("bad password ab!", "ab", ""); strings.Contains(got, "ab") {
		t.Errorf("short password kept: %q", got)
	}
	if got := scrub("line1\nline2", "", ""); got != "line1 line2" {
		t.Errorf("scrub newline = %q", got)
	}
}

func TestOpenNeedsParsedURL(t *testing.T) {
	if _, err := Open(context.Background(), &URL{}); err == nil {
		t.Fatal("Open of a zero URL succeeded")
	}
}

func TestPyUnquote(t *testing.T) {
	cases := map[string]string{
		"p%40ss":    "p@ss",
		"100%":      "100%",
		"a%zzb":     "a%zzb",
		"%4":        "%4",
		"a+b":       "a+b",
		"%C3%A4":    "ä",
		"%25%32%35": "%25",
	}
	for in, want := range cases {
		if got := pyUnquote(in); got != want {
			t.Errorf("pyUnquote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSupportedSchemes(t *testing.T) {
	s := strings.Join(SupportedSchemes(), " ")
	for _, want := range []string{"sqlite", "mysql+pymysql", "mariadb+pymysql", "postgresql+psycopg2", "postgres"} {
		if !strings.Contains(s, want) {
			t.Errorf("SupportedSchemes() lacks %q", want)
		}
	}
}

func TestSupportedListNamesAllSchemes(t *testing.T) {
	list := supportedList()
	for _, s := range SupportedSchemes() {
		dialect, driver, _ := strings.Cut(s, "+")
		if !strings.Contains(list, dialect) || driver != "" && !strings.Contains(list, "+"+driver) {
			t.Errorf("supportedList() %q does not name %q", list, s)
		}
	}
}

// TestUnencodedPasswords: an operator's password written into the URL
// unencoded (with '@', ':', '/', '%', '#', '?') never shows, not even a
// piece of it, whether the URL is refused (an '@' in it: everything up to
// the last '@' is hidden) or parsed and its server cannot be reached.
func TestUnencodedPasswords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, pw := range testdb.HostilePasswords {
		for _, scheme := range []string{"mysql+pymysql", "postgresql", "mariadb"} {
			raw := scheme + "://glance:" + pw + "@127.0.0.1:1/glance?connect_timeout=2"
			t.Run(raw, func(t *testing.T) {
				var shown []string
				u, err := Parse(raw)
				if err != nil {
					var pe *ParseError
					if !errors.As(err, &pe) {
						t.Fatalf("Parse: %T %v", err, err)
					}
					if strings.Contains(pw, "@") && pe.URL != scheme+"://****@127.0.0.1:1/glance?connect_timeout=2" {
						t.Errorf("ParseError.URL = %q", pe.URL)
					}
					shown = append(shown, err.Error(), pe.URL)
				} else {
					if strings.Contains(pw, "@") {
						t.Fatalf("Parse accepted a URL with two '@': %v", u)
					}
					shown = append(shown, u.Redacted(), fmt.Sprintf("%v %#v", u, u))
					db, err := Open(ctx, u)
					if err == nil {
						db.Close()
						t.Fatal("Open succeeded")
					}
					shown = append(shown, err.Error())
				}
				for _, s := range shown {
					for _, form := range []string{pw, pyUnquote(pw)} {
						if piece := testdb.Leak(s, form); piece != "" {
							t.Errorf("%q shows %q of the password %q", s, piece, pw)
						}
					}
				}
			})
		}
	}
}

// TestSQLiteBusy: behind another process's write transaction (the sqlite3
// shell after BEGIN IMMEDIATE), a write says it waits, naming the file and
// the process, and gives up after the busy timeout with a *BusyError that
// says so; a read does not wait. Once the shell is gone the write goes
// through.
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	u, err := Parse("sqlite:///" + path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waits := make(chan BusyWait, 10)
	db, err := Open(ctx, u, WithSQLiteBusyTimeout(2*time.Second), WithSQLiteBusyNotice(func(w BusyWait) { waits <- w }))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	pid, release := testdb.HoldSQLiteWriteLock(t, path)

	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("a read behind a write transaction: %v", err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, ErrBusy) || !be.Timeout() {
		t.Fatalf("insert: %T %v, want a *BusyError that timed out", err, err)
	}
	if be.Path != path || be.Limit != 2*time.Second || be.Waited < 2*time.Second {
		t.Errorf("BusyError %+v", be)
	}
	if len(be.Holders) == 0 || be.Holders[0].PID != pid || !be.Holders[0].Write || be.Holders[0].Command != "sqlite3" {
		t.Errorf("holders %+v, want sqlite3 (pid %d) with the write lock", be.Holders, pid)
	}
	for _, want := range []string{path, "another connection (pid " + strconv.Itoa(pid) + ", sqlite3) holds its write lock", "; gave up after 2", "s (busy timeout 2s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	select {
	case w := <-waits:
		if w.Path != path || !w.Writing() || w.Holders[0].PID != pid || w.Waited >= 2*time.Second {
			t.Errorf("notice %+v", w)
		}
	default:
		t.Error("no notice of the wait")
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		t.Error("the driver's error is not reachable")
	}

	release()
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("insert after the shell ended: %v", err)
	}
	if len(waits) != 0 {
		t.Errorf("notices without a wait: %v", <-waits)
	}
}
