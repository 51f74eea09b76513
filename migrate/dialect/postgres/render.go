package postgres

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
	}
	return nil, &dialect.ErrUnsupported{Dialect: d.Name(), Op: op}
}
