package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var (
	_ dialect.Expressions = Dialect{}
	_ dialect.Pages       = Dialect{}
	_ dialect.ForeignKeys = Dialect{}
	_ dialect.ReadOnlyTx  = Dialect{}
)

// IsTrue implements dialect.Expressions.
func (Dialect) IsTrue(col string) string { return col }

// IsFalse implements dialect.Expressions.
func (Dialect) IsFalse(col string) string { return "NOT " + col }

// CastText implements dialect.Expressions.
func (Dialect) CastText(expr string) string { return "CAST(" + expr + " AS TEXT)" }

// Contains implements dialect.Expressions.
func (Dialect) Contains(col, lit string) string { return "POSITION(" + lit + " IN " + col + ") > 0" }

// EnumValue implements dialect.Expressions.
func (Dialect) EnumValue(value, enum string) string { return "(" + value + ")::" + enum }

// KeyWalk implements dialect.Expressions.
func (Dialect) KeyWalk(col string) string { return col }

// Unindexed implements dialect.Expressions.
func (Dialect) Unindexed(col string) string { return "COALESCE(" + col + ", NULL)" }

// ForceIndex implements dialect.Expressions: PostgreSQL takes no index
// hints.
func (Dialect) ForceIndex(_, _ string) string { return "" }

// PageStats implements dialect.Pages.
func (Dialect) PageStats(ctx context.Context, q dialect.Querier, table string) (pages, tuples, statPages float64, err error) {
	err = q.QueryRowContext(ctx, "SELECT pg_relation_size(c.oid) / current_setting('block_size')::int, c.reltuples, c.relpages "+
		"FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)", table).Scan(&pages, &tuples, &statPages)
	return pages, tuples, statPages, err
}

// PageRange implements dialect.Pages. Page numbers are integers: no
// quoting issue.
func (Dialect) PageRange(lo, hi int64) string {
	if hi < 0 {
		return fmt.Sprintf("ctid >= '(%d,0)'::tid", lo)
	}
	return fmt.Sprintf("ctid >= '(%d,0)'::tid AND ctid < '(%d,0)'::tid", lo, hi)
}

// foreignKeyViolation is SQLSTATE foreign_key_violation.
const foreignKeyViolation = "23503"

// ForeignKeyViolation implements dialect.ForeignKeys.
func (Dialect) ForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == foreignKeyViolation
}

// ReadOnlyTx implements dialect.ReadOnlyTx.
func (Dialect) ReadOnlyTx() bool { return true }
