package migrate

import (
	"fmt"
	"sort"
	"strings"
)

// Graph is an immutable, validated revision graph.
type Graph struct {
	revs   []*Revision // in declaration order
	byID   map[string]*Revision
	labels map[string]*Revision // declared branch label -> declaring revision
	kids   map[string][]string  // revision -> revisions whose down revision it is
	heads  []string             // revisions that are no one's down revision (alembic's heads)
}

// NewGraph validates revs and builds the graph. It refuses duplicate ids,
// parents that do not exist, cycles and labels declared twice.
func NewGraph(revs []*Revision) (*Graph, error) {
	g := &Graph{
		byID:   make(map[string]*Revision, len(revs)),
		labels: map[string]*Revision{},
		kids:   map[string][]string{},
	}
	for _, r := range revs {
		if r.ID == "" {
			return nil, fmt.Errorf("migrate: revision with an empty id")
		}
		if _, dup := g.byID[r.ID]; dup {
			return nil, fmt.Errorf("migrate: revision %q declared twice", r.ID)
		}
		g.byID[r.ID] = r
		g.revs = append(g.revs, r)
	}
	for _, r := range revs {
		for _, p := range r.Parents() {
			if _, ok := g.byID[p]; !ok {
				return nil, fmt.Errorf("migrate: revision %q names unknown parent %q", r.ID, p)
			}
		}
		if r.Down != "" {
			g.kids[r.Down] = append(g.kids[r.Down], r.ID)
		}
		for _, l := range r.Labels {
			if other, dup := g.labels[l]; dup {
				return nil, fmt.Errorf("migrate: branch label %q declared by %q and %q", l, other.ID, r.ID)
			}
			if _, clash := g.byID[l]; clash {
				return nil, fmt.Errorf("migrate: branch label %q is also a revision id", l)
			}
			g.labels[l] = r
		}
	}
	// Cycle check: a topological walk must reach every revision.
	state := map[string]int{}
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("migrate: revision graph has a cycle through %q", id)
		case 2:
			return nil
		}
		state[id] = 1
		for _, p := range g.byID[id].Parents() {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[id] = 2
		return nil
	}
	for _, r := range revs {
		if err := visit(r.ID); err != nil {
			return nil, err
		}
		if len(g.kids[r.ID]) == 0 {
			g.heads = append(g.heads, r.ID)
		}
	}
	sort.SliceStable(g.heads, func(i, j int) bool {
		return len(g.Ancestors(g.heads[i])) < len(g.Ancestors(g.heads[j]))
	})
	return g, nil
}

// MustGraph is NewGraph for package-level graphs known to be valid.
func MustGraph(revs []*Revision) *Graph {
	g, err := NewGraph(revs)
	if err != nil {
		panic(err)
	}
	return g
}

// Revision returns the revision with the given id, or nil.
func (g *Graph) Revision(id string) *Revision { return g.byID[id] }

// Revisions returns every revision in declaration order.
func (g *Graph) Revisions() []*Revision { return append([]*Revision(nil), g.revs...) }

// Heads returns the revisions that no other revision builds on.
func (g *Graph) Heads() []string { return append([]string(nil), g.heads...) }

