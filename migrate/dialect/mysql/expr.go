package mysql

import "github.com/glance-manage/glance-manage/migrate/dialect"

var (
	_ dialect.Expressions = Dialect{}
	_ dialect.ForeignKeys = Dialect{}
	_ dialect.ReadOnlyTx  = Dialect{}
)

// IsTrue implements dialect.Expressions.
func (Dialect) IsTrue(col string) string { return col + " = 1" }

// IsFalse implements dialect.Expressions.
func (Dialect) IsFalse(col string) string { return col + " = 0" }

// CastText implements dialect.Expressions.
func (Dialect) CastText(expr string) string { return "CAST(" + expr + " AS CHAR)" }

// Contains implements dialect.Expressions.
func (Dialect) Contains(col, lit string) string { return "INSTR(" + col + ", " + lit + ") > 0" }

// EnumValue implements dialect.Expressions: a MySQL ENUM column takes
// its values as text.
func (Dialect) EnumValue(value, _ string) string { return value }

// KeyWalk implements dialect.Expressions.
func (Dialect) KeyWalk(col string) string { return col }

// Unindexed implements dialect.Expressions: InnoDB's secondary indexes
// end with the primary key, so reading one keeps key order.
func (Dialect) Unindexed(col string) string { return col }

// ForceIndex implements dialect.Expressions.
func (Dialect) ForceIndex(table, index string) string {
	return table + " FORCE INDEX (" + index + ")"
}

// Foreign-key violations: a row referenced (deleting the parent) or a
// reference to a missing row.
const (
	errRowIsReferenced = 1451 // ER_ROW_IS_REFERENCED_2
	errNoReferencedRow = 1452 // ER_NO_REFERENCED_ROW_2
)

// ForeignKeyViolation implements dialect.ForeignKeys.
func (Dialect) ForeignKeyViolation(err error) bool {
	n := number(err)
	return n == errRowIsReferenced || n == errNoReferencedRow
}

// ReadOnlyTx implements dialect.ReadOnlyTx.
func (Dialect) ReadOnlyTx() bool { return true }
