package mysql

import (
	"fmt"

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
	Column:     columnSQL,
	BoolChecks: true,
	Suffix: func(t *schema.Table) string {
		if t.MySQLOptions {
			return "ENGINE=InnoDB CHARSET=utf8"
		}
		return ""
	},
}

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
	}
	return nil, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}
