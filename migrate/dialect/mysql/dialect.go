// Package mysql is the MySQL/MariaDB dialect of the migration engine.
package mysql

import "github.com/glance-manage/glance-manage/migrate/dialect"

// Dialect is MySQL or MariaDB. Every DDL statement commits by itself, so
// the engine resumes an interrupted revision by asking Done for each
// operation.
type Dialect struct{}

var _ dialect.Dialect = Dialect{}

// Name implements dialect.Dialect.
func (Dialect) Name() dialect.Backend { return dialect.MySQL }

func init() { dialect.Register(dialect.MySQL, Dialect{}, "mariadb") }

// TransactionalDDL implements dialect.Dialect.
func (Dialect) TransactionalDDL() bool { return false }

// Placeholder implements dialect.Dialect.
func (Dialect) Placeholder(int) string { return "?" }
