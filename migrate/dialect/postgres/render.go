package postgres

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
		return "TIMESTAMP WITHOUT TIME ZONE"
	case schema.Integer:
		return "INTEGER"
	case schema.BigInteger, schema.BigIntegerVariant:
		return "BIGINT"
	case schema.Numeric:
		return "NUMERIC"
	case schema.Enum:
		return t.Name
	}
	panic(fmt.Sprintf("postgres: unknown column kind %d", t.Kind))
}

func defaultSQL(d *schema.Default) string {
	if d.False {
		return "false"
	}
	return dialect.Quote(d.Str)
}

func columnSQL(c schema.Column, t *schema.Table) string {
	typ := typeSQL(c.Type)
	if c.AutoIncrement && dialect.IsSinglePK(c, t) {
		typ = "SERIAL"
		if c.Type.Kind != schema.Integer {
			typ = "BIGSERIAL"
		}
	}
	s := c.Name + " " + typ
	if c.Default != nil {
		s += " DEFAULT " + defaultSQL(c.Default)
	}
	if c.NotNull {
		s += " NOT NULL"
	}
	return s
}

var style = dialect.TableStyle{Column: columnSQL}

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
	case schema.DropColumn:
		return []string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", o.Table, o.Column)}, nil
	case schema.AlterColumn:
		var out []string
		if o.ChangeNullable {
			verb := "DROP NOT NULL"
			if o.New.NotNull {
				verb = "SET NOT NULL"
			}
			out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s %s", o.Table, o.New.Name, verb))
		}
		if o.ChangeDefault {
			if o.New.Default == nil {
				out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", o.Table, o.New.Name))
			} else {
				out = append(out, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", o.Table, o.New.Name, defaultSQL(o.New.Default)))
			}
		}
		return out, nil
	case schema.CreateIndex:
		return []string{dialect.CreateIndex(o.Index)}, nil
	case schema.DropIndex:
		return []string{"DROP INDEX " + o.Name}, nil
	case schema.CreateEnum:
		return []string{fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", o.Name, dialect.EnumLiteral(o.Values))}, nil
	case schema.CreateTrigger:
		return o.SQL, nil
	case schema.DropTrigger:
		return []string{fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", o.Name, o.Table)}, nil
	case schema.Exec:
		return o.SQL, nil
	case schema.Precondition:
		return []string{o.Comment()}, nil
	}
	return nil, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}

var _ dialect.Online = Dialect{}

// OnlineRender implements dialect.Online. An index marked Concurrently is
// built with CREATE INDEX CONCURRENTLY, which takes a SHARE UPDATE
// EXCLUSIVE lock (writers go on) but cannot run inside a transaction; an
// invalid index left by an interrupted build is dropped first (Done
// reports an invalid index as not done). A column made NOT NULL is
// checked outside the revision's transaction (see setNotNullOnline).
// Everything else is as Render:
// the revision's transaction holds its locks until it commits, each taken
// with the short lock_timeout of SessionSQL.
func (d Dialect) OnlineRender(op schema.Op) ([]dialect.Stmt, error) {
	if o, ok := op.(schema.CreateIndex); ok && o.Concurrently {
		create := dialect.CreateIndex(o.Index)
		create = strings.Replace(create, " INDEX ", " INDEX CONCURRENTLY ", 1)
		return []dialect.Stmt{
			{Forms: []string{"DROP INDEX CONCURRENTLY IF EXISTS " + o.Index.Name}, NoTx: true},
			{Forms: []string{create}, NoTx: true},
		}, nil
	}
	if o, ok := op.(schema.AlterColumn); ok && o.ChangeNullable && o.New.NotNull {
		return setNotNullOnline(o), nil
	}
	stmts, err := d.Render(op)
	return dialect.Plain(stmts), err
}

// setNotNullOnline makes a column NOT NULL without scanning the table
// under an ACCESS EXCLUSIVE lock. A plain SET NOT NULL reads every row to
// prove there is no NULL while it holds that lock, so every reader and
// writer of the table waits for the scan. Instead: a CHECK (col IS NOT
// NULL) constraint is added NOT VALID (catalog only; enforced for new
// rows from then on) in the revision's transaction, which then commits;
// VALIDATE CONSTRAINT scans the table outside it, under a SHARE UPDATE
// EXCLUSIVE lock that lets reads and writes go on; in a new transaction
// SET NOT NULL finds the validated constraint proves the column has no
// NULL and skips its scan (PostgreSQL 12 and later), and the constraint,
// now redundant, is dropped. The schema ends as with the plain statement.
// An attempt interrupted half-way leaves the constraint behind; the
// next one drops it first and starts again.
func setNotNullOnline(o schema.AlterColumn) []dialect.Stmt {
	ck := notNullCheck(o.Table, o.New.Name)
	out := []dialect.Stmt{
		{Forms: []string{fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", o.Table, ck)}},
		{Forms: []string{fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", o.Table, ck, o.New.Name)}},
		{Forms: []string{fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", o.Table, ck)}, NoTx: true},
		{Forms: []string{fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", o.Table, o.New.Name)}},
	}
	if o.ChangeDefault {
		plain := o
		plain.ChangeNullable = false
		stmts, _ := Dialect{}.Render(plain) // AlterColumn always renders
		out = append(out, dialect.Plain(stmts)...)
	}
	return append(out, dialect.Stmt{Forms: []string{fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", o.Table, ck)}})
}

// notNullCheck names the temporary constraint of setNotNullOnline (within
// PostgreSQL's 63 characters).
func notNullCheck(table, column string) string {
	name := "glance_manage_nn_" + table + "_" + column
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// SessionSQL implements dialect.Online: lock_timeout for the current
// transaction. A statement that waits longer for its lock (behind a long
// transaction, say) fails with lock_not_available instead of making every
// later reader and writer of the table queue behind it.
func (Dialect) SessionSQL(timeout time.Duration) []string {
	ms := timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return []string{fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", ms)}
}

// ResetSQL implements dialect.Online; SET LOCAL ends with the transaction.
func (Dialect) ResetSQL() []string { return nil }
