package glance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/glance-manage/glance-manage/migrate"
)

// Command is one command of the upgrade workflow. A Plan says what it
// does to one database; Run does it, and an offline script (--sql,
// --dry-run) is written from the same Plan, so that the two cannot
// disagree.
type Command string

// The commands of the workflow.
const (
	Sync     Command = "sync"     // everything, offline: expand, migrate, contract (or up to a revision)
	Upgrade  Command = "upgrade"  // up to a revision ("heads" by default), online, data included
	Expand   Command = "expand"   // the expand branch, online
	Migrate  Command = "migrate"  // the data migrations the expand branch made runnable
	Contract Command = "contract" // the contract branch, online, once the data is migrated
)

// Refusals: a command that cannot run on the database as it stands.
var (
	// ErrNoExpandHead and ErrNoContractHead: the graph has no such branch.
	ErrNoExpandHead   = errors.New("glance: the revision graph has no expand branch")
	ErrNoContractHead = errors.New("glance: the revision graph has no contract branch")
	// ErrExpandFirst: migrate and contract need the expand branch fully
	// applied.
	ErrExpandFirst = errors.New("glance: the expand branch is not fully applied")
	// ErrDataFirst: contract needs every data migration complete. It
	// wraps migrate.ErrDataMigrationPending.
	ErrDataFirst = fmt.Errorf("glance: data migrations are not complete: %w", migrate.ErrDataMigrationPending)
)

// RefusalError is a phase that refused to run; Err is one of the
// sentinels above.
type RefusalError struct {
	Phase PhaseKind
	Err   error
}

func (e *RefusalError) Error() string { return fmt.Sprintf("glance: %s refused: %v", e.Phase, e.Err) }
func (e *RefusalError) Unwrap() error { return e.Err }

func refuse(k PhaseKind, err error) error { return &RefusalError{Phase: k, Err: err} }

// IncompleteError reports a phase that ran but left its branch head
// unapplied (the version table says where the database stopped).
type IncompleteError struct {
	Phase PhaseKind
	Head  string   // the head the phase was to reach
	Heads []string // the version-table rows afterwards
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("glance: %s did not reach %s (the database is at %s)", e.Phase, e.Head, strings.Join(e.Heads, ", "))
}

// UpToDate says why a plan or a phase has nothing to do.
type UpToDate int

const (
	NotUpToDate    UpToDate = iota
	AllUpToDate             // the contract head is applied: nothing left at all
	ExpandUpToDate          // the expand branch is applied already
	DataUpToDate            // no data migration has rows left
)

// PhaseKind is what a phase of a plan does.
type PhaseKind int

const (
	PhaseUpgrade  PhaseKind = iota // revisions up to Targets (upgrade; sync VERSION)
	PhaseExpand                    // the expand branch
	PhaseMigrate                   // the runnable data migrations, in batches
	PhaseContract                  // the contract branch
)

func (k PhaseKind) String() string {
	return [...]string{"upgrade", "expand", "migrate", "contract"}[k]
}

// Plan is what a command does to one database, worked out without
// changing anything. Build it with Manager.Plan (a live database) or
// Manager.PlanFrom (given version rows, for offline scripts); carry it out
// with Manager.Run.
type Plan struct {
	Command Command
	Target  string // the target revision as given ("" for the command's own)
	// Live: the plan was read from a database (Manager.Plan).
	Live bool
	// Read are the version-table rows as read (live), with an id renamed
	// upstream (see Rename) already renamed.
	Read []string
	// Rename, when set, is a renamed revision id the run rewrites in the
	// version table first (pike01 to pike_contract01, else ocata01 to
	// ocata_contract01), as upstream does.
	Rename *Rename
	// Placement is the legacy sqlalchemy-migrate version the run places
	// under alembic control first (Revision "" when none).
	Placement Placement
	// Empty: live, the database has no table at all.
	Empty bool
	// Start are the rows the phases start from: Read, or the rows the
	// Placement stamps.
	Start []string
	// UpToDate, when set, says why the command has nothing to do; Phases
	// is then empty.
	UpToDate UpToDate
	Phases   []Phase
	// Result are the version-table rows after the last phase.
	Result []string
	// Pending (live) lists the data migrations runnable at Start, with
	// the rows each still has to change.
	Pending map[string]int64
	// Baseline (live): the database is empty and the run creates the
	// resulting schema in one step (see migrate's baseline) instead of
	// revision by revision.
	Baseline bool

	stamp []string // the revision ids the Placement stamps
}

// Rename is a version-table row the run renames.
type Rename struct{ From, To string }

// Phase is one engine run of a plan.
type Phase struct {
	Kind    PhaseKind
	Targets []string        // the revisions the phase brings the database to (none for PhaseMigrate)
	Options migrate.Options // Online and RunData of this phase
	Steps   []Step          // its revisions, in order
}

