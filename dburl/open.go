package dburl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// OpenOption adjusts how Open connects.
type OpenOption func(*openOptions)

type openOptions struct {
	sqlMode     string
	sqliteFK    bool
	connParams  string
	sqliteBusy  time.Duration // < 0: the URL's ?timeout=, or the default
	sqliteWaits func(BusyWait)
}

func defaultOpenOptions() openOptions {
	return openOptions{sqlMode: DefaultMySQLSQLMode, sqliteBusy: -1}
}

// WithSQLiteBusyTimeout sets how long a statement on an SQLite database
// waits for another connection's lock before it fails with a *BusyError
// (SQLite's busy timeout), in place of the URL's ?timeout= and
// DefaultSQLiteBusyTimeout; 0 does not wait. Ignored for other backends.
func WithSQLiteBusyTimeout(d time.Duration) OpenOption {
	return func(o *openOptions) { o.sqliteBusy = max(d, 0) }
}

// WithSQLiteBusyNotice makes Open's SQLite connections call fn when a call
// has waited BusyNoticeAfter and another process holds a lock it waits
// for (read from /proc/locks): once per call, from another goroutine (the
// calls are serialized). Ignored for other backends and in memory.
func WithSQLiteBusyNotice(fn func(BusyWait)) OpenOption {
	return func(o *openOptions) { o.sqliteWaits = fn }
}

// WithMySQLSQLMode sets the session sql_mode of MySQL connections (oslo.db's
// [database] mysql_sql_mode). The default is "TRADITIONAL"; "" leaves the
// server's sql_mode alone. Ignored for other backends.
func WithMySQLSQLMode(mode string) OpenOption {
	return func(o *openOptions) { o.sqlMode = strings.TrimSpace(mode) }
}

// WithSQLiteForeignKeys turns SQLite foreign key enforcement on or off for
// every connection. The default is off, as upstream's migrations run.
// Ignored for other backends.
func WithSQLiteForeignKeys(on bool) OpenOption {
	return func(o *openOptions) { o.sqliteFK = on }
}

// WithConnectionParameters merges an extra URL query string (oslo.db's
// [database] connection_parameters, e.g. "charset=utf8mb4&read_timeout=30")
// into the URL's query before connecting. Options are validated as if they
// had been written in the URL; repeating an option of the URL with a
// different value is an error.
func WithConnectionParameters(query string) OpenOption {
	return func(o *openOptions) { o.connParams = strings.TrimPrefix(strings.TrimSpace(query), "?") }
}

// Pool sizes: a CLI needs few connections. SQLite gets exactly one, so
// that an in-memory database lives as long as the *sql.DB and writers never
// contend with each other.
const (
	maxOpenConns    = 4
	connMaxLifetime = time.Hour // oslo.db's connection_recycle_time
)

// Open connects to the database u names: it opens a *sql.DB with the
// right driver and pings it. Parse errors of the merged connection
// parameters are *ParseError; connection failures are *ConnectError,
// classified as ErrAuth or ErrUnreachable where possible. No error text
// contains the password.
func Open(ctx context.Context, u *URL, opts ...OpenOption) (*sql.DB, error) {
	if u == nil || u.p == nil {
		return nil, errors.New("dburl: Open needs a URL returned by Parse")
	}
	o := defaultOpenOptions()
	for _, f := range opts {
		f(&o)
	}
	var extra []queryParam
	if o.connParams != "" {
		extra = parseQSL(o.connParams)
	}
	// Rebuild with the options (and extra parameters) applied.
	v, err := parse(u.p.raw, extra, o)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.URL = u.Redacted()
			if o.connParams != "" {
				pe.Reason += " (with connection_parameters applied)"
			}
		}
		return nil, err
	}

	var db *sql.DB
	switch v.Backend {
	case MySQL:
		conn, err := mysql.NewConnector(v.mysqlCfg)
		if err != nil {
			return nil, newConnectError(v, err)
		}
		db = sql.OpenDB(conn)
		db.SetMaxOpenConns(maxOpenConns)
		db.SetMaxIdleConns(maxOpenConns)
		db.SetConnMaxLifetime(connMaxLifetime)
	case Postgres:
		if db, err = sql.Open(v.Driver, v.DSN); err != nil {
			return nil, newConnectError(v, err)
		}
		db.SetMaxOpenConns(maxOpenConns)
		db.SetMaxIdleConns(maxOpenConns)
		db.SetConnMaxLifetime(connMaxLifetime)
	default:
		base, err := sqlite.NewConnector(v.DSN)
		if err != nil {
			return nil, newConnectError(v, err)
		}
		w := &sqliteWatch{timeout: v.sqliteBusy, notice: o.sqliteWaits}
		if v.Path != "" {
			if w.path, err = filepath.Abs(v.Path); err != nil {
				return nil, newConnectError(v, err)
			}
		}
		db = sql.OpenDB(&sqliteConnector{base: base, w: w})
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		var ro *ReadOnlyError
		if errors.As(err, &ro) {
			return nil, err // not a connection failure: the file cannot be created
		}
		return nil, newConnectError(v, err)
	}
	return db, nil
}

// encodeAll percent-encodes every byte outside the unreserved set.
func encodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func newConnectError(u *URL, err error) *ConnectError {
	return &ConnectError{
		Backend:  u.Backend,
		Redacted: u.Redacted(),
		Err:      &scrubbedError{msg: scrub(err.Error(), u.password, u.DSN), err: err},
		Kind:     classify(err),
	}
}

// scrub removes the password, in the forms a driver might echo it, and
// the DSN from a driver message. A password too short to be replaced
// without mangling the message causes the message to be withheld.
func scrub(msg, password, dsn string) string {
	if dsn != "" {
		msg = strings.ReplaceAll(msg, dsn, "<dsn>")
	}
	if password == "" {
		return oneLine(msg)
	}
	forms := []string{password, url.QueryEscape(password), url.PathEscape(password), encodeAll(password), quoteConnValue(password)}
	for _, f := range forms {
		if !strings.Contains(msg, f) {
			continue
		}
		if len(f) < 4 {
			return "driver message withheld because it may contain the password"
		}
		msg = strings.ReplaceAll(msg, f, "****")
	}
	return oneLine(msg)
}

// classify maps a driver error to ErrAuth, ErrUnreachable or nil.
func classify(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1044, 1045, 1698: // db access denied, access denied, socket auth
			return ErrAuth
		}
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if strings.HasPrefix(pe.Code, "28") { // invalid authorization / password
			return ErrAuth
		}
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		if se.Code()&0xff == 14 { // SQLITE_CANTOPEN
			return ErrUnreachable
		}
		return nil
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET),
		errors.As(err, &oe), errors.As(err, &de):
		return ErrUnreachable
	case errors.As(err, &ne) && ne.Timeout():
		return ErrUnreachable
	case errors.Is(err, syscall.ENOENT): // missing unix socket
		return ErrUnreachable
	}
	// pgx reports some dial failures as text only.
	msg := err.Error()
	if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "no such file or directory") {
		return ErrUnreachable
	}
	return nil
}
