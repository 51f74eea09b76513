package postgres

import (
	"fmt"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var _ dialect.Generator = Dialect{}

// Series implements dialect.Generator.
func (Dialect) Series(lo, hi int) string {
	return fmt.Sprintf("(SELECT generate_series(%d, %d) AS n) s", lo, hi-1)
}

// PaddedNumber implements dialect.Generator.
func (Dialect) PaddedNumber(prefix, n string, width int) string {
	return fmt.Sprintf("%s || lpad(%s::text, %d, '0')", prefix, n, width)
}

// BoolValue implements dialect.Generator.
func (Dialect) BoolValue(cond string) string { return "(" + cond + ")" }

// AfterLoad implements dialect.Generator: autovacuum would analyze the
// new rows only later.
func (Dialect) AfterLoad() []string { return []string{"ANALYZE"} }
