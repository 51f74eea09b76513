package glance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/migrations"
	"github.com/glance-manage/glance-manage/migrate"
)

// The table of releases against the revision graph: every revision it
// names exists on its branch, releases never go back, and the newest
// releases expect the graph's heads (master has no newer revision).
func TestReleasesMatchTheGraph(t *testing.T) {
	g := migrations.Graph()
	pos := map[string]int{}
	for i, id := range g.WalkOrder() {
		pos[id] = i
	}
	rels := glance.Releases()
	prev := glance.Release{}
	for i, r := range rels {
		if r.Major != 11+i {
			t.Errorf("%s: Glance %d, want %d (one major version per series)", r.Series, r.Major, 11+i)
		}
		if r.Contract == "" {
			if r.Legacy == 0 || g.Revision(r.Base) == nil || g.Revision(r.Base).Branch != migrate.NoBranch {
				t.Errorf("%s: a release before alembic needs its legacy version and a base revision: %+v", r.Series, r)
			}
			continue
		}
		e, c := g.Revision(r.Expand), g.Revision(r.Contract)
		if e == nil || e.Branch != migrate.Expand || c == nil || c.Branch != migrate.Contract {
			t.Fatalf("%s: %s / %s are not an expand and a contract revision of the graph", r.Series, r.Expand, r.Contract)
		}
		// The contract head depends on the expand head of the same
		// release, so that `db sync` leaves exactly one row.
		if !g.IsAncestor(r.Expand, r.Contract) || len(g.Minimal([]string{r.Expand, r.Contract})) != 1 {
			t.Errorf("%s: %s does not build on %s", r.Series, r.Contract, r.Expand)
		}
		if prev.Contract != "" && (pos[r.Contract] < pos[prev.Contract] || pos[r.Expand] < pos[prev.Expand]) {
			t.Errorf("%s expects older revisions than %s", r.Series, prev.Series)
		}
		prev = r
	}
	last := rels[len(rels)-1]
	if !last.Unreleased || last.Contract != g.BranchHead(migrations.ContractBranch) || last.Expand != g.BranchHead(migrations.ExpandBranch) {
		t.Errorf("master (%s) should expect the graph's heads: %+v", last.Series, last)
	}
	if h, ok := glance.HeadRelease(g.BranchHead(migrations.ContractBranch)); !ok || h.Series != "2024.1" || h.Codename != "Caracal" {
		t.Errorf("the schema head's release: %+v, want 2024.1 Caracal", h)
	}
}

func TestFindRelease(t *testing.T) {
	for _, tc := range []struct {
		name, series string
		err          error
	}{
		{"zed", "zed", nil},
		{"Zed", "zed", nil},
		{" 25.1.0 ", "zed", nil}, // Debian's python3-glance
		{"25", "zed", nil},
		{"2023.1", "2023.1", nil},
		{"2023_1", "2023.1", nil},
		{"antelope", "2023.1", nil},
		{"28.2.0", "2024.1", nil},
		{"caracal", "2024.1", nil},
		{"2026.2", "2026.2", nil},
		{"ocata", "ocata", nil},
		{"mitaka", "mitaka", glance.ErrLegacyRelease},
		{"11.0.0", "liberty", glance.ErrLegacyRelease},
		{"frobnicate", "", glance.ErrUnknownRelease},
		{"2024", "", glance.ErrUnknownRelease},
		{"", "", glance.ErrUnknownRelease},
		{"99.0.0", "", glance.ErrUnknownRelease},
	} {
		r, err := glance.FindRelease(tc.name)
		if !errors.Is(err, tc.err) || r.Series != tc.series {
			t.Errorf("FindRelease(%q) = %s, %v; want %s, %v", tc.name, r.Series, err, tc.series, tc.err)
		}
		var re *glance.ReleaseError
		if err != nil && (!errors.As(err, &re) || re.Name != tc.name) {
			t.Errorf("FindRelease(%q): error %v is no *ReleaseError naming it", tc.name, err)
		}
	}
}

// Compare: where databases at given rows stand against Zed (whose tool
// ends at wallaby_contract01).
func TestCompareWithARelease(t *testing.T) {
	g := migrations.Graph()
	zed, err := glance.FindRelease("zed")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rows                     []string
		needExpand, needContract bool
		newer                    string
		contracted, removes      bool
	}{
		{rows: nil, needExpand: true, needContract: true},
		{rows: []string{"mitaka02"}, needExpand: true, needContract: true},
		{rows: []string{"wallaby_expand01"}, needContract: true},
		{rows: []string{"wallaby_expand01", "train_contract01"}, needContract: true},
		{rows: []string{"wallaby_contract01"}},
		// Expanded for 2024.1, a rolling upgrade under way: newer, but
		// expansions only.
		{rows: []string{"2024_1_expand01", "wallaby_contract01"}, newer: "xena_expand01 yoga_expand01 zed_expand01 2023_1_expand01 2024_1_expand01"},
		{rows: []string{"xena_contract01"}, newer: "xena_expand01 xena_contract01", contracted: true},
		{rows: []string{"2024_1_contract01"}, newer: "xena_expand01 yoga_expand01 zed_expand01 2023_1_expand01 2024_1_expand01 xena_contract01 yoga_contract01 zed_contract01 2023_1_contract01 2024_1_contract01", contracted: true},
	} {
		ag := glance.Compare(g, tc.rows, zed)
		if ag.NeedExpand != tc.needExpand || ag.NeedContract != tc.needContract || strings.Join(ag.Newer, " ") != tc.newer || ag.Contracted != tc.contracted || ag.Removes {
			t.Errorf("rows %v: %+v; want expand %v, contract %v, newer %q, contracted %v, nothing removed", tc.rows, ag, tc.needExpand, tc.needContract, tc.newer, tc.contracted)
		}
	}
	// Against Ocata, Pike's contraction drops the artifact tables.
	ocata, err := glance.FindRelease("ocata")
	if err != nil {
		t.Fatal(err)
	}
	if ag := glance.Compare(g, []string{"pike_contract01"}, ocata); !ag.Contracted || !ag.Removes || strings.Join(ag.Newer, " ") != "pike_expand01 pike_contract01" {
		t.Errorf("pike_contract01 against ocata: %+v", ag)
	}
	if ag := glance.Compare(g, []string{"queens_contract01"}, glance.Releases()[len(glance.Releases())-1]); ag.Contracted || ag.Removes || len(ag.Newer) != 0 || !ag.NeedExpand {
		t.Errorf("queens_contract01 against master: %+v", ag)
	}
	if k, ok := glance.FirstKnowing(g, []string{"2023_1_contract01"}); !ok || k.Series != "2023.1" {
		t.Errorf("FirstKnowing(2023_1_contract01) = %s, %v; want 2023.1", k.Series, ok)
	}
	if k, ok := glance.FirstKnowing(g, []string{"xena_expand01"}); !ok || k.Series != "2023.1" {
		t.Errorf("FirstKnowing(xena_expand01) = %s, %v; want 2023.1 (Xena itself ends at wallaby)", k.Series, ok)
	}
}