// BranchHead returns the single head of the branch that carries label
// (labels propagate from the declaring revision to its descendants along
// down revisions), or "" if there is none or more than one.
func (g *Graph) BranchHead(label string) string {
	decl := g.labels[label]
	if decl == nil {
		return ""
	}
	var found []string
	for _, h := range g.heads {
		if g.onDownChain(h, decl.ID) {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// onDownChain reports whether anc is reached from id by following down
// revisions only (how alembic propagates branch labels).
func (g *Graph) onDownChain(id, anc string) bool {
	for id != "" {
		if id == anc {
			return true
		}
		id = g.byID[id].Down
	}
	return false
}

// LabelsOf returns the branch labels revision id carries: its own and
// those propagated from ancestors on its down-revision chain.
func (g *Graph) LabelsOf(id string) []string {
	var out []string
	for cur := id; cur != ""; cur = g.byID[cur].Down {
		out = append(out, g.byID[cur].Labels...)
	}
	sort.Strings(out)
	return out
}

// Ancestors returns id's ancestors, through down revisions and
// dependencies, transitively, not including id itself.
func (g *Graph) Ancestors(id string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(cur string) {
		for _, p := range g.byID[cur].Parents() {
			if !out[p] {
				out[p] = true
				walk(p)
			}
		}
	}
	walk(id)
	return out
}

// IsAncestor reports whether anc is a strict ancestor of id.
func (g *Graph) IsAncestor(anc, id string) bool { return g.Ancestors(id)[anc] }

// Applied returns every revision applied when the version table holds
// rows: the rows and all their ancestors.
func (g *Graph) Applied(rows []string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		if g.byID[r] == nil {
			continue
		}
		out[r] = true
		for a := range g.Ancestors(r) {
			out[a] = true
		}
	}
	return out
}

// Minimal reduces a set of applied revisions to what alembic keeps in its
// version table: the ones that are not an ancestor of another one. The
// result follows the walk order of the graph.
func (g *Graph) Minimal(ids []string) []string {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for id := range set {
		for a := range g.Ancestors(id) {
			delete(set, a)
		}
	}
	var out []string
	for _, id := range g.WalkOrder() {
		if set[id] {
			out = append(out, id)
		}
	}
	return out
}

// WalkOrder returns every revision in the order alembic applies them when
// upgrading an empty database to all heads.
func (g *Graph) WalkOrder() []string {
	return g.walk(g.heads, map[string]bool{})
}

// walk lists the ancestors-or-self of targets that are not in done, parents
// before children, dependencies before down revisions (alembic's order).
func (g *Graph) walk(targets []string, done map[string]bool) []string {
	seen := map[string]bool{}
	var out []string
	var visit func(string)
	visit = func(id string) {
		if seen[id] || done[id] {
			return
		}
		seen[id] = true
		for _, p := range g.byID[id].Parents() {
			visit(p)
		}
		out = append(out, id)
	}
	// Alembic upgrades to several heads by walking the ones with fewer
	// ancestors first, so an expand head comes before the contract head
	// that depends on it.
	ts := append([]string(nil), targets...)
	sort.SliceStable(ts, func(i, j int) bool {
		return len(g.Ancestors(ts[i])) < len(g.Ancestors(ts[j]))
	})
	for _, t := range ts {
		visit(t)
	}
	return out
}

// Resolve turns a target as operators write it into revision ids:
//
//	heads             every head
//	head              the single head (an error if there are several)
//	<label>@head      the head of the branch carrying <label>
//	<label>           the revision that declares the branch label
//	<id> or a unique prefix of one
//
// "base" resolves to no revision. Relative targets ("+1") are refused.
func (g *Graph) Resolve(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "":
		return nil, &RevisionError{Spec: spec, Err: ErrUnknownRevision}
	case "heads":
		return g.Heads(), nil
	case "head":
		if len(g.heads) != 1 {
			return nil, &RevisionError{Spec: spec, Err: ErrAmbiguousRevision,
				Detail: "there are several heads (" + strings.Join(g.heads, ", ") + "); use heads, expand@head or contract@head"}
		}
		return g.Heads(), nil
	case "base":
		return []string{}, nil
	}
	if strings.ContainsAny(spec, "+-") && (strings.HasPrefix(spec, "+") || strings.HasPrefix(spec, "-") || strings.Contains(spec, "@+") || strings.Contains(spec, "@-")) {
		return nil, &RevisionError{Spec: spec, Err: ErrUnknownRevision, Detail: "relative revisions are not supported; name a revision"}
	}
	if label, ok := strings.CutSuffix(spec, "@head"); ok {
		h := g.BranchHead(label)
		if h == "" {
			return nil, &RevisionError{Spec: spec, Err: ErrUnknownRevision}
		}
		return []string{h}, nil
	}
	if r := g.byID[spec]; r != nil {
		return []string{r.ID}, nil
	}
	if r := g.labels[spec]; r != nil {
		return []string{r.ID}, nil
	}
	var matches []string
	for _, r := range g.revs {
		if strings.HasPrefix(r.ID, spec) {
			matches = append(matches, r.ID)
		}
	}
	switch len(matches) {
	case 1:
		return matches, nil
	case 0:
		return nil, &RevisionError{Spec: spec, Err: ErrUnknownRevision}
	default:
		return nil, &RevisionError{Spec: spec, Err: ErrAmbiguousRevision, Detail: "it matches " + strings.Join(matches, ", ")}
	}
}

// Plan returns the revisions to apply, in order, to bring a database whose
// version table holds rows up to targets. It refuses unknown rows and
// targets that lie behind what is applied (downgrades).
func (g *Graph) Plan(rows, targets []string) ([]*Revision, error) {
	if err := g.CheckRows(rows); err != nil {
		return nil, err
	}
	applied := g.Applied(rows)
	for _, t := range targets {
		if g.byID[t] == nil {
			return nil, &RevisionError{Spec: t, Err: ErrUnknownRevision}
		}
		if applied[t] {
			// Applied already: a no-op when it is the newest applied
			// revision of its branch, a downgrade when an applied revision
			// of the same branch (down-revision chain) follows it.
			for a := range applied {
				if a != t && g.onDownChain(a, t) {
					return nil, &DowngradeError{Target: t, Current: append([]string(nil), rows...)}
				}
			}
		}
	}
	ids := g.walk(targets, applied)
	out := make([]*Revision, len(ids))
	for i, id := range ids {
		out[i] = g.byID[id]
	}
	return out, nil
}

// CheckRows validates the rows of a version table: every row a known
// revision, no duplicates, and none an ancestor of another.
func (g *Graph) CheckRows(rows []string) error {
	seen := map[string]bool{}
	for _, r := range rows {
		if g.byID[r] == nil {
			return &VersionTableError{Rows: rows, Err: ErrUnknownRevision, Detail: fmt.Sprintf("revision %q is not known to this tool (a newer release, or another application's table)", r)}
		}
		if seen[r] {
			return &VersionTableError{Rows: rows, Err: ErrInconsistentVersion, Detail: fmt.Sprintf("revision %q appears twice", r)}
		}
		seen[r] = true
	}
	for _, a := range rows {
		for _, b := range rows {
			if a != b && g.IsAncestor(a, b) {
				return &VersionTableError{Rows: rows, Err: ErrInconsistentVersion, Detail: fmt.Sprintf("%q is an ancestor of %q; alembic never stores both", a, b)}
			}
		}
	}
	return nil
}

// Step describes how the version table changes when rev is applied on top
// of rows: rows to delete, the row to update to rev (if any), or an insert.
type Step struct {
	Delete []string // rows removed outright
	Update string   // row rewritten to the new revision ("" when inserting)
	Insert bool     // true when the new revision gets a new row
}

// VersionStep computes the version-table change for applying rev when the
// table holds rows, the way alembic does: rows that are ancestors of rev
// go away; one of them (preferably a dependency) is updated in place, the
// others are deleted; with none, a row is inserted.
func (g *Graph) VersionStep(rows []string, rev string) Step {
	anc := g.Ancestors(rev)
	var gone []string
	for _, r := range rows {
		if anc[r] {
			gone = append(gone, r)
		}
	}
	if len(gone) == 0 {
		return Step{Insert: true}
	}
	down := g.byID[rev].Down
	upd := gone[0]
	for _, r := range gone {
		if r != down {
			upd = r
			break
		}
	}
	var del []string
	for _, r := range gone {
		if r != upd {
			del = append(del, r)
		}
	}
	return Step{Delete: del, Update: upd}
}

// ApplyStep returns the rows after applying rev on top of rows.
func (g *Graph) ApplyStep(rows []string, rev string) []string {
	return g.Minimal(append(append([]string(nil), rows...), rev))
}
