package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// NamePrefix starts the name of every database Create makes on a server.
const NamePrefix = "gmt_"

// server is a parsed GLANCE_TEST_*_URL: where to create databases, and with
// which credentials.
type server struct {
	backend  Backend
	scheme   string // as given, e.g. mysql+pymysql, postgresql
	user     *url.Userinfo
	host     string // without port
	port     string
	adminDB  string // the database named in the URL; used for CREATE/DROP
	query    url.Values
	original string // for messages; never printed with the password
}

// parseServer parses the server URL of backend b from the environment.
func parseServer(b Backend) (*server, error) {
	env := EnvMySQL
	if b == PostgreSQL {
		env = EnvPostgres
	}
	raw := os.Getenv(env)
	if raw == "" {
		return nil, Enabled(b)
	}
	return parseServerURL(b, env, raw)
}

// parseServerURL parses raw, the value (or one of the values) of the
// environment variable env, as a server of backend b.
func parseServerURL(b Backend, env, raw string) (*server, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse's message would echo the password.
		return nil, fmt.Errorf("%s is not a valid URL", env)
	}
	driver, _, _ := strings.Cut(u.Scheme, "+")
	s := &server{backend: b, scheme: u.Scheme, user: u.User, host: u.Hostname(), port: u.Port(),
		adminDB: strings.TrimPrefix(u.Path, "/"), query: u.Query(), original: u.Redacted()}
	switch b {
	case MySQL:
		if driver != "mysql" && driver != "mariadb" {
			return nil, fmt.Errorf("%s: scheme %q is not mysql[+driver]", env, u.Scheme)
		}
		if s.port == "" {
			s.port = "3306"
		}
	case PostgreSQL:
		if driver != "postgresql" && driver != "postgres" {
			return nil, fmt.Errorf("%s: scheme %q is not postgresql[+driver]", env, u.Scheme)
		}
		if s.port == "" {
			s.port = "5432"
		}
	}
	if s.host == "" {
		s.host = "127.0.0.1"
	}
	if s.user == nil || s.user.Username() == "" {
		return nil, fmt.Errorf("%s (%s) names no user", env, s.original)
	}
	return s, nil
}

// sqlalchemyURL is the URL of database name on this server, for the
// reference tool and our CLI.
func (s *server) sqlalchemyURL(name string) string {
	q := url.Values{}
	for k, v := range s.query {
		q[k] = v
	}
	if s.backend == MySQL && q.Get("charset") == "" {
		q.Set("charset", "utf8")
	}
	u := url.URL{Scheme: s.scheme, User: s.user, Host: net.JoinHostPort(s.host, s.port), Path: "/" + name, RawQuery: q.Encode()}
	return u.String()
}

// open opens database name (or the server's admin database if name is "")
// with the Go driver.
func (s *server) open(name string) (*sql.DB, error) {
	return s.openWith(name, nil)
}

// openWith is open with session variables set on every new connection
// (MySQL/MariaDB only, e.g. wsrep_sync_wait).
func (s *server) openWith(name string, vars map[string]string) (*sql.DB, error) {
	if name == "" {
		name = s.adminDB
	}
	pass, _ := s.user.Password()
	switch s.backend {
	case MySQL:
		cfg := mysql.NewConfig()
		cfg.User = s.user.Username()
		cfg.Passwd = pass
		cfg.Net = "tcp"
		cfg.Addr = net.JoinHostPort(s.host, s.port)
		if sock := s.query.Get("unix_socket"); sock != "" {
			cfg.Net, cfg.Addr = "unix", sock
		}
		cfg.DBName = name
		cfg.AllowNativePasswords = true
		// Statements go as text, arguments inlined by the client, as
		// PyMySQL (Glance's services) and this tool (package dburl)
		// send them; no server-side prepared statements, which MariaDB
		// fails with "Table ... doesn't exist" when a trigger naming
		// another table is created between prepare and execute (see
		// docs/locks.md, shadow copies).
		cfg.InterpolateParams = true
		cfg.Params = vars
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	default:
		q := url.Values{}
		// Pass libpq-style parameters (sslmode, host=/socket/dir, ...)
		// through; pgx understands them.
		for k, v := range s.query {
			q[k] = v
		}
		if q.Get("sslmode") == "" {
			q.Set("sslmode", "prefer")
		}
		u := url.URL{Scheme: "postgres", User: s.user, Host: net.JoinHostPort(s.host, s.port), Path: "/" + name, RawQuery: q.Encode()}
		return sql.Open("pgx", u.String())
	}
}