// Head is the branch head an expand or contract phase reaches.
func (p *Phase) Head() string {
	if len(p.Targets) == 1 {
		return p.Targets[0]
	}
	return ""
}

// Step is one revision of a phase.
type Step struct {
	Revision *migrate.Revision
	From     []string   // the version-table rows before it
	Data     []DataStep // data migrations that must be complete before it
	// SQL are the revision's statements as an offline script runs them
	// (the dialect's plain forms), its version-table change included.
	SQL []string
}

// DataMode says how a script handles a data migration.
type DataMode int

const (
	// DataBatched (live plans): the run migrates the rows present in
	// keyed batches; DataStep.Rows is how many there are now, or -1 when
	// the migration is not runnable yet.
	DataBatched DataMode = iota
	// DataNoRows: the script starts from an empty database; there are
	// no rows to migrate.
	DataNoRows
	// DataAtOnce: the script migrates every row at once with
	// DataStep.SQL.
	DataAtOnce
	// DataMigrateHere: the migration cannot be written as SQL; the
	// expand branch is applied at this point, so `migrate` can run here.
	DataMigrateHere
	// DataOnlineOnly: the migration cannot be written as SQL, and at this
	// point only an online upgrade can carry the rows over.
	DataOnlineOnly
)

// DataStep is a data migration at the step where it must be complete.
type DataStep struct {
	Migration *migrate.DataMigration
	Mode      DataMode
	Rows      int64    // DataBatched
	SQL       []string // DataAtOnce
}

// Steps are the plan's revisions in order, over all phases.
func (p *Plan) Steps() []*Step {
	var out []*Step
	for i := range p.Phases {
		for j := range p.Phases[i].Steps {
			out = append(out, &p.Phases[i].Steps[j])
		}
	}
	return out
}

// prepares reports whether cmd places a legacy database under control
// before it runs (upstream's sync, upgrade and expand do; migrate and
// contract do not).
func (c Command) prepares() bool { return c == Sync || c == Upgrade || c == Expand }

