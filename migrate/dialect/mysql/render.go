package mysql

import (
	"fmt"
	"math"
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
		return "BOOL"
	case schema.DateTime:
		return "DATETIME"
	case schema.Integer:
		return "INTEGER"
	case schema.BigInteger, schema.BigIntegerVariant:
		return "BIGINT"
	case schema.Numeric:
		return "NUMERIC"
	case schema.Enum:
		return "ENUM(" + dialect.EnumLiteral(t.Values) + ")"
	}
	panic(fmt.Sprintf("mysql: unknown column kind %d", t.Kind))
}

func defaultSQL(d *schema.Default) string {
	if d.False {
		return "false"
	}
	return dialect.Quote(d.Str)
}

func columnSQL(c schema.Column, t *schema.Table) string {
	s := c.Name + " " + typeSQL(c.Type)
	if c.NotNull {
		s += " NOT NULL"
	} else {
		s += " NULL"
	}
	if c.AutoIncrement && dialect.IsSinglePK(c, t) {
		s += " AUTO_INCREMENT"
	}
	if c.Default != nil {
		s += " DEFAULT " + defaultSQL(c.Default)
	}
	return s
}

var style = dialect.TableStyle{
	Column:        columnSQL,
	BoolChecks:    true,
	NamedChecks:   true,
	InlineIndexes: true,
	Suffix: func(t *schema.Table) string {
		return t.Options[string(dialect.MySQL)]
	},
}

// Render implements dialect.Dialect.
func (d Dialect) Render(op schema.Op) ([]string, error) {
	switch o := op.(type) {
	case schema.CreateTable:
		// The indexes are declared inline (style.InlineIndexes).
		return []string{dialect.CreateTable(o.Table, style)}, nil
	case schema.DropTable:
		return []string{"DROP TABLE " + o.Name}, nil
	case schema.AddColumn:
		return []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", o.Table, columnSQL(o.Column, nil))}, nil
	case schema.DropColumn:
		return []string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", o.Table, o.Column)}, nil
	case schema.AlterColumn:
		return []string{fmt.Sprintf("ALTER TABLE %s MODIFY %s", o.Table, columnSQL(o.New, nil))}, nil
	case schema.CreateIndex:
		return []string{dialect.CreateIndex(o.Index)}, nil
	case schema.DropIndex:
		return []string{fmt.Sprintf("DROP INDEX %s ON %s", o.Name, o.Table)}, nil
	case schema.CreateEnum:
		return nil, nil
	case schema.CreateTrigger:
		return o.SQL, nil
	case schema.DropTrigger:
		return []string{"DROP TRIGGER IF EXISTS " + o.Name}, nil
	case schema.Exec:
		return o.SQL, nil
	case schema.Precondition:
		return []string{preconditionComment(o)}, nil
	}
	return nil, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}

// preconditionComment is what rendered (offline) SQL shows where a live
// run checks the data.
func preconditionComment(o schema.Precondition) string {
	return o.Comment()
}

var _ dialect.Online = Dialect{}

// Online ALTER forms, tried in this order. MariaDB and MySQL refuse a form
// they cannot honour (errors 1845/1846) instead of silently taking a
// stronger lock, so asking is safe.
const (
	instant = ", ALGORITHM=INSTANT"
	inplace = ", ALGORITHM=INPLACE, LOCK=NONE"
)

// OnlineRender implements dialect.Online: every ALTER asks for
// ALGORITHM=INSTANT, then ALGORITHM=INPLACE with LOCK=NONE (writers go on
// while the table is rebuilt or the index built), and only then falls
// back to the plain statement (which may copy the table under a
// write-blocking lock).
func (d Dialect) OnlineRender(op schema.Op) ([]dialect.Stmt, error) {
	alter := func(stmt string) []dialect.Stmt {
		return []dialect.Stmt{{Forms: []string{stmt + instant, stmt + inplace, stmt}}}
	}
	switch o := op.(type) {
	case schema.AddColumn, schema.DropColumn, schema.AlterColumn:
		stmts, err := d.Render(op)
		if err != nil || len(stmts) != 1 {
			return dialect.Plain(stmts), err
		}
		return alter(stmts[0]), nil
	case schema.CreateIndex:
		stmt := dialect.CreateIndex(o.Index)
		return []dialect.Stmt{{Forms: []string{stmt + " ALGORITHM=INPLACE LOCK=NONE", stmt}}}, nil
	case schema.DropIndex:
		// MariaDB's DROP INDEX takes no ALGORITHM clause; ALTER TABLE does.
		stmt := fmt.Sprintf("ALTER TABLE %s DROP INDEX %s", o.Table, o.Name)
		return []dialect.Stmt{{Forms: []string{stmt + inplace, fmt.Sprintf("DROP INDEX %s ON %s", o.Name, o.Table)}}}, nil
	}
	stmts, err := d.Render(op)
	return dialect.Plain(stmts), err
}

// SessionSQL implements dialect.Online. lock_wait_timeout bounds the wait
// for a metadata lock (every ALTER, CREATE INDEX and CREATE/DROP TRIGGER
// needs an exclusive one, at least briefly); while an ALTER waits, every
// new reader and writer of the table queues behind it. The server takes
// whole seconds, so the timeout is rounded up to at least 1 s.
func (Dialect) SessionSQL(timeout time.Duration) []string {
	secs := int(math.Ceil(timeout.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return []string{
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs),
		fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", secs),
	}
}

// ResetSQL implements dialect.Online.
func (Dialect) ResetSQL() []string {
	return []string{"SET SESSION lock_wait_timeout = DEFAULT", "SET SESSION innodb_lock_wait_timeout = DEFAULT"}
}
