package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// TableExists implements dialect.Dialect.
func (Dialect) TableExists(ctx context.Context, q dialect.Querier, table string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table)
}

var _ dialect.Sizer = Dialect{}

// TableSize implements dialect.Sizer: data and index lengths from
// information_schema (InnoDB's estimates) and innodb_buffer_pool_size.
func (Dialect) TableSize(ctx context.Context, q dialect.Querier, table string) (size, cache int64, err error) {
	err = q.QueryRowContext(ctx, "SELECT COALESCE((SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?), 0), @@innodb_buffer_pool_size", table).Scan(&size, &cache)
	return size, cache, err
}

// Tables implements dialect.Dialect.
func (Dialect) Tables(ctx context.Context, q dialect.Querier) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name")
}

// ColumnExists implements dialect.Dialect.
func (Dialect) ColumnExists(ctx context.Context, q dialect.Querier, table, column string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?", table, column)
}

func indexExists(ctx context.Context, q dialect.Querier, table, name string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?", table, name)
}

func triggerExists(ctx context.Context, q dialect.Querier, name string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = ?", name)
}

// Done implements dialect.Dialect.
func (d Dialect) Done(ctx context.Context, q dialect.Querier, op schema.Op) (bool, error) {
	switch o := op.(type) {
	case schema.CreateTable:
		// A table is created by one statement and its indexes by others;
		// it is done when the last index exists (or the table, without).
		ok, err := d.TableExists(ctx, q, o.Table.Name)
		if err != nil || !ok || len(o.Table.Indexes) == 0 {
			return ok, err
		}
		for _, ix := range o.Table.Indexes {
			if ok, err := indexExists(ctx, q, ix.Table, ix.Name); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
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
		err := q.QueryRowContext(ctx, "SELECT is_nullable, column_default FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
			o.Table, o.New.Name).Scan(&nullable, &def)
		if err != nil {
			return false, err
		}
		if o.ChangeNullable && (nullable == "NO") != o.New.NotNull {
			return false, nil
		}
		if o.ChangeDefault {
			live := def.Valid && !strings.EqualFold(def.String, "NULL")
			if live != (o.New.Default != nil) {
				return false, nil
			}
		}
		return true, nil
	case schema.CreateIndex:
		return indexExists(ctx, q, o.Index.Table, o.Index.Name)
	case schema.DropIndex:
		ok, err := indexExists(ctx, q, o.Table, o.Name)
		return !ok, err
	case schema.CreateEnum:
		return true, nil
	case schema.CreateTrigger:
		return triggerExists(ctx, q, o.Name)
	case schema.DropTrigger:
		ok, err := triggerExists(ctx, q, o.Name)
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

// Server error numbers the engine reacts to.
const (
	errLockWaitTimeout      = 1205 // ER_LOCK_WAIT_TIMEOUT (row and metadata locks)
	errDeadlock             = 1213 // ER_LOCK_DEADLOCK
	errSyntax               = 1064 // ER_PARSE_ERROR (an ALGORITHM clause an old server does not know)
	errAlterNotSupported    = 1845 // ER_ALTER_OPERATION_NOT_SUPPORTED
	errAlterNotSupportedWhy = 1846 // ER_ALTER_OPERATION_NOT_SUPPORTED_REASON
	errKeyDoesNotExist      = 1176 // ER_KEY_DOES_NOT_EXISTS (an index hint naming a missing index)
)

func number(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// Retryable implements dialect.Online: a lock wait that timed out or a
// deadlock.
func (Dialect) Retryable(err error) bool {
	n := number(err)
	return n == errLockWaitTimeout || n == errDeadlock
}

// Refused implements dialect.Online: the server cannot run the
// operation with the ALGORITHM/LOCK asked for, or with the index it was
// told to use.
func (Dialect) Refused(err error) bool {
	switch number(err) {
	case errAlterNotSupported, errAlterNotSupportedWhy, errSyntax, errKeyDoesNotExist:
		return true
	}
	return false
}

var _ dialect.Catalog = Dialect{}

// Columns implements dialect.Catalog.
func (Dialect) Columns(ctx context.Context, q dialect.Querier, table string) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position", table)
}

// Quote implements dialect.Catalog.
func (Dialect) Quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }
