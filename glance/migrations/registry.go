// Package migrations declares Glance's schema revisions, one file per
// upstream alembic revision id, with the ids, parents, branch labels and
// messages upstream uses, so that the alembic_version table means the same
// to both tools.
package migrations

import (
	"sync"

	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// Branch labels and heads.
const (
	ExpandBranch   = "expand"
	ContractBranch = "contract"
	// InitVersion is the default revision of `db version_control`.
	InitVersion = "liberty"
)

var all []*migrate.Revision

// register adds revisions in declaration order; each revision file calls
// it from init, and Graph sorts them out by their parents.
func register(r *migrate.Revision) { all = append(all, r) }

// Graph returns the revision graph of every Glance revision, built once
// (after every revision file's init has registered its revision), safely
// for concurrent callers.
var Graph = sync.OnceValue(func() *migrate.Graph { return migrate.MustGraph(all) })

// expandRev and contractRev build the revisions of the rolling chains.
func expandRev(id, down, release, msg string, ops func(migrate.Env) []s.Op) *migrate.Revision {
	return &migrate.Revision{ID: id, Down: down, Branch: migrate.Expand, Release: release, Message: msg, Ops: ops}
}

func contractRev(id, down, dependsOn, release, msg string, ops func(migrate.Env) []s.Op) *migrate.Revision {
	return &migrate.Revision{ID: id, Down: down, DependsOn: []string{dependsOn}, Branch: migrate.Contract, Release: release, Message: msg, Ops: ops}
}

// same returns ops that do not depend on the environment.
func same(ops ...s.Op) func(migrate.Env) []s.Op {
	return func(migrate.Env) []s.Op { return ops }
}
