package mysql

import (
	"fmt"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var _ dialect.Generator = Dialect{}

// Series implements dialect.Generator. MariaDB bounds recursive CTEs
// (max_recursive_iterations): five digits cross-joined count to 99999.
func (Dialect) Series(lo, hi int) string {
	digit := "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	return fmt.Sprintf("(SELECT %d + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d AS n FROM %s a, %s b, %s c, %s e, %s f WHERE a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d < %d) s",
		lo, digit, digit, digit, digit, digit, hi-lo)
}

// PaddedNumber implements dialect.Generator.
func (Dialect) PaddedNumber(prefix, n string, width int) string {
	return fmt.Sprintf("CONCAT(%s, LPAD(%s, %d, '0'))", prefix, n, width)
}

// BoolValue implements dialect.Generator.
func (Dialect) BoolValue(cond string) string { return "CASE WHEN " + cond + " THEN 1 ELSE 0 END" }

// AfterLoad implements dialect.Generator: InnoDB samples its statistics
// by itself.
func (Dialect) AfterLoad() []string { return nil }
