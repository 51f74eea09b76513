package dialect

import (
	"context"
	"database/sql"
)

// Expressions spells the SQL that backends write differently, for code
// that writes its own queries (data migrations, the purge, test seeding).
// Every dialect has them (Dialect embeds Expressions). Arguments are SQL
// text the caller wrote: column names, expressions, quoted literals.
type Expressions interface {
	// IsTrue and IsFalse test a boolean column: col and NOT col where
	// booleans are a type (PostgreSQL), col = 1 and col = 0 elsewhere.
	IsTrue(col string) string
	IsFalse(col string) string
	// CastText renders expr as text in the database's own format, so
	// that it can be passed back as an argument and compare equal.
	CastText(expr string) string
	// Contains is the condition that the text literal lit (quoted)
	// occurs in the text col.
	Contains(col, lit string) string
	// EnumValue gives value the enumerated type enum where enums are
	// types of their own (PostgreSQL); value elsewhere.
	EnumValue(value, enum string) string
	// KeyWalk keeps a planner that would rather read col's index (and
	// sort) on the walk of the primary key: "+col" on SQLite, col
	// elsewhere.
	KeyWalk(col string) string
	// Unindexed hides col from every index where a secondary index is
	// not in primary-key order: "+col" (SQLite), COALESCE(col, NULL)
	// (PostgreSQL); col on MySQL, whose secondary indexes end with the
	// primary key.
	Unindexed(col string) string
	// ForceIndex is the FROM item reading table through index, "" where
	// the backend has no such hint (then read table).
	ForceIndex(table, index string) string
}

// Rebuilder is implemented by dialects that cannot change or drop a
// column in place (SQLite): a revision rebuilds the table instead
// (schema.RebuildTable) of AlterColumn and DropColumn of an indexed
// column. RebuildsTables reports it.
type Rebuilder interface {
	RebuildsTables() bool
}

// RebuildsTables reports whether d changes columns by rebuilding tables.
func RebuildsTables(d Dialect) bool {
	r, ok := d.(Rebuilder)
	return ok && r.RebuildsTables()
}

// SingleWriter is implemented by dialects whose database takes one
// writer at a time with no queue of waiting writers (SQLite): a writer
// waiting for the lock polls for it and rarely catches the moment
// between two transactions, so code writing in many short transactions
// pauses between them, and takes the write lock at the start of each so
// that the wait for it is not counted as the transaction's cost.
//
//   - BeginWrite starts a transaction that holds the write lock
//     ("BEGIN IMMEDIATE"); the caller ends it with COMMIT or ROLLBACK on
//     the same connection.
//   - WriterSession makes conn enforce foreign keys and use a page cache
//     of cacheKiB for a long series of writes; restore puts both back.
type SingleWriter interface {
	BeginWrite() string
	WriterSession(ctx context.Context, conn *sql.Conn, cacheKiB int) (restore func() error, err error)
}

// Pages is implemented by dialects whose tables can be read by physical
// page (PostgreSQL's ctid), which reads each page once whatever the
// order of the keys.
//
//   - PageStats returns the table's size in pages now, and the
//     statistics' rows and pages (0 when never analyzed).
//   - PageRange is the condition selecting the rows in pages [lo, hi);
//     hi < 0: to the end.
type Pages interface {
	PageStats(ctx context.Context, q Querier, table string) (pages, tuples, statPages float64, err error)
	PageRange(lo, hi int64) string
}

// ForeignKeys is implemented by dialects that can tell a foreign-key
// violation from other errors, by the server's error number.
type ForeignKeys interface {
	ForeignKeyViolation(err error) bool
}

// ReadOnlyTx is implemented by dialects whose drivers take read-only
// transactions (sql.TxOptions.ReadOnly): MySQL and PostgreSQL. The
// SQLite dialect does not ask for them.
type ReadOnlyTx interface {
	ReadOnlyTx() bool
}

// ReadOnlyTransactions reports whether d takes read-only transactions.
func ReadOnlyTransactions(d Dialect) bool {
	r, ok := d.(ReadOnlyTx)
	return ok && r.ReadOnlyTx()
}
