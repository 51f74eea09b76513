package migrate

import "strings"

// Naming names what the engine keeps in the database for itself and how
// it speaks of a holder of the lock. A program built on the engine sets
// its own (Locker.Naming, Migrator.Naming) so that its tables and lock
// keep the names they have always had; the zero Naming means
// DefaultNaming, field by field.
type Naming struct {
	// Prefix starts the names of the tables the engine keeps for itself
	// (the lock table, fence tokens): schema comparisons and the "is this
	// database empty / ours" checks leave them out. It must not start the
	// name of any table the migrations create.
	Prefix string
	// Lock is the name of the lock a Locker takes when its Name is "".
	Lock string
	// Program is the command recorded for a holder that names none.
	Program string
}

// DefaultNaming holds the names used where a Naming leaves a field empty.
var DefaultNaming = Naming{Prefix: "schema_engine_", Lock: "migrate", Program: "migrate"}

func (n Naming) prefix() string {
	if n.Prefix == "" {
		return DefaultNaming.Prefix
	}
	return n.Prefix
}

// LockTable is the table holding the migration lock: one lease row per
// lock name, named Prefix + "lock". It is kept in the database (and
// replicated like any table) rather than taken with GET_LOCK or advisory
// locks, because those are local to one server: on a Galera cluster two
// runners connected to two nodes would both get GET_LOCK.
func (n Naming) LockTable() string { return n.prefix() + "lock" }

// LockName is the lock taken when a Locker names none.
func (n Naming) LockName() string {
	if n.Lock == "" {
		return DefaultNaming.Lock
	}
	return n.Lock
}

// Command is the command recorded for a holder that names none.
func (n Naming) Command() string {
	if n.Program == "" {
		return DefaultNaming.Program
	}
	return n.Program
}

// IsBookkeeping reports whether table is one of the engine's own tables.
func (n Naming) IsBookkeeping(table string) bool { return strings.HasPrefix(table, n.prefix()) }

// BookkeepingPrefix is Prefix, or the default one.
func (n Naming) BookkeepingPrefix() string { return n.prefix() }
