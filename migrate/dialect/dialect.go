// Package dialect defines what the migration engine needs from a database
// backend. A dialect only builds SQL and inspects the live schema; the
// engine (package migrate) runs the statements and owns transactions.
//
// Every dialect package (sqlite, mysql, postgres) has the same files:
// dialect.go (the type and its capabilities), render.go (operations to
// SQL) and inspect.go (is an operation already done?); the server
// dialects (mysql, postgres) also have blockers.go (LockWaits: who is in
// an online statement's way).
package dialect

import (
	"context"
	"database/sql"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Querier is satisfied by *sql.DB, *sql.Conn and *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Dialect is one backend's SQL. Implementations must be stateless and safe
// for concurrent use.
type Dialect interface {
	Expressions

	// Name is the backend, the SQLAlchemy dialect name: SQLite, MySQL or
	// PostgreSQL; the dialect is registered under it (Register).
	Name() Backend

	// TransactionalDDL reports whether DDL statements can be rolled back
	// (SQLite, PostgreSQL). When false (MySQL), every statement commits by
	// itself and the engine resumes by asking Done.
	TransactionalDDL() bool

	// Placeholder returns the bind parameter marker for argument n
	// (1-based): "?" or "$n".
	Placeholder(n int) string

	// Render returns the statements that perform op, in order. An op the
	// backend has no use for (CreateEnum outside PostgreSQL) renders to
	// none. An op the backend cannot express returns an error.
	Render(op schema.Op) ([]string, error)

	// Done reports whether op's effect is already present in the live
	// schema, so that re-running a revision interrupted part-way skips it.
	// Each schema.Op documents what "done" means.
	Done(ctx context.Context, q Querier, op schema.Op) (bool, error)

	// TableExists reports whether a table exists in the current database.
	TableExists(ctx context.Context, q Querier, table string) (bool, error)

	// Tables lists the current database's tables.
	Tables(ctx context.Context, q Querier) ([]string, error)

	// ColumnExists reports whether table has column.
	ColumnExists(ctx context.Context, q Querier, table, column string) (bool, error)
}

// Catalog is implemented by dialects that can name a table's columns and
// quote an identifier, for tools that read whole tables generically
// (snapshots of a database's rows in tests and checks).
//
//   - Columns lists table's columns in their declared order; none when
//     the table does not exist.
//   - Quote returns ident quoted for the backend ("name", `name`).
type Catalog interface {
	Columns(ctx context.Context, q Querier, table string) ([]string, error)
	Quote(ident string) string
}
