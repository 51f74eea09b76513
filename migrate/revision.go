package migrate

import (
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Branch is the alembic branch a revision belongs to. Revisions before the
// split (liberty, mitaka01, mitaka02) belong to no branch.
type Branch string

// The branches of a rolling (expand/migrate/contract) schema history.
const (
	NoBranch Branch = ""
	Expand   Branch = "expand"
	Contract Branch = "contract"
)

// Env is what a revision may look at when it decides which operations to
// perform: the backend's dialect name and whether the upgrade runs online,
// beside live services (rolling upgrade: expand, upgrade) or offline (sync).
type Env struct {
	Dialect dialect.Backend // the backend the revision runs on
	// RebuildTables: the backend changes columns by rebuilding tables
	// (dialect.Rebuilder), not with ALTER TABLE.
	RebuildTables bool
	Online        bool // true for expand/contract/upgrade, false for sync
	// Applied holds the revisions applied before this one. A revision
	// that rebuilds a table (SQLite) uses it to know which columns the
	// other branch has added by then, as alembic's batch mode learns
	// from the live table; it is known offline too, from the plan.
	Applied map[string]bool
}

// Revision is one node of the revision graph, with alembic's semantics:
// Down is the down_revision (empty for a base revision), DependsOn lists
// extra parents (depends_on), Labels are the declared branch labels.
//
// Ops returns the operations to apply the revision in the given
// environment. It must be deterministic: the engine calls it to plan, to
// render offline SQL and to execute, and expects the same list each time.
// Revisions never define a downgrade: the way back is a restore.
type Revision struct {
	ID        string
	Down      string
	DependsOn []string
	Labels    []string
	Branch    Branch
	// Release is the OpenStack release the revision shipped in
	// ("liberty", "ocata", "2024_1"...).
	Release string
	// Message is the first line of the upstream docstring, used in
	// "Running upgrade a -> b, <message>" log lines. Empty when upstream
	// has none.
	Message string
	Ops     func(Env) []Op
}

// Parents returns the revision's down revision and dependencies, the
// dependencies first (the order alembic walks them in).
func (r *Revision) Parents() []string {
	p := make([]string, 0, len(r.DependsOn)+1)
	p = append(p, r.DependsOn...)
	if r.Down != "" {
		p = append(p, r.Down)
	}
	return p
}

// OpsFor returns the revision's operations in env (none if Ops is nil).
func (r *Revision) OpsFor(env Env) []Op {
	if r.Ops == nil {
		return nil
	}
	return r.Ops(env)
}

// Op is a schema or data operation (see package schema).
type Op = schema.Op
