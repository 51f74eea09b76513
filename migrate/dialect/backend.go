package dialect

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Backend names a database backend: its SQLAlchemy dialect name. It is
// the one spelling of a backend's identity; dburl.Backend, the test
// helpers' backends, Dialect.Name and migrate.Env.Dialect are all this
// type.
type Backend string

// The backends this module ships a dialect for. A dialect package
// registers itself under its Backend (see Register); adding a backend is
// one new package that does so.
const (
	SQLite     Backend = "sqlite"
	MySQL      Backend = "mysql"
	PostgreSQL Backend = "postgresql"
)

// ErrUnknownBackend is returned (wrapped in *UnknownBackendError) by For
// and Lookup for a name no dialect registered.
var ErrUnknownBackend = errors.New("no dialect registered for this backend")

// UnknownBackendError names the backend For or Lookup did not find.
type UnknownBackendError struct{ Name string }

func (e *UnknownBackendError) Error() string {
	return fmt.Sprintf("dialect: no dialect registered for %q", e.Name)
}

func (e *UnknownBackendError) Unwrap() error { return ErrUnknownBackend }

var registry struct {
	sync.RWMutex
	byBackend map[Backend]Dialect
	aliases   map[string]Backend
	order     []Backend
}

// Register makes d the dialect of backend b, also found by Lookup under
// each of aliases (other SQLAlchemy dialect names of the same backend:
// "mariadb" for MySQL). Dialect packages call it from init, as
// database/sql drivers call sql.Register. It panics when b is empty,
// d is nil, d.Name() is not b, or b or an alias is registered twice.
func Register(b Backend, d Dialect, aliases ...string) {
	if b == "" || d == nil {
		panic("dialect: Register of an empty backend or a nil dialect")
	}
	if d.Name() != b {
		panic(fmt.Sprintf("dialect: Register(%q) of a dialect named %q", b, d.Name()))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.byBackend == nil {
		registry.byBackend = map[Backend]Dialect{}
		registry.aliases = map[string]Backend{}
	}
	if _, dup := registry.byBackend[b]; dup {
		panic(fmt.Sprintf("dialect: Register called twice for %q", b))
	}
	for _, a := range aliases {
		if _, dup := registry.aliases[a]; dup {
			panic(fmt.Sprintf("dialect: alias %q registered twice", a))
		}
		registry.aliases[a] = b
	}
	registry.byBackend[b] = d
	registry.order = append(registry.order, b)
}

// For returns the dialect registered for b.
func For(b Backend) (Dialect, error) {
	registry.RLock()
	defer registry.RUnlock()
	if d, ok := registry.byBackend[b]; ok {
		return d, nil
	}
	return nil, &UnknownBackendError{Name: string(b)}
}

// Lookup returns the dialect for a SQLAlchemy dialect name: a registered
// backend or one of its aliases.
func Lookup(name string) (Dialect, error) {
	registry.RLock()
	b, ok := registry.aliases[name]
	registry.RUnlock()
	if !ok {
		b = Backend(name)
	}
	return For(b)
}

// Backends lists the registered backends, in a fixed order: the
// module's own (SQLite, MySQL, PostgreSQL) first, then any others in the
// order they registered.
func Backends() []Backend {
	registry.RLock()
	defer registry.RUnlock()
	out := slices.Clone(registry.order)
	rank := func(b Backend) int {
		if i := slices.Index([]Backend{SQLite, MySQL, PostgreSQL}, b); i >= 0 {
			return i
		}
		return 3
	}
	slices.SortStableFunc(out, func(a, b Backend) int { return rank(a) - rank(b) })
	return out
}
