package sqlite

import (
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

func typeSQL(t schema.Type) string {
	switch t.Kind {
	case schema.String:
		return fmt.Sprintf("VARCHAR(%d)", t.Length)
	case schema.Text:
		return "TEXT"
	case schema.Boolean:
		return "BOOLEAN"
	case schema.DateTime:
		return "DATETIME"
	case schema.Integer, schema.BigIntegerVariant:
		return "INTEGER"
	case schema.BigInteger:
		return "BIGINT"
	case schema.Numeric:
		return "NUMERIC"
	case schema.Enum:
		return fmt.Sprintf("VARCHAR(%d)", dialect.MaxLen(t.Values))
	}
	panic(fmt.Sprintf("sqlite: unknown column kind %d", t.Kind))
}

func defaultSQL(d *schema.Default) string {
	if d.False {
		return "0"
	}
	return dialect.Quote(d.Str)
}

func columnSQL(c schema.Column, _ *schema.Table) string {
	s := c.Name + " " + typeSQL(c.Type)
	if c.Default != nil {
		s += " DEFAULT " + defaultSQL(c.Default)
	}
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

var style = dialect.TableStyle{Column: columnSQL, BoolChecks: true}

// Render implements dialect.Dialect.
func (d Dialect) Render(op schema.Op) ([]string, error) {
	switch o := op.(type) {
	case schema.CreateTable:
		out := []string{dialect.CreateTable(o.Table, style)}
		for _, ix := range o.Table.Indexes {
			out = append(out, dialect.CreateIndex(ix))
		}
		return out, nil
	case schema.DropTable:
		return []string{"DROP TABLE " + o.Name}, nil
	case schema.AddColumn:
		return []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", o.Table, columnSQL(o.Column, nil))}, nil
	case schema.CreateIndex:
		return []string{dialect.CreateIndex(o.Index)}, nil
	case schema.DropIndex:
		return []string{"DROP INDEX " + o.Name}, nil
	case schema.CreateEnum:
		return nil, nil
	case schema.RebuildTable:
		return rebuild(o.Table), nil
	case schema.CreateTrigger:
		return o.SQL, nil
	case schema.DropTrigger:
		return []string{"DROP TRIGGER IF EXISTS " + o.Name}, nil
	case schema.Exec:
		return o.SQL, nil
	case schema.Precondition:
		return []string{o.Comment()}, nil
	}
	return nil, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}

var _ dialect.Online = Dialect{}

// OnlineRender implements dialect.Online. SQLite has one writer at a
// time: a revision's transaction holds the database's write lock until it
// commits, and writers wait for it (busy_timeout). The statements are
// those of Render; a table rebuild copies the table within that
// transaction.
func (d Dialect) OnlineRender(op schema.Op) ([]dialect.Stmt, error) {
	stmts, err := d.Render(op)
	return dialect.Plain(stmts), err
}

// SessionSQL implements dialect.Online: the connection's busy timeout
// (set when it is opened) already bounds waits.
func (Dialect) SessionSQL(time.Duration) []string { return nil }

// ResetSQL implements dialect.Online.
func (Dialect) ResetSQL() []string { return nil }

// rebuild is alembic's batch recipe: a new table under a temporary name,
// the rows copied over, the old table dropped, the new one renamed and its
// indexes created again. Foreign keys must be off on the connection (the
// engine's SQLite connections keep them off, as upstream's do).
func rebuild(t *schema.Table) []string {
	tmp := *t
	tmp.Name = "_alembic_tmp_" + t.Name
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	list := strings.Join(cols, ", ")
	out := []string{
		dialect.CreateTable(&tmp, style),
		fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", tmp.Name, list, list, t.Name),
		"DROP TABLE " + t.Name,
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", tmp.Name, t.Name),
	}
	for _, ix := range t.Indexes {
		out = append(out, dialect.CreateIndex(ix))
	}
	return out
}
