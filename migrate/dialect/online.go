package dialect

import (
	"context"
	"time"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Stmt is one step of an operation on a live, online run.
type Stmt struct {
	// Forms are alternative spellings of the same change, most online
	// first (MySQL: ALGORITHM=INSTANT, then INPLACE with LOCK=NONE, then
	// the plain statement). The engine tries them in order and moves to
	// the next only when the server refuses a form as unsupported
	// (Online.Refused); the last form is the plain statement.
	Forms []string
	// NoTx: the statement cannot run inside a transaction (PostgreSQL's
	// CREATE INDEX CONCURRENTLY). The engine commits the revision's
	// transaction before it and starts a new one after it, and resumes an
	// interrupted revision by asking Done for each operation.
	NoTx bool
}

// Plain wraps rendered statements as single-form, transactional steps.
func Plain(stmts []string) []Stmt {
	out := make([]Stmt, len(stmts))
	for i, s := range stmts {
		out[i] = Stmt{Forms: []string{s}}
	}
	return out
}

// Online is implemented by dialects that can change a schema while
// services keep writing to it. The engine uses it for online runs (db
// expand, db contract, db upgrade); offline runs and RenderSQL use Render.
//
// The contract:
//   - OnlineRender must have the same effect on the schema as Render.
//   - SessionSQL bounds how long one statement may wait for a lock before
//     it fails with an error Retryable accepts, so that a DDL statement
//     stuck behind a long transaction never keeps a queue of writers
//     waiting behind it for longer than timeout. The statements run at the
//     start of every transaction (transactional DDL) or once on the
//     connection (MySQL); ResetSQL undoes them on the connection.
//   - Retryable reports errors after which running the same work again
//     later may succeed: a lock wait that timed out, a deadlock, a busy
//     database.
//   - Refused reports that the server does not support this form of a
//     statement (try the next form).
type Online interface {
	OnlineRender(op schema.Op) ([]Stmt, error)
	SessionSQL(timeout time.Duration) []string
	ResetSQL() []string
	Retryable(err error) bool
	Refused(err error) bool
}

// Sizer is implemented by dialects whose online table rebuilds depend on
// the server keeping the table in memory. InnoDB (MySQL, MariaDB) rebuilds
// a table online while writers go on, then replays the last of their
// changes with the table latched; when the table is larger than the
// buffer pool that replay reads pages from disk, and writers wait
// seconds instead of milliseconds.
//
// TableSize returns the approximate bytes of table's data and indexes
// (the server's statistics), 0 when the table does not exist, and the
// bytes of the server's buffer cache.
type Sizer interface {
	TableSize(ctx context.Context, q Querier, table string) (size, cache int64, err error)
}
