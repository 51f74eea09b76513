package dialect

import (
	"context"
	"fmt"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// TableStyle is what differs between backends when writing CREATE TABLE
// the way SQLAlchemy does. The dialect packages fill one in.
type TableStyle struct {
	// Column renders "name TYPE [DEFAULT ...] [NOT NULL] ..." for c.
	Column func(c schema.Column, t *schema.Table) string
	// BoolChecks: emit CHECK (col IN (0, 1)) for checked booleans.
	BoolChecks bool
	// Suffix follows the closing parenthesis (table options).
	Suffix func(t *schema.Table) string
	// NamedChecks writes the names in Table.CheckNames
	// (CONSTRAINT name CHECK ...) where the table has them.
	NamedChecks bool
	// InlineIndexes declares the table's indexes inside CREATE TABLE
	// (MySQL's KEY clauses): the table and its indexes then appear in one
	// atomic statement, which also makes a re-run after a crash find
	// either both or neither.
	InlineIndexes bool
}

// CreateTable renders CREATE TABLE in SQLAlchemy's layout: columns, then
// the primary key, foreign keys, unique constraints and CHECKs.
func CreateTable(t *schema.Table, st TableStyle) string {
	var parts []string
	for _, c := range t.Columns {
		parts = append(parts, st.Column(c, t))
	}
	if len(t.PrimaryKey) > 0 {
		parts = append(parts, "PRIMARY KEY ("+strings.Join(t.PrimaryKey, ", ")+")")
	}
	for _, fk := range t.ForeignKeys {
		parts = append(parts, fmt.Sprintf("FOREIGN KEY(%s) REFERENCES %s (%s)",
			strings.Join(fk.Columns, ", "), fk.RefTable, strings.Join(fk.RefColumns, ", ")))
	}
	for _, u := range t.Uniques {
		parts = append(parts, fmt.Sprintf("CONSTRAINT %s UNIQUE (%s)", u.Name, strings.Join(u.Columns, ", ")))
	}
	if st.BoolChecks {
		for _, c := range t.Columns {
			if c.Type.Kind == schema.Boolean && c.Type.Check {
				check := fmt.Sprintf("CHECK (%s IN (0, 1))", c.Name)
				if name := t.CheckNames[c.Name]; st.NamedChecks && name != "" {
					check = "CONSTRAINT " + name + " " + check
				}
				parts = append(parts, check)
			}
		}
	}
	if st.InlineIndexes {
		for _, ix := range t.Indexes {
			kw := "INDEX"
			if ix.Unique {
				kw = "UNIQUE INDEX"
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", kw, ix.Name, strings.Join(ix.Columns, ", ")))
		}
	}
	s := "CREATE TABLE " + t.Name + " (\n\t" + strings.Join(parts, ", \n\t") + "\n)"
	if st.Suffix != nil {
		s += st.Suffix(t)
	}
	return s
}

// CreateIndex renders CREATE [UNIQUE] INDEX.
func CreateIndex(ix schema.Index) string {
	u := ""
	if ix.Unique {
		u = "UNIQUE "
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON %s (%s)", u, ix.Name, ix.Table, strings.Join(ix.Columns, ", "))
}

// IsSinglePK reports whether c is t's only primary-key column.
func IsSinglePK(c schema.Column, t *schema.Table) bool {
	return t != nil && len(t.PrimaryKey) == 1 && t.PrimaryKey[0] == c.Name
}

// EnumLiteral renders 'a','b','c'.
func EnumLiteral(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = Quote(v)
	}
	return strings.Join(q, ",")
}

// Quote renders a SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// MaxLen is the length of the longest value (SQLite's VARCHAR for enums).
func MaxLen(values []string) int {
	n := 0
	for _, v := range values {
		n = max(n, len(v))
	}
	return n
}

// ErrUnsupported is returned by Render for operations a backend cannot
// express.
type ErrUnsupported struct {
	Dialect Backend
	Op      schema.Op
}

func (e *ErrUnsupported) Error() string {
	return fmt.Sprintf("dialect %s: cannot %s directly", e.Dialect, e.Op.Describe())
}

// Exists runs query and reports whether it returned at least one row.
func Exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// Strings runs query and collects the first column of every row.
func Strings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
