package sqlite

import (
	"fmt"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var _ dialect.Generator = Dialect{}

// Series implements dialect.Generator.
func (Dialect) Series(lo, hi int) string {
	return fmt.Sprintf("(WITH RECURSIVE r(n) AS (SELECT %d UNION ALL SELECT n + 1 FROM r WHERE n < %d) SELECT n FROM r) s", lo, hi-1)
}

// PaddedNumber implements dialect.Generator.
func (Dialect) PaddedNumber(prefix, n string, width int) string {
	return fmt.Sprintf("%s || printf('%%0%dd', %s)", prefix, width, n)
}

// BoolValue implements dialect.Generator.
func (Dialect) BoolValue(cond string) string { return "CASE WHEN " + cond + " THEN 1 ELSE 0 END" }

// AfterLoad implements dialect.Generator: the planner reads no
// statistics until ANALYZE, and the seeded databases never had any.
func (Dialect) AfterLoad() []string { return nil }
