package postgres

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// The inspection queries read pg_catalog rather than the
// information_schema views: the same answer for the tables of the current
// schema, in a fraction of the planning time (each information_schema
// query costs milliseconds to plan, which `db version` would pay on every
// run).

// TableExists implements dialect.Dialect: a table, view or foreign table
// of that name in the current schema.
func (Dialect) TableExists(ctx context.Context, q dialect.Querier, table string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", table)
}

// Tables implements dialect.Dialect: the base tables of the current schema.
func (Dialect) Tables(ctx context.Context, q dialect.Querier) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname::text COLLATE \"C\"")
}

// ColumnExists implements dialect.Dialect.
func (Dialect) ColumnExists(ctx context.Context, q dialect.Querier, table, column string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped", table, column)
}

func relExists(ctx context.Context, q dialect.Querier, name, kind string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind = $2", name, kind)
}

func triggerExists(ctx context.Context, q dialect.Querier, table, name string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND t.tgname = $2", table, name)
}

// Done implements dialect.Dialect.
func (d Dialect) Done(ctx context.Context, q dialect.Querier, op schema.Op) (bool, error) {
	switch o := op.(type) {
	case schema.CreateTable:
		return d.TableExists(ctx, q, o.Table.Name)
	case schema.DropTable:
		ok, err := d.TableExists(ctx, q, o.Name)
		return !ok, err
	case schema.AddColumn:
		return d.ColumnExists(ctx, q, o.Table, o.Column.Name)
	case schema.DropColumn:
		ok, err := d.ColumnExists(ctx, q, o.Table, o.Column)
		return !ok, err
	case schema.AlterColumn:
		var nullable string
		var def sql.NullString
		err := q.QueryRowContext(ctx, "SELECT is_nullable, column_default FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
			o.Table, o.New.Name).Scan(&nullable, &def)
		if err != nil {
			return false, err
		}
		if o.ChangeNullable && (nullable == "NO") != o.New.NotNull {
			return false, nil
		}
		if o.ChangeDefault && def.Valid != (o.New.Default != nil) {
			return false, nil
		}
		return true, nil
	case schema.CreateIndex:
		// An interrupted CREATE INDEX CONCURRENTLY leaves an invalid
		// index behind: not done.
		return dialect.Exists(ctx, q, "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND i.indisvalid", o.Index.Name)
	case schema.DropIndex:
		ok, err := relExists(ctx, q, o.Name, "i")
		return !ok, err
	case schema.CreateEnum:
		return dialect.Exists(ctx, q, "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema() AND t.typname = $1", o.Name)
	case schema.CreateTrigger:
		return triggerExists(ctx, q, o.Table, o.Name)
	case schema.DropTrigger:
		ok, err := triggerExists(ctx, q, o.Table, o.Name)
		return !ok, err
	case schema.Exec:
		if o.DoneQuery == "" {
			return false, nil
		}
		return dialect.Exists(ctx, q, o.DoneQuery)
	case schema.Precondition:
		return false, nil
	}
	return false, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}

// SQLSTATEs after which the same work may succeed later.
var retryable = map[string]bool{
	"55P03": true, // lock_not_available (lock_timeout)
	"40P01": true, // deadlock_detected
	"40001": true, // serialization_failure
}

// Retryable implements dialect.Online.
func (Dialect) Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && retryable[pe.Code]
}

// Refused implements dialect.Online; PostgreSQL has one form of each
// statement.
func (Dialect) Refused(error) bool { return false }

var _ dialect.Catalog = Dialect{}

// Columns implements dialect.Catalog.
func (Dialect) Columns(ctx context.Context, q dialect.Querier, table string) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position", table)
}

// Quote implements dialect.Catalog.
func (Dialect) Quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }
