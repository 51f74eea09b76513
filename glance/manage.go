// Package glance manages a Glance metadata database: its revisions, data
// migrations and upstream's historical quirks (legacy sqlalchemy-migrate
// versions, renamed revision ids). The CLI (internal/cli) is a thin layer
// over it; other Go programs can use it directly.
//
// The upgrade workflow (sync, upgrade, expand, migrate, contract) is one
// Plan: Manager.Plan reads a database, without changing it, and works out
// the phases, their revisions and data migrations, or the refusal
// (*RefusalError); Manager.Run carries the plan out under the caller's
// migration lock; an offline script is written from the same plan
// (Manager.PlanFrom, for given version rows) in the dialect's syntax
// (dialect.ScriptWriter), so that a script and a run cannot disagree.
package glance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/glance-manage/glance-manage/glance/datamigrations"
	"github.com/glance-manage/glance-manage/glance/migrations"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	// The backends Glance runs on, registered with package dialect.
	_ "github.com/glance-manage/glance-manage/migrate/dialect/mysql"
	_ "github.com/glance-manage/glance-manage/migrate/dialect/postgres"
	_ "github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
)

// DialectFor returns the dialect registered for a SQLAlchemy dialect name
// or one of its aliases ("mariadb" is MySQL); see dialect.Lookup.
func DialectFor(name string) (dialect.Dialect, error) {
	d, err := dialect.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("glance: no dialect for %q", name)
	}
	return d, nil
}

// Manager manages one Glance database.
type Manager struct {
	DB       *sql.DB
	Dialect  dialect.Dialect
	Migrator *migrate.Migrator
}

// New returns a Manager for db, whose backend is named by dialectName.
func New(db *sql.DB, dialectName string) (*Manager, error) {
	d, err := DialectFor(dialectName)
	if err != nil {
		return nil, err
	}
	return &Manager{DB: db, Dialect: d, Migrator: &migrate.Migrator{
		DB: db, Dialect: d, Graph: migrations.Graph(), Data: datamigrations.All(), Naming: Naming,
	}}, nil
}

// Graph is the revision graph.
func (m *Manager) Graph() *migrate.Graph { return m.Migrator.Graph }

// ExpandHead and ContractHead are the heads of the two branches.
func (m *Manager) ExpandHead() string   { return m.Graph().BranchHead(migrations.ExpandBranch) }
func (m *Manager) ContractHead() string { return m.Graph().BranchHead(migrations.ContractBranch) }

// Heads reads the version table, with the ids of Ocata's and Pike's
// monolithic revisions renamed in memory (pike01 to pike_contract01, else
// ocata01 to ocata_contract01), as upstream renames them on every read.
// It only reads: the rows themselves are renamed under the migration lock
// by the run of a plan (Plan.Rename) or by PlaceUnderControl. It does not
// validate the rows; see CheckedHeads.
func (m *Manager) Heads(ctx context.Context) ([]string, error) {
	rows, err := m.Migrator.Heads(ctx)
	if err != nil {
		return nil, err
	}
	rows, _ = renamed(rows)
	return rows, nil
}

// CheckedHeads is Heads plus validation against the graph.
func (m *Manager) CheckedHeads(ctx context.Context) ([]string, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, err
	}
	return rows, m.Graph().CheckRows(rows)
}

// Legacy sqlalchemy-migrate versions and the revisions they map to.
var legacyMap = map[int]string{42: "liberty", 43: "mitaka01", 44: "mitaka02", 45: "ocata01"}

// LegacyError reports a legacy (sqlalchemy-migrate) version that cannot be
// placed under alembic control.
type LegacyError struct {
	Version int
	TooOld  bool // 1-41: upgrade to Liberty with an older release first
}

func (e *LegacyError) Error() string {
	if e.TooOld {
		return fmt.Sprintf("glance: legacy migration version %d is older than Liberty (42)", e.Version)
	}
	return fmt.Sprintf("glance: legacy migration version %d is not one this tool can map", e.Version)
}

// ForeignDatabaseError reports a database that has tables but no version
// table.
type ForeignDatabaseError struct {
	Tables []string
	Glance bool // it has Glance's images table
}

func (e *ForeignDatabaseError) Error() string {
	if e.Glance {
		return "glance: the database has Glance tables but no alembic_version or migrate_version table"
	}
	return fmt.Sprintf("glance: the database holds %d table(s) but none of Glance's", len(e.Tables))
}
func (e *ForeignDatabaseError) Unwrap() error { return migrate.ErrNotUnderControl }

// Placement says what PlaceUnderControl did.
type Placement struct {
	LegacyVersion int    // the migrate_version found (0: none)
	Revision      string // the revision stamped ("" when nothing was done)
}

// PlaceUnderControl prepares a database for an upgrade: one that alembic
// already controls is left alone; an empty one is left empty (the upgrade
// creates everything); one at a legacy sqlalchemy-migrate version 42-45 is
// stamped with the matching revision (upstream's Ocata-to-Victoria
// behaviour). Anything else is refused with an error saying why.
//
// It writes: the caller holds the migration lock. It also renames the
// revision id upstream renamed (see Heads) in the version table.
func (m *Manager) PlaceUnderControl(ctx context.Context) (Placement, error) {
	raw, err := m.Migrator.Heads(ctx)
	if err != nil {
		return Placement{}, err
	}
	if _, rn := renamed(raw); rn != nil {
		if _, err := m.Migrator.RenameRows(ctx, rn.From, rn.To); err != nil {
			return Placement{}, err
		}
	}
	if len(raw) > 0 {
		return Placement{}, nil
	}
	p, ids, err := m.placement(ctx)
	if err != nil || len(ids) == 0 {
		return p, err
	}
	if err := m.Migrator.Stamp(ctx, ids); err != nil {
		return Placement{}, err
	}
	return p, nil
}

// placement works out what PlaceUnderControl does to a database without
// version rows, changing nothing: the placement and the revision ids to
// stamp (none when the database is left as it is).
func (m *Manager) placement(ctx context.Context) (Placement, []string, error) {
	// A first revision interrupted on MySQL left some of its tables and
	// an empty version table: the upgrade resumes it.
	if resume, err := m.Migrator.InterruptedBase(ctx); err != nil || resume {
		return Placement{}, nil, err
	}
	tables, err := m.Dialect.Tables(ctx, m.DB)
	if err != nil {
		return Placement{}, nil, err
	}
	var others []string
	hasLegacy, hasImages := false, false
	for _, t := range tables {
		if Naming.IsBookkeeping(t) { // this tool's own (the lock)
			continue
		}
		switch t {
		case "migrate_version":
			hasLegacy = true
		case migrate.VersionTable:
		case "images":
			hasImages = true
			others = append(others, t)
		default:
			others = append(others, t)
		}
	}
	if !hasLegacy {
		if len(others) == 0 {
			return Placement{}, nil, nil
		}
		// A one-step build of an empty database that was interrupted
		// (MySQL) is finished by the next upgrade.
		if ok, err := m.Migrator.InterruptedBuild(ctx, m.Graph().Heads()); err != nil || ok {
			return Placement{}, nil, err
		}
		return Placement{}, nil, &ForeignDatabaseError{Tables: others, Glance: hasImages}
	}
	var v int
	if err := m.DB.QueryRowContext(ctx, "SELECT version FROM migrate_version").Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Placement{}, nil, &LegacyError{Version: 0}
		}
		return Placement{}, nil, err
	}
	rev, ok := legacyMap[v]
	switch {
	case ok:
	case v >= 1 && v <= 41:
		return Placement{LegacyVersion: v}, nil, &LegacyError{Version: v, TooOld: true}
	default:
		return Placement{LegacyVersion: v}, nil, &LegacyError{Version: v}
	}
	ids, err := m.Graph().Resolve(rev)
	if err != nil {
		return Placement{}, nil, err
	}
	return Placement{LegacyVersion: v, Revision: rev}, ids, nil
}

// Level is where a database stands on one branch.
type Level struct {
	Current string   // newest applied revision of the branch ("" for none)
	Head    string   // the branch head
	Pending []string // revisions of the branch still to apply, in order
}

// AtHead reports whether the branch is fully applied.
func (l Level) AtHead() bool { return l.Current == l.Head }

// Status describes where a database stands.
type Status struct {
	Rows     []string         // alembic_version rows, in walk order
	Base     Level            // liberty..mitaka02
	Expand   Level            // the expand branch
	Contract Level            // the contract branch
	Data     map[string]int64 // data migrations runnable now, with their pending rows
	// Release is the release both branches have fully reached ("" when
	// the database is between releases or empty).
	Release string
	// UnfinishedCopies are tables whose shadow copy (MariaDB, see
	// migrate.Migrator.UnfinishedCopies) an interrupted expand or
	// contract left; running that command again resumes it.
	UnfinishedCopies []string
}

// DataPending sums the rows data migrations still have to change.
func (s *Status) DataPending() int64 {
	var n int64
	for _, v := range s.Data {
		n += v
	}
	return n
}

// Status reports where the database stands on every branch.
func (m *Manager) Status(ctx context.Context) (*Status, error) {
	rows, err := m.CheckedHeads(ctx)
	if err != nil {
		return nil, err
	}
	g := m.Graph()
	applied := g.Applied(rows)
	st := &Status{Rows: rows}
	st.Expand.Head, st.Contract.Head = m.ExpandHead(), m.ContractHead()
	st.Base.Head = g.Revision(st.Expand.Head).Down
	for cur := st.Base.Head; cur != ""; cur = g.Revision(cur).Down {
		st.Base.Head = cur
		if g.Revision(cur).Branch == migrate.NoBranch {
			break
		}
	}
	for _, id := range g.WalkOrder() {
		r := g.Revision(id)
		lvl := &st.Base
		switch r.Branch {
		case migrate.Expand:
			lvl = &st.Expand
		case migrate.Contract:
			lvl = &st.Contract
		}
		if applied[id] {
			lvl.Current = id
		} else {
			lvl.Pending = append(lvl.Pending, id)
		}
	}
	st.Base.Head = st.Base.Current
	if len(st.Base.Pending) > 0 {
		st.Base.Head = st.Base.Pending[len(st.Base.Pending)-1]
	}
	if st.Data, err = m.Migrator.PendingDataAt(ctx, rows); err != nil {
		return nil, err
	}
	if st.UnfinishedCopies, err = m.Migrator.UnfinishedCopies(ctx); err != nil {
		return nil, err
	}
	if e, c := g.Revision(st.Expand.Current), g.Revision(st.Contract.Current); e != nil && c != nil {
		// A release is reached when both branches sit on that release's
		// last revision.
		if last := lastOfRelease(g, e.Release, migrate.Expand); last == e.ID && lastOfRelease(g, c.Release, migrate.Contract) == c.ID && e.Release == c.Release {
			st.Release = e.Release
		}
	}
	return st, nil
}

func lastOfRelease(g *migrate.Graph, release string, b migrate.Branch) string {
	last := ""
	for _, id := range g.WalkOrder() {
		r := g.Revision(id)
		if r.Branch == b && r.Release == release {
			last = id
		}
	}
	return last
}

// Releases lists the releases of the graph in order.
func (m *Manager) Releases() []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range m.Graph().WalkOrder() {
		r := m.Graph().Revision(id).Release
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