func randomName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return NamePrefix + hex.EncodeToString(b[:]), nil
}

// Create makes a fresh, empty database on backend b. For SQLite the file is
// created in dir (which must exist); dir is ignored for the servers. The
// caller must call Destroy (or at least close DB.SQL).
func Create(ctx context.Context, b Backend, dir string) (*DB, error) {
	if err := Enabled(b); err != nil {
		return nil, err
	}
	if b == SQLite {
		return createSQLite(dir)
	}
	s, err := parseServer(b)
	if err != nil {
		return nil, err
	}
	return s.create(ctx)
}

// create makes a fresh, empty database on server s.
func (s *server) create(ctx context.Context) (*DB, error) {
	b := s.backend
	name, err := randomName()
	if err != nil {
		return nil, err
	}
	admin, err := s.open("")
	if err != nil {
		return nil, fmt.Errorf("%s server %s: %w", b, s.original, err)
	}
	defer admin.Close()
	var stmt string
	if b == MySQL {
		// An explicit character set and collation, so that tables created
		// without options (alembic_version) look the same whatever the
		// server's defaults are.
		stmt = "CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
	} else {
		stmt = `CREATE DATABASE "` + name + `"`
	}
	if _, err := admin.ExecContext(ctx, stmt); err != nil {
		return nil, fmt.Errorf("%s server %s: %w", b, s.original, err)
	}
	db := &DB{Backend: b, URL: s.sqlalchemyURL(name), Name: name, srv: s}
	db.SQL, err = s.open(name)
	if err == nil {
		err = db.SQL.PingContext(ctx)
	}
	if err != nil {
		if db.SQL != nil {
			db.SQL.Close()
		}
		_ = s.drop(ctx, admin, name)
		return nil, fmt.Errorf("%s database %s: %w", b, name, err)
	}
	return db, nil
}

func createSQLite(dir string) (*DB, error) {
	if dir == "" {
		return nil, errors.New("sqlite: Create needs a directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "glance.db")
	if _, err := os.Stat(path); err == nil {
		name, err := randomName()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, name+".db")
	}
	db, err := OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	return &DB{Backend: SQLite, URL: "sqlite:///" + filepath.ToSlash(path), SQL: db, Name: path}, nil
}

// OpenSQLite opens the SQLite file at path with the Go driver, with foreign
// keys off and a busy timeout, as the test databases are opened.
func OpenSQLite(path string) (*sql.DB, error) {
	return sql.Open("sqlite", path+"?_pragma=foreign_keys(0)&_pragma=busy_timeout(10000)")
}

// Destroy closes the database and, on a server, drops it.
func (d *DB) Destroy(ctx context.Context) error {
	var errs []error
	if d.SQL != nil {
		errs = append(errs, d.SQL.Close())
	}
	if d.srv != nil {
		admin, err := d.srv.open("")
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, d.srv.drop(ctx, admin, d.Name))
			admin.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroying %s database %s: %w", d.Backend, d.Name, err)
	}
	return nil
}

func (s *server) drop(ctx context.Context, admin *sql.DB, name string) error {
	if !strings.HasPrefix(name, NamePrefix) {
		return fmt.Errorf("refusing to drop %q: not a test database", name)
	}
	if s.backend == MySQL {
		_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		return err
	}
	// WITH (FORCE) (PostgreSQL 13+) ends sessions a test may have leaked.
	_, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	if err != nil && strings.Contains(err.Error(), "syntax error") {
		_, err = admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`"`)
	}
	return err
}
