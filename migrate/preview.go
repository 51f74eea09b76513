package migrate

import (
	"context"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Preview is what an upgrade would do, worked out without changing
// anything: the revisions of the plan and, in order, the operations the
// run would perform (see Migrator.Preview).
type Preview struct {
	Rows []string    // the version-table rows the upgrade starts from
	Plan []*Revision // the revisions to apply, in order
	// Baseline: the database is empty and the plan is built in one step
	// (see baseline.go); Ops are then the model's, all in one revision
	// named after the plan's last.
	Baseline bool
	Ops      []PlannedOp
	// Model is the schema the plan leaves, where the plan can be
	// modelled from an empty database (nil otherwise, and when nothing
	// is pending).
	Model *schema.Model
}

// PlannedOp is one operation of a Preview, with the revision that
// performs it. Ops of one revision run in one transaction where the
// dialect has transactional DDL (all of a baseline's in one).
type PlannedOp struct {
	Revision string
	Op       schema.Op
}

// Pending reports whether the upgrade has anything to do.
func (p *Preview) Pending() bool { return len(p.Plan) > 0 }

// Preview works out, from the version-table rows (as read, or as the
// caller will stamp them first), what an upgrade to targets with options
// o would do: the plan, whether the database is built in one step, and
// the operations in order. It only reads (the tables, to tell an empty
// database).
func (m *Migrator) Preview(ctx context.Context, rows, targets []string, o Options) (*Preview, error) {
	plan, err := m.Graph.Plan(rows, targets)
	if err != nil {
		return nil, err
	}
	p := &Preview{Rows: append([]string(nil), rows...), Plan: plan}
	if len(plan) == 0 {
		return p, nil
	}
	if full, err := m.Graph.Plan(nil, targets); err == nil {
		p.Model, _ = m.baselinePlan(full, Options{})
	}
	if len(rows) == 0 && len(plan) >= 2 && !o.NoBaseline {
		if model, _ := m.baselinePlan(plan, o); model != nil {
			_, empty, err := m.leftovers(ctx, model)
			if err != nil {
				return nil, err
			}
			if empty {
				p.Baseline = true
				last := plan[len(plan)-1].ID
				for _, op := range model.Ops() {
					p.Ops = append(p.Ops, PlannedOp{Revision: last, Op: op})
				}
				return p, nil
			}
		}
	}
	cur := rows
	for _, rev := range plan {
		for _, op := range rev.OpsFor(m.env(o, cur)) {
			p.Ops = append(p.Ops, PlannedOp{Revision: rev.ID, Op: op})
		}
		cur = m.Graph.ApplyStep(cur, rev.ID)
	}
	return p, nil
}
