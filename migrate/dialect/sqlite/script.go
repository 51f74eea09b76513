package sqlite

import "github.com/glance-manage/glance-manage/migrate/dialect"

var _ dialect.Script = Dialect{}

// ScriptStatement ends sql with ";", as the command-line client reads it.
func (Dialect) ScriptStatement(sql string) string { return sql + ";\n" }

// ScriptComment is an SQL line comment.
func (Dialect) ScriptComment(text string) string { return "-- " + text + "\n" }

// ScriptBegin and ScriptCommit bracket a revision: its DDL is
// transactional.
func (Dialect) ScriptBegin() string  { return "BEGIN" }
func (Dialect) ScriptCommit() string { return "COMMIT" }
