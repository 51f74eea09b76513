// Package sqlite is the SQLite dialect of the migration engine.
package sqlite

import "github.com/glance-manage/glance-manage/migrate/dialect"

// Dialect is SQLite. DDL is transactional; columns are altered or dropped
// by rebuilding the table (schema.RebuildTable), as alembic's batch mode
// does.
type Dialect struct{}

var _ dialect.Dialect = Dialect{}

// Name implements dialect.Dialect.
func (Dialect) Name() dialect.Backend { return dialect.SQLite }

func init() { dialect.Register(dialect.SQLite, Dialect{}) }

// TransactionalDDL implements dialect.Dialect.
func (Dialect) TransactionalDDL() bool { return true }

// Placeholder implements dialect.Dialect.
func (Dialect) Placeholder(int) string { return "?" }
