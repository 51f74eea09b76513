// Package testdb hands tests a fresh, empty, isolated database on each backend
// Glance supports (SQLite, MySQL/MariaDB, PostgreSQL), and runs the upstream
// reference glance-manage against it.
//
// SQLite always works. The server backends are opt-in through environment
// variables naming an existing server database whose credentials are used to
// create (and afterwards drop) a uniquely named database next to it:
//
//	GLANCE_TEST_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306/test
//	GLANCE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test
//
// When a variable is unset the tests of that backend are skipped, unless
// CI=true, in which case they fail: CI must run every backend.
// GLANCE_TEST_KEEP_DB=1 keeps the created databases for inspection.
//
// Private servers started by the repository's scripts are named the same
// way (the Env* constants): a Galera cluster, optionally behind HAProxy
// (tools/galera/cluster.sh; NewGalera, GaleraKill, GaleraRestart), a
// MariaDB primary with binary logging and its replica, and a PostgreSQL
// primary and its streaming standby (tools/replica; NewReplicated, with
// helpers that make and remove lag). Each is held by one test process at a
// time (Hold).
//
// The functions taking a testing.TB are thin wrappers around Create, Enabled,
// FindReference and ExecReference, which tools outside tests may use.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Backend names a database backend (the dialect package's type).
type Backend = dialect.Backend

// The supported backends (the dialect package's constants).
const (
	SQLite     = dialect.SQLite
	MySQL      = dialect.MySQL
	PostgreSQL = dialect.PostgreSQL
)

// All lists every backend, in a fixed order.
var All = []Backend{SQLite, MySQL, PostgreSQL}

// Environment variables read by this package.
const (
	EnvMySQL     = "GLANCE_TEST_MYSQL_URL"
	EnvPostgres  = "GLANCE_TEST_POSTGRES_URL"
	EnvReference = "GLANCE_REFERENCE_BIN"
	EnvKeep      = "GLANCE_TEST_KEEP_DB"
	EnvCI        = "CI"
)

// DB is one fresh database.
type DB struct {
	Backend Backend
	// URL is an SQLAlchemy-style URL usable by the reference tool and by our
	// CLI: sqlite:////abs/path, mysql+pymysql://root@127.0.0.1:3306/<name>?charset=utf8,
	// postgresql://postgres@127.0.0.1:5432/<name>.
	URL string
	// SQL is a pool opened directly with the Go driver. On SQLite foreign
	// keys are off (as in upstream's migration engine) and a busy timeout is set.
	SQL *sql.DB
	// Name is the database name; for SQLite the file path.
	Name string

	srv *server // nil for SQLite
}

// CI reports whether the environment variable CI is set to a true value.
func CI() bool {
	v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv(EnvCI)))
	return err == nil && v
}

// Enabled returns nil if backend b can be used, or an error saying which
// environment variable to set.
func Enabled(b Backend) error {
	switch b {
	case SQLite:
		return nil
	case MySQL:
		if os.Getenv(EnvMySQL) == "" {
			return fmt.Errorf("MySQL tests skipped: set %s (e.g. mysql+pymysql://root@127.0.0.1:3306/test) to run them", EnvMySQL)
		}
		return nil
	case PostgreSQL:
		if os.Getenv(EnvPostgres) == "" {
			return fmt.Errorf("PostgreSQL tests skipped: set %s (e.g. postgresql://postgres@127.0.0.1:5432/test) to run them", EnvPostgres)
		}
		return nil
	}
	return fmt.Errorf("testdb: unknown backend %q (want one of sqlite, mysql, postgresql)", string(b))
}

// Require skips the test unless backend b is enabled. With CI=true a
// disabled backend fails the test instead.
func Require(t testing.TB, b Backend) {
	t.Helper()
	switch b {
	case SQLite, MySQL, PostgreSQL:
	default:
		t.Fatalf("testdb: unknown backend %q", string(b))
	}
	if err := Enabled(b); err != nil {
		if CI() {
			t.Fatalf("%v (CI=true: every backend must run)", err)
		}
		t.Skip(err.Error())
	}
}

// New creates a fresh, uniquely named, empty database on backend b and
// registers a cleanup that closes it and drops it. It skips (or with CI=true
// fails) like Require when the backend is not enabled.
func New(t testing.TB, b Backend) *DB {
	t.Helper()
	Require(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := ""
	if b == SQLite {
		dir = t.TempDir()
	}
	db, err := Create(ctx, b, dir)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if keep() {
			db.SQL.Close()
			t.Logf("testdb: %s=1, keeping %s database %s", EnvKeep, db.Backend, db.Name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.Destroy(ctx); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return db
}

func keep() bool {
	v, err := strconv.ParseBool(os.Getenv(EnvKeep))
	return err == nil && v
}

// ForEach runs f once for each backend in All, as a subtest named after
// the backend (t.Run(string(b), ...)), in All's order. Whether a server
// backend runs, skips or fails is up to what f calls (New, Require).
func ForEach(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range All {
		t.Run(string(b), func(t *testing.T) { f(t, b) })
	}
}
