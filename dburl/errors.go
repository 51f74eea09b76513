package dburl

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors. Use errors.Is to test for them.
var (
	// ErrUnsupportedScheme means the URL does not start with one of the
	// supported "scheme://" prefixes (or is empty, or is not a URL at all).
	ErrUnsupportedScheme = errors.New("dburl: unsupported database URL scheme")

	// ErrMalformed means the URL has a supported scheme but cannot be
	// used: bad port, unknown or invalid query option, unreadable TLS
	// file, and so on.
	ErrMalformed = errors.New("dburl: malformed database URL")

	// ErrAuth classifies a *ConnectError caused by the server rejecting
	// the credentials (MySQL errors 1044, 1045, 1698; PostgreSQL SQLSTATE
	// class 28).
	ErrAuth = errors.New("dburl: authentication failed")

	// ErrUnreachable classifies a *ConnectError caused by the server not
	// being reachable at all: connection refused, unknown host, timeout,
	// missing socket, or an SQLite file that cannot be opened.
	ErrUnreachable = errors.New("dburl: database server unreachable")
)

// ParseError is returned by Parse. Its text is a single line that never
// contains the password of the URL.
type ParseError struct {
	URL    string // the URL with the password replaced by "****"
	Reason string // what is wrong, e.g. `unknown query option "foo"`
	Err    error  // ErrUnsupportedScheme or ErrMalformed
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("dburl: ")
	b.WriteString(e.Reason)
	if e.URL != "" {
		fmt.Fprintf(&b, " (in database URL %q)", e.URL)
	}
	return oneLine(b.String())
}

func (e *ParseError) Unwrap() error { return e.Err }

// ConnectError is returned by Open when the database cannot be reached or
// refuses the connection. Its text never contains the password: the
// driver's message is scrubbed of it.
type ConnectError struct {
	Backend  Backend
	Redacted string // the URL with the password replaced by "****"
	// Err is the driver error, wrapped so that its Error() text is
	// scrubbed of the password; errors.As still reaches the driver's own
	// error types (whose own Error() is not scrubbed: do not print those).
	Err error
	// Kind is ErrAuth, ErrUnreachable or nil when the failure could not
	// be classified.
	Kind error
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dburl: cannot connect to %s database %q", e.Backend, e.Redacted)
	switch e.Kind {
	case ErrAuth:
		b.WriteString(" (authentication failed)")
	case ErrUnreachable:
		b.WriteString(" (server unreachable)")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return oneLine(b.String())
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Is reports whether target is the classification of this error, so that
// errors.Is(err, ErrAuth) and errors.Is(err, ErrUnreachable) work.
func (e *ConnectError) Is(target error) bool {
	return e.Kind != nil && target == e.Kind
}

// scrubbedError carries a driver error whose message has been cleaned of
// secrets, while keeping the original reachable for errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// oneLine folds any line breaks and other control characters into spaces.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ErrConnectionLost matches the errors ConnectionLost recognises.
var ErrConnectionLost = errors.New("dburl: the database server closed or dropped the connection")

// ConnectionLost reports whether err says that the server closed or
// dropped the connection while it was in use: the session was killed
// (MySQL KILL, PostgreSQL pg_terminate_backend), the server shut down or
// restarted, or the network between failed. Work in flight on that
// connection was not committed; other connections of the pool are opened
// anew.
func ConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrConnectionLost) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1927, 1053, 2006, 2013: // ER_CONNECTION_KILLED, ER_SERVER_SHUTDOWN, CR_SERVER_GONE_ERROR, CR_SERVER_LOST
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// admin_shutdown, crash_shutdown, cannot_connect_now,
		// idle_session_timeout; class 08: connection exceptions.
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "57P05" || strings.HasPrefix(pe.Code, "08")
	}
	// pgx reports a connection it closed after a fatal error as text.
	return strings.HasSuffix(err.Error(), "conn closed")
}

// driverLog receives the MySQL driver's own log lines (see SetDriverLog).
var driverLog atomic.Pointer[func(string)]

// SetDriverLog sends the log lines the MySQL driver writes by itself
// (such as "packets.go:58 unexpected EOF" when a connection drops) to fn;
// nil, the default, discards them: the error the query returns says what
// happened, and the driver would write to the process's stderr.
func SetDriverLog(fn func(string)) {
	if fn == nil {
		driverLog.Store(nil)
		return
	}
	driverLog.Store(&fn)
}

type mysqlLogger struct{}

func (mysqlLogger) Print(v ...any) {
	if fn := driverLog.Load(); fn != nil {
		(*fn)(strings.TrimSpace(fmt.Sprint(v...)))
	}
}

func init() { _ = mysql.SetLogger(mysqlLogger{}) }
