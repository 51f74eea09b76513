package migrations

import (
	"errors"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/migrate"
)

const walk = "liberty mitaka01 mitaka02 ocata_expand01 pike_expand01 queens_expand01 rocky_expand01 rocky_expand02 train_expand01 ussuri_expand01 wallaby_expand01 xena_expand01 yoga_expand01 zed_expand01 2023_1_expand01 2024_1_expand01 ocata_contract01 pike_contract01 queens_contract01 rocky_contract01 rocky_contract02 train_contract01 ussuri_contract01 wallaby_contract01 xena_contract01 yoga_contract01 zed_contract01 2023_1_contract01 2024_1_contract01"

func ids(revs []*migrate.Revision) string {
	var out []string
	for _, r := range revs {
		out = append(out, r.ID)
	}
	return strings.Join(out, " ")
}

func TestWalkOrderMatchesAlembic(t *testing.T) {
	g := Graph()
	if got := strings.Join(g.WalkOrder(), " "); got != walk {
		t.Fatalf("walk order\n got %s\nwant %s", got, walk)
	}
	if got := strings.Join(g.Heads(), " "); got != "2024_1_expand01 2024_1_contract01" {
		t.Fatalf("heads = %s", got)
	}
	if h := g.BranchHead(ExpandBranch); h != "2024_1_expand01" {
		t.Fatalf("expand head = %q", h)
	}
	if h := g.BranchHead(ContractBranch); h != "2024_1_contract01" {
		t.Fatalf("contract head = %q", h)
	}
}

func TestPlanToSingleTargets(t *testing.T) {
	g := Graph()
	for _, tc := range []struct{ target, want string }{
		{"ocata_contract01", "liberty mitaka01 mitaka02 ocata_expand01 ocata_contract01"},
		{"pike_contract01", "liberty mitaka01 mitaka02 ocata_expand01 pike_expand01 ocata_contract01 pike_contract01"},
		{"ocata01", "liberty mitaka01 mitaka02 ocata_expand01 ocata_contract01"},
		{"expand", "liberty mitaka01 mitaka02 ocata_expand01"},
		{"expand@head", strings.Join(strings.Fields(walk)[:16], " ")},
	} {
		targets, err := g.Resolve(tc.target)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		plan, err := g.Plan(nil, targets)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		if got := ids(plan); got != tc.want {
			t.Errorf("plan to %s\n got %s\nwant %s", tc.target, got, tc.want)
		}
	}
}

func TestVersionRowsFollowAlembic(t *testing.T) {
	g := Graph()
	var rows []string
	seen := map[string]string{}
	for _, id := range g.WalkOrder() {
		step := g.VersionStep(rows, id)
		rows = g.ApplyStep(rows, id)
		seen[id] = strings.Join(rows, ",")
		switch id {
		case "liberty":
			if !step.Insert {
				t.Errorf("liberty: want insert, got %+v", step)
			}
		case "ocata_contract01":
			if !step.Insert {
				t.Errorf("ocata_contract01 branches off: want insert, got %+v", step)
			}
		case "2024_1_contract01":
			if step.Update != "2024_1_expand01" || len(step.Delete) != 1 || step.Delete[0] != "2023_1_contract01" {
				t.Errorf("merge step = %+v", step)
			}
		}
	}
	for id, want := range map[string]string{
		"2024_1_expand01":   "2024_1_expand01",
		"ocata_contract01":  "2024_1_expand01,ocata_contract01",
		"pike_contract01":   "2024_1_expand01,pike_contract01",
		"2024_1_contract01": "2024_1_contract01",
	} {
		if seen[id] != want {
			t.Errorf("rows after %s = %s, want %s", id, seen[id], want)
		}
	}
	if got := g.ApplyStep([]string{"ocata_contract01"}, "pike_expand01"); strings.Join(got, ",") != "pike_expand01,ocata_contract01" && strings.Join(got, ",") != "ocata_contract01,pike_expand01" {
		t.Errorf("ocata_contract01 + pike_expand01 = %v", got)
	}
}

func TestPlanRefusals(t *testing.T) {
	g := Graph()
	if _, err := g.Plan([]string{"2024_1_contract01"}, []string{"liberty"}); !errors.Is(err, migrate.ErrDowngrade) {
		t.Errorf("downgrade: %v", err)
	}
	if _, err := g.Plan([]string{"2030_1_contract01"}, []string{"2024_1_contract01"}); !errors.Is(err, migrate.ErrUnknownRevision) {
		t.Errorf("unknown row: %v", err)
	}
	if _, err := g.Plan([]string{"liberty", "mitaka01"}, []string{"2024_1_contract01"}); !errors.Is(err, migrate.ErrInconsistentVersion) {
		t.Errorf("non-minimal rows: %v", err)
	}
	if _, err := g.Resolve("nosuch"); !errors.Is(err, migrate.ErrUnknownRevision) {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := g.Resolve("head"); !errors.Is(err, migrate.ErrAmbiguousRevision) {
		t.Errorf("head with two heads: %v", err)
	}
	plan, err := g.Plan([]string{"2024_1_contract01"}, g.Heads())
	if err != nil || len(plan) != 0 {
		t.Errorf("at head: plan=%v err=%v", ids(plan), err)
	}
}

func TestEveryRevisionHasARelease(t *testing.T) {
	for _, r := range Graph().Revisions() {
		if r.Release == "" || !strings.HasPrefix(r.ID, r.Release) {
			t.Errorf("%s: release %q", r.ID, r.Release)
		}
	}
}
