package glance_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
)

// TestPlanFrom pins the decisions of the workflow on given version rows
// (no database): the phases each command runs, where it stops, and its
// refusals.
func TestPlanFrom(t *testing.T) {
	m, err := glance.New(nil, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	eh, ch := m.ExpandHead(), m.ContractHead()
	expanded := m.Graph().Minimal(append([]string{eh}, "mitaka02"))
	heads := []string{ch} // the contract head depends on the expand head
	kinds := func(p *glance.Plan) []glance.PhaseKind {
		var out []glance.PhaseKind
		for _, ph := range p.Phases {
			out = append(out, ph.Kind)
		}
		return out
	}
	for _, c := range []struct {
		name     string
		cmd      glance.Command
		target   string
		rows     []string
		phases   []glance.PhaseKind
		upToDate glance.UpToDate
		refusal  error
		result   []string
	}{
		{name: "sync empty", cmd: glance.Sync, phases: []glance.PhaseKind{glance.PhaseExpand, glance.PhaseMigrate, glance.PhaseContract}, result: heads},
		{name: "sync at heads", cmd: glance.Sync, rows: heads, upToDate: glance.AllUpToDate},
		{name: "sync to a revision", cmd: glance.Sync, target: "mitaka02", phases: []glance.PhaseKind{glance.PhaseUpgrade}, result: []string{"mitaka02"}},
		{name: "upgrade empty", cmd: glance.Upgrade, phases: []glance.PhaseKind{glance.PhaseUpgrade}, result: heads},
		{name: "expand empty", cmd: glance.Expand, phases: []glance.PhaseKind{glance.PhaseExpand}, result: []string{eh}},
		{name: "expand expanded", cmd: glance.Expand, rows: expanded, upToDate: glance.ExpandUpToDate},
		{name: "expand at heads", cmd: glance.Expand, rows: heads, upToDate: glance.AllUpToDate},
		{name: "contract before expand", cmd: glance.Contract, rows: []string{"mitaka02"}, refusal: glance.ErrExpandFirst},
		{name: "contract expanded", cmd: glance.Contract, rows: expanded, phases: []glance.PhaseKind{glance.PhaseContract}, result: heads},
		{name: "migrate before expand", cmd: glance.Migrate, rows: []string{"mitaka02"}, refusal: glance.ErrExpandFirst},
		{name: "migrate expanded", cmd: glance.Migrate, rows: expanded, phases: []glance.PhaseKind{glance.PhaseMigrate}, result: expanded},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := m.PlanFrom(c.cmd, c.target, c.rows)
			if c.refusal != nil {
				var re *glance.RefusalError
				if !errors.Is(err, c.refusal) || !errors.As(err, &re) {
					t.Fatalf("err %v, want a *RefusalError wrapping %v", err, c.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.UpToDate != c.upToDate {
				t.Errorf("UpToDate %v, want %v", p.UpToDate, c.upToDate)
			}
			if got := kinds(p); !slices.Equal(got, c.phases) {
				t.Errorf("phases %v, want %v", got, c.phases)
			}
			if c.result != nil && !slices.Equal(p.Result, c.result) {
				t.Errorf("result %v, want %v", p.Result, c.result)
			}
			// Every step starts where the one before it left the
			// database, and data migrations wait at their Before.
			cur := c.rows
			for _, st := range p.Steps() {
				if !slices.Equal(st.From, cur) {
					t.Errorf("%s starts from %v, want %v", st.Revision.ID, st.From, cur)
				}
				for _, ds := range st.Data {
					if ds.Migration.Before != st.Revision.ID {
						t.Errorf("data migration %s at %s, want at %s", ds.Migration.Name, st.Revision.ID, ds.Migration.Before)
					}
				}
				if len(st.SQL) == 0 {
					t.Errorf("%s has no statement", st.Revision.ID)
				}
				cur = m.Graph().ApplyStep(cur, st.Revision.ID)
			}
		})
	}
	// From mitaka02 a script migrates the ocata rows at once (SQL), then
	// contracts; from an empty database there is nothing to migrate.
	p, err := m.PlanFrom(glance.Sync, "", []string{"mitaka02"})
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]glance.DataMode{}
	for _, st := range p.Steps() {
		for _, ds := range st.Data {
			modes[ds.Migration.Name] = ds.Mode
		}
	}
	if modes["ocata_migrate01_community_images"] != glance.DataAtOnce {
		t.Errorf("data modes from mitaka02: %v", modes)
	}
}
