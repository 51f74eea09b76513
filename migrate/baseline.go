package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// A baseline build: on an empty database, instead of running every
// revision of the plan in turn, the engine computes the schema the plan
// would leave (schema.Model) and creates it directly, then records the
// plan's version rows. The result is the same schema and the same
// alembic_version rows; the work is a handful of CREATE statements
// instead of every table created, altered and dropped on the way (on
// MySQL, where each DDL statement costs a table rebuild or a file, that
// is most of the time of a fresh `db sync`).
//
// Where any operation of the plan is one the model cannot follow, the
// revisions run one by one as usual.
//
// Crash safety: on SQLite and PostgreSQL the whole build is one
// transaction. On MySQL, where DDL commits at once, the version table is
// created first and its rows written last; an empty version table beside
// tables of the build, all without rows, is the mark of a build that was
// interrupted, and the next run drops those tables and builds again (no
// row can be lost: there are none).

// baselinePlan returns the model of what plan leaves behind, or nil when
// an operation cannot be modelled.
func (m *Migrator) baselinePlan(plan []*Revision, o Options) (*schema.Model, []string) {
	model := schema.NewModel()
	var rows []string
	for _, rev := range plan {
		for _, op := range rev.OpsFor(m.env(o, rows)) {
			if err := model.Apply(op); err != nil {
				return nil, nil
			}
		}
		rows = m.Graph.ApplyStep(rows, rev.ID)
	}
	return model, rows
}

// leftovers returns the tables of an interrupted baseline build (see
// above), ok=false when the database is not empty in that sense. With no
// table at all it returns nil, true.
func (m *Migrator) leftovers(ctx context.Context, model *schema.Model) ([]string, bool, error) {
	all, err := m.Dialect.Tables(ctx, m.DB)
	if err != nil {
		return nil, false, err
	}
	// This tool's own tables (the lock) do not count.
	tables := slices.DeleteFunc(all, m.Naming.IsBookkeeping)
	if len(tables) == 0 {
		return nil, true, nil
	}
	if m.Dialect.TransactionalDDL() || !slices.Contains(tables, VersionTable) {
		return nil, false, nil
	}
	var ours []string
	for _, t := range model.Tables() {
		ours = append(ours, t.Name)
	}
	var found []string
	for _, t := range tables {
		if t == VersionTable {
			continue
		}
		if !slices.Contains(ours, t) {
			return nil, false, nil
		}
		found = append(found, t)
	}
	for _, t := range append([]string{VersionTable}, found...) {
		has, err := dialect.Exists(ctx, m.DB, "SELECT 1 FROM "+t)
		if err != nil || has {
			return nil, false, err
		}
	}
	// Drop in the reverse of creation order: referring tables first.
	var drop []string
	for i := len(ours) - 1; i >= 0; i-- {
		if slices.Contains(found, ours[i]) {
			drop = append(drop, ours[i])
		}
	}
	return drop, true, nil
}

// InterruptedBuild reports whether the database holds what an interrupted
// baseline build leaves (MySQL only: an empty version table beside empty
// tables of the schema targets would build). Callers that refuse
// databases with tables but no version rows accept this one: the next
// Upgrade finishes the build.
func (m *Migrator) InterruptedBuild(ctx context.Context, targets []string) (bool, error) {
	plan, err := m.Graph.Plan(nil, targets)
	if err != nil {
		return false, err
	}
	model, _ := m.baselinePlan(plan, Options{})
	if model == nil {
		return false, nil
	}
	drop, ok, err := m.leftovers(ctx, model)
	return ok && len(drop) > 0, err
}

// baseline builds the schema of plan in one step when the database is
// empty. done is false when the database is not empty or the plan cannot
// be modelled; the caller then applies the revisions one by one.
func (m *Migrator) baseline(ctx context.Context, rows []string, plan []*Revision, o Options) (res *Result, done bool, err error) {
	if len(rows) > 0 || len(plan) < 2 {
		return nil, false, nil
	}
	model, final := m.baselinePlan(plan, o)
	if model == nil {
		return nil, false, nil
	}
	drop, empty, err := m.leftovers(ctx, model)
	if err != nil || !empty {
		return nil, false, err
	}
	ids := make([]string, len(plan))
	for i, r := range plan {
		ids[i] = r.ID
	}
	rev := &Revision{ID: ids[len(ids)-1], Message: "baseline of " + strings.Join(ids, " ")}
	if err := m.observe(Event{Kind: BaselineStart, Revision: rev, From: strings.Join(ids, ",")}); err != nil {
		return nil, true, err
	}

	conn, err := m.DB.Conn(ctx)
	if err != nil {
		return nil, true, err
	}
	defer conn.Close()
	var q dialect.Querier = conn
	var tx *sql.Tx
	if m.Dialect.TransactionalDDL() {
		if tx, err = conn.BeginTx(ctx, nil); err != nil {
			return nil, true, err
		}
		defer tx.Rollback() //nolint:errcheck // no-op after commit
		q = tx
		if err := m.fence(ctx, tx); err != nil {
			return nil, true, err
		}
	}
	// Without a transaction (MySQL) each statement commits by itself:
	// confirm the lock before each.
	guard := func() error {
		if tx != nil {
			return nil
		}
		return m.fence(ctx, conn)
	}
	idx := 0
	exec := func(op schema.Op, stmts ...string) error {
		for _, s := range stmts {
			if err := m.observe(Event{Kind: Statement, Revision: rev, Op: op, SQL: s, Index: idx}); err != nil {
				return err
			}
			idx++
			if err := guard(); err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, s); err != nil {
				return &StepError{Revision: rev.ID, Op: describe(op), SQL: s, Err: err}
			}
		}
		return nil
	}
	for _, t := range drop {
		if err := exec(schema.DropTable{Name: t}, "DROP TABLE "+t); err != nil {
			return nil, true, err
		}
	}
	if err := m.ensureVersionTable(ctx, q, guard); err != nil {
		return nil, true, err
	}
	for _, op := range model.Ops() {
		stmts, err := m.Dialect.Render(op)
		if err != nil {
			return nil, true, &StepError{Revision: rev.ID, Op: op.Describe(), Err: err}
		}
		if err := exec(op, stmts...); err != nil {
			return nil, true, err
		}
	}
	for _, r := range final {
		if err := exec(nil, fmt.Sprintf("INSERT INTO %s (version_num) VALUES (%s)", VersionTable, dialect.Quote(r))); err != nil {
			return nil, true, err
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return nil, true, err
		}
	}
	if err := m.observe(Event{Kind: BaselineDone, Revision: rev}); err != nil {
		return nil, true, err
	}
	return &Result{Applied: ids, Heads: final}, true, nil
}

func describe(op schema.Op) string {
	if op == nil {
		return "record the revisions in " + VersionTable
	}
	return op.Describe()
}