// Plan reads the database and works out what cmd does to it, up to
// target (Sync, Upgrade; "" for the command's own). It only reads. A
// command that cannot run returns a *RefusalError wrapping ErrNoExpandHead,
// ErrNoContractHead, ErrExpandFirst or ErrDataFirst; a database that cannot be placed under
// control a *LegacyError or *ForeignDatabaseError; rows unknown to the
// graph the graph's errors.
func (m *Manager) Plan(ctx context.Context, cmd Command, target string) (*Plan, error) {
	raw, err := m.Migrator.Heads(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{Command: cmd, Target: target, Live: true}
	p.Read, p.Rename = renamed(raw)
	p.Start = p.Read
	if len(raw) == 0 {
		if p.Empty, err = m.Migrator.IsEmpty(ctx); err != nil {
			return nil, err
		}
		if !p.Empty && cmd.prepares() {
			pl, ids, err := m.placement(ctx)
			if err != nil {
				return nil, err
			}
			p.Placement, p.stamp = pl, ids
			p.Start = m.Graph().Minimal(ids)
		}
	}
	if err := m.Graph().CheckRows(p.Start); err != nil {
		return nil, err
	}
	if p.Pending, err = m.Migrator.PendingDataAt(ctx, p.Start); err != nil {
		return nil, err
	}
	return p, m.phases(p)
}

// PlanFrom works out what cmd does to a database whose version table
// holds rows (none: an empty database), without a database: the plan of
// an offline script. Data migrations cannot count rows there; see
// DataMode.
func (m *Manager) PlanFrom(cmd Command, target string, rows []string) (*Plan, error) {
	p := &Plan{Command: cmd, Target: target, Read: rows, Start: rows}
	return p, m.phases(p)
}

// renamed renames, in memory, the revision id upstream renamed (see
// Plan.Rename).
func renamed(rows []string) ([]string, *Rename) {
	from := ""
	for _, r := range rows {
		if r == "pike01" {
			from = r
		} else if r == "ocata01" && from == "" {
			from = r
		}
	}
	if from == "" {
		return rows, nil
	}
	rn := &Rename{From: from, To: strings.TrimSuffix(from, "01") + "_contract01"}
	out := make([]string, len(rows))
	for i, r := range rows {
		if r == from {
			r = rn.To
		}
		out[i] = r
	}
	return out, rn
}

// phases decides the phases of p from p.Start, and their steps.
func (m *Manager) phases(p *Plan) error {
	g := m.Graph()
	applied := g.Applied(p.Start)
	eh, ch := m.ExpandHead(), m.ContractHead()
	pending := int64(0)
	for _, n := range p.Pending {
		pending += n
	}
	switch p.Command {
	case Sync:
		switch {
		case p.Target != "":
			targets, err := g.Resolve(p.Target)
			if err != nil {
				return err
			}
			p.Phases = []Phase{{Kind: PhaseUpgrade, Targets: targets, Options: migrate.Options{RunData: true}}}
		case applied[ch]:
			p.UpToDate = AllUpToDate
		default:
			p.Phases = []Phase{
				{Kind: PhaseExpand, Targets: []string{eh}},
				{Kind: PhaseMigrate},
				{Kind: PhaseContract, Targets: []string{ch}},
			}
			p.Baseline = p.Live && len(p.Start) == 0
		}
	case Upgrade:
		target := p.Target
		if target == "" {
			target = "heads"
		}
		targets, err := g.Resolve(target)
		if err != nil {
			return err
		}
		p.Phases = []Phase{{Kind: PhaseUpgrade, Targets: targets, Options: migrate.Options{Online: true, RunData: true}}}
	case Expand:
		switch {
		case eh == "":
			return refuse(PhaseExpand, ErrNoExpandHead)
		case applied[ch]:
			p.UpToDate = AllUpToDate
		case applied[eh]:
			p.UpToDate = ExpandUpToDate
		default:
			p.Phases = []Phase{{Kind: PhaseExpand, Targets: []string{eh}, Options: migrate.Options{Online: true}}}
		}
	case Migrate:
		switch {
		case applied[ch]:
			p.UpToDate = AllUpToDate
		case !applied[eh]:
			return refuse(PhaseMigrate, ErrExpandFirst)
		case p.Live && pending == 0:
			p.UpToDate = DataUpToDate
		default:
			p.Phases = []Phase{{Kind: PhaseMigrate}}
		}
	case Contract:
		switch {
		case ch == "":
			return refuse(PhaseContract, ErrNoContractHead)
		case applied[ch]:
			p.UpToDate = AllUpToDate
		case !applied[eh]:
			return refuse(PhaseContract, ErrExpandFirst)
		case pending > 0:
			return refuse(PhaseContract, ErrDataFirst)
		default:
			p.Phases = []Phase{{Kind: PhaseContract, Targets: []string{ch}, Options: migrate.Options{Online: true}}}
		}
	default:
		return fmt.Errorf("glance: unknown command %q", p.Command)
	}
	return m.steps(p)
}

// steps fills in the revisions of p's phases, with their statements and
// the data migrations each must wait for.
func (m *Manager) steps(p *Plan) error {
	g := m.Graph()
	eh := m.ExpandHead()
	cur := p.Start
	for i := range p.Phases {
		ph := &p.Phases[i]
		if len(ph.Targets) == 0 {
			continue
		}
		revs, err := g.Plan(cur, ph.Targets)
		if err != nil {
			return err
		}
		for _, rev := range revs {
			st := Step{Revision: rev, From: cur}
			sql, err := m.Migrator.RenderSQL(cur, []string{rev.ID}, ph.Options)
			if err != nil {
				return err
			}
			st.SQL = slices.DeleteFunc(sql, func(q string) bool { return strings.HasPrefix(q, "-- Running upgrade ") })
			if ph.Kind != PhaseExpand {
				for _, dm := range m.Migrator.Data {
					if dm.Before == rev.ID {
						st.Data = append(st.Data, m.dataStep(p, dm, g.Applied(cur)[eh]))
					}
				}
			}
			ph.Steps = append(ph.Steps, st)
			cur = g.ApplyStep(cur, rev.ID)
		}
	}
	p.Result = cur
	return nil
}

// dataStep says how dm is handled where it must be complete;
// atExpandHead says whether the expand branch is applied there.
func (m *Manager) dataStep(p *Plan, dm *migrate.DataMigration, atExpandHead bool) DataStep {
	ds := DataStep{Migration: dm}
	switch {
	case p.Live:
		ds.Mode, ds.Rows = DataBatched, -1
		if n, ok := p.Pending[dm.Name]; ok {
			ds.Rows = n
		}
	case len(p.Start) == 0:
		ds.Mode = DataNoRows
	case dm.SQL != nil:
		ds.Mode, ds.SQL = DataAtOnce, dm.SQL(m.Dialect)
	case atExpandHead:
		ds.Mode = DataMigrateHere
	default:
		ds.Mode = DataOnlineOnly
	}
	return ds
}

// PlanRows returns the version-table rows an upgrade of the database
// starts from, worked out without changing anything: the rows as read,
// with the revision ids upstream renamed (pike01, ocata01) renamed in
// memory, or, for a database at a legacy sqlalchemy-migrate version
// (42-45), the rows the upgrade would stamp. The rows are checked against
// the graph (CheckedHeads's errors); an empty database has none. Legacy
// is the legacy version found (0: none).
func (m *Manager) PlanRows(ctx context.Context) (rows []string, legacy int, err error) {
	rows, err = m.Migrator.Heads(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(rows) == 0 {
		p, ids, err := m.placement(ctx)
		if err != nil {
			return nil, p.LegacyVersion, err
		}
		return m.Graph().Minimal(ids), p.LegacyVersion, nil
	}
	rows, _ = renamed(rows)
	return rows, 0, m.Graph().CheckRows(rows)
}
