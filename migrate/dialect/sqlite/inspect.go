package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"modernc.org/sqlite"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// TableExists implements dialect.Dialect.
func (Dialect) TableExists(ctx context.Context, q dialect.Querier, table string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table)
}

// Tables implements dialect.Dialect.
func (Dialect) Tables(ctx context.Context, q dialect.Querier) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
}

type colInfo struct {
	name    string
	notNull bool
}

func columns(ctx context.Context, q dialect.Querier, table string) ([]colInfo, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, \"notnull\" FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []colInfo
	for rows.Next() {
		var c colInfo
		var nn int
		if err := rows.Scan(&c.name, &nn); err != nil {
			return nil, err
		}
		c.notNull = nn != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// ColumnExists implements dialect.Dialect.
func (Dialect) ColumnExists(ctx context.Context, q dialect.Querier, table, column string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", table, column)
}

func objectExists(ctx context.Context, q dialect.Querier, typ, name string) (bool, error) {
	return dialect.Exists(ctx, q, "SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", typ, name)
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
	case schema.CreateIndex:
		return objectExists(ctx, q, "index", o.Index.Name)
	case schema.DropIndex:
		ok, err := objectExists(ctx, q, "index", o.Name)
		return !ok, err
	case schema.CreateEnum:
		return true, nil
	case schema.CreateTrigger:
		return objectExists(ctx, q, "trigger", o.Name)
	case schema.DropTrigger:
		ok, err := objectExists(ctx, q, "trigger", o.Name)
		return !ok, err
	case schema.RebuildTable:
		live, err := columns(ctx, q, o.Table.Name)
		if err != nil || len(live) != len(o.Table.Columns) {
			return false, err
		}
		for i, c := range o.Table.Columns {
			if live[i].name != c.Name || live[i].notNull != c.NotNull {
				return false, nil
			}
		}
		return true, nil
	case schema.Exec:
		if o.DoneQuery == "" {
			return false, nil
		}
		ok, err := dialect.Exists(ctx, q, o.DoneQuery)
		if err == sql.ErrNoRows {
			return false, nil
		}
		return ok, err
	case schema.Precondition:
		return false, nil
	}
	return false, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}

// Primary result codes after which the same work may succeed later.
const (
	sqliteBusy   = 5 // SQLITE_BUSY: another connection holds the lock
	sqliteLocked = 6 // SQLITE_LOCKED
)

// Retryable implements dialect.Online: the database was busy or locked
// (a lock upgrade that could deadlock fails at once, without waiting for
// the busy timeout), unless the error says that the statement already
// waited its whole busy timeout (see waitedInFull).
func (Dialect) Retryable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) || waitedInFull(err) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqliteBusy || c == sqliteLocked
}

// waitedInFull reports whether err says, with a Timeout method (as
// dburl's *BusyError has), that it ended a wait for another connection's
// lock that lasted the whole busy timeout: another try would only wait as
// long again, so the operator's bound (the busy timeout) is the bound.
func waitedInFull(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Refused implements dialect.Online.
func (Dialect) Refused(error) bool { return false }

var _ dialect.Catalog = Dialect{}

// Columns implements dialect.Catalog.
func (Dialect) Columns(ctx context.Context, q dialect.Querier, table string) ([]string, error) {
	return dialect.Strings(ctx, q, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
}

// Quote implements dialect.Catalog.
func (Dialect) Quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }
