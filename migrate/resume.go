package migrate

import (
	"context"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Resuming on backends whose DDL commits statement by statement (MySQL):
// the engine skips every operation that Done finds done, so each
// operation must render to statements whose effects Done can judge as a
// whole. splitForResume breaks the operations that do not.

// splitForResume returns ops with every CreateTable that has indexes
// split into the table alone and one CreateIndex per index: the same
// statements in the same order, but a crash between CREATE TABLE and
// CREATE INDEX no longer leaves an operation that is neither done nor
// re-runnable.
func splitForResume(ops []schema.Op) []schema.Op {
	out := make([]schema.Op, 0, len(ops))
	for _, op := range ops {
		ct, ok := op.(schema.CreateTable)
		if !ok || len(ct.Table.Indexes) == 0 {
			out = append(out, op)
			continue
		}
		bare := *ct.Table
		bare.Indexes = nil
		out = append(out, schema.CreateTable{Table: &bare})
		for _, ix := range ct.Table.Indexes {
			out = append(out, schema.CreateIndex{Index: ix})
		}
	}
	return out
}

// opsFor returns the operations apply runs for rev: as the revision
// lists them where DDL is transactional, split for resuming elsewhere.
func (m *Migrator) opsFor(rev *Revision, o Options, rows []string) []schema.Op {
	ops := rev.OpsFor(m.env(o, rows))
	if m.Dialect.TransactionalDDL() {
		return ops
	}
	return splitForResume(ops)
}

// InterruptedBase reports whether the database looks like a first
// revision interrupted on a backend without transactional DDL: the
// version table exists (it is created before the first statement) but
// holds no row, and every other table, this tool's own aside, is one the
// base revisions create. Running the upgrade again resumes that
// revision; anything else with tables and no version rows is not this
// tool's doing.
func (m *Migrator) InterruptedBase(ctx context.Context) (bool, error) {
	if m.Dialect.TransactionalDDL() {
		return false, nil
	}
	ok, err := m.Dialect.TableExists(ctx, m.DB, VersionTable)
	if err != nil || !ok {
		return false, err
	}
	rows, err := m.heads(ctx, m.DB)
	if err != nil || len(rows) > 0 {
		return false, err
	}
	tables, err := m.Dialect.Tables(ctx, m.DB)
	if err != nil {
		return false, err
	}
	base := map[string]bool{}
	for _, rev := range m.Graph.Revisions() {
		if rev.Down != "" || len(rev.DependsOn) > 0 {
			continue
		}
		for _, op := range rev.OpsFor(m.env(Options{}, nil)) {
			if ct, ok := op.(schema.CreateTable); ok {
				base[ct.Table.Name] = true
			}
		}
	}
	found := false
	for _, t := range tables {
		switch {
		case t == VersionTable || m.Naming.IsBookkeeping(t):
		case base[t]:
			found = true
		default:
			return false, nil
		}
	}
	return found, nil
}
