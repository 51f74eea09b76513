// Package postgres is the PostgreSQL dialect of the migration engine.
package postgres

import (
	"strconv"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Dialect is PostgreSQL. DDL is transactional.
type Dialect struct{}

var _ dialect.Dialect = Dialect{}

// Name implements dialect.Dialect.
func (Dialect) Name() dialect.Backend { return dialect.PostgreSQL }

func init() { dialect.Register(dialect.PostgreSQL, Dialect{}) }

// TransactionalDDL implements dialect.Dialect.
func (Dialect) TransactionalDDL() bool { return true }

// Placeholder implements dialect.Dialect.
func (Dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }
