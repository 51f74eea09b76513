package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var (
	_ dialect.Expressions  = Dialect{}
	_ dialect.Rebuilder    = Dialect{}
	_ dialect.SingleWriter = Dialect{}
	_ dialect.ForeignKeys  = Dialect{}
)

// IsTrue implements dialect.Expressions.
func (Dialect) IsTrue(col string) string { return col + " = 1" }

// IsFalse implements dialect.Expressions.
func (Dialect) IsFalse(col string) string { return col + " = 0" }

// CastText implements dialect.Expressions.
func (Dialect) CastText(expr string) string { return "CAST(" + expr + " AS TEXT)" }

// Contains implements dialect.Expressions.
func (Dialect) Contains(col, lit string) string { return "INSTR(" + col + ", " + lit + ") > 0" }

// EnumValue implements dialect.Expressions: SQLite's enums are text.
func (Dialect) EnumValue(value, _ string) string { return value }

// KeyWalk implements dialect.Expressions: unary + keeps SQLite's planner
// from reading col's index instead of the primary key (and sorting).
func (Dialect) KeyWalk(col string) string { return "+" + col }

// Unindexed implements dialect.Expressions.
func (Dialect) Unindexed(col string) string { return "+" + col }

// ForceIndex implements dialect.Expressions: SQLite takes no such hint.
func (Dialect) ForceIndex(_, _ string) string { return "" }

// RebuildsTables implements dialect.Rebuilder: SQLite's ALTER TABLE
// cannot change a column, and drops none that an index names.
func (Dialect) RebuildsTables() bool { return true }

// BeginWrite implements dialect.SingleWriter.
func (Dialect) BeginWrite() string { return "BEGIN IMMEDIATE" }

// WriterSession implements dialect.SingleWriter.
func (Dialect) WriterSession(ctx context.Context, conn *sql.Conn, cacheKiB int) (func() error, error) {
	var fk, cache int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
		return nil, err
	}
	set := fmt.Sprintf("PRAGMA foreign_keys = ON; PRAGMA cache_size = %d", -cacheKiB)
	if _, err := conn.ExecContext(ctx, set); err != nil {
		return nil, err
	}
	return func() error {
		_, err := conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA foreign_keys = %d; PRAGMA cache_size = %d", fk, cache))
		return err
	}, nil
}

// sqliteConstraintForeignKey is SQLITE_CONSTRAINT_FOREIGNKEY, an extended
// result code.
const sqliteConstraintForeignKey = 787

// ForeignKeyViolation implements dialect.ForeignKeys.
func (Dialect) ForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqliteConstraintForeignKey
}
