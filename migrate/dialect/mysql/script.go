package mysql

import (
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var _ dialect.Script = Dialect{}

// ScriptStatement ends sql with ";"; a statement with ";" inside (a
// trigger body) is wrapped in DELIMITER lines, as the mysql client needs.
func (Dialect) ScriptStatement(sql string) string {
	if strings.Contains(sql, ";") {
		return "DELIMITER $$\n" + sql + "$$\nDELIMITER ;\n"
	}
	return sql + ";\n"
}

// ScriptComment is an SQL line comment.
func (Dialect) ScriptComment(text string) string { return "-- " + text + "\n" }

// ScriptBegin and ScriptCommit are empty: MySQL commits every DDL
// statement by itself, so a transaction around a revision would mislead.
func (Dialect) ScriptBegin() string  { return "" }
func (Dialect) ScriptCommit() string { return "" }
