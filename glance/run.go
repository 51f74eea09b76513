package glance

import (
	"context"
	"slices"

	"github.com/glance-manage/glance-manage/migrate"
)

// RunOptions tune Manager.Run.
type RunOptions struct {
	// Options are the engine's options for every phase (lock waits,
	// progress, batches, throttling); Online and RunData are each phase's
	// own (Phase.Options) and NoBaseline is taken from here.
	Options migrate.Options
	// MaxRows bounds the rows a Migrate plan changes (negative: no
	// limit); PhaseResult.Remaining then says whether rows remain. The
	// migrate phase of a sync always runs to the end.
	MaxRows int64
	// Observe, when set, receives the engine's events (migrate.Event).
	Observe func(migrate.Event) error
	// Placed, when set, is told of a legacy database the run placed
	// under control (Plan.Placement), after it did.
	Placed func(Placement)
	// BeforeUpgrade, when set, is called before each engine upgrade with
	// its targets and options (to warn about what it will rebuild).
	BeforeUpgrade func(ctx context.Context, targets []string, o migrate.Options)
	// PhaseDone, when set, is told of each phase as it ends, before Run
	// returns an error about it (*IncompleteError). An error it returns
	// stops the run and is returned.
	PhaseDone func(PhaseResult) error
}

// PhaseResult is the outcome of one phase of a run.
type PhaseResult struct {
	Phase *Phase
	// Skipped, when set, says why the phase found nothing to do.
	Skipped UpToDate
	Heads   []string // the version-table rows afterwards
	// Migrated and Remaining (PhaseMigrate): rows changed, and whether
	// rows remain after RunOptions.MaxRows.
	Migrated  int64
	Remaining bool
}

// Run carries out p, which Plan read from this database. The caller
// holds the migration lock (see migrate.Locker). It first renames the
// row upstream renamed and places a legacy database under control, then
// runs the phases in order; each phase checks again, on the database as
// it is then, what it needs (the expand branch applied, the data
// migrated) and refuses with Plan's errors. A plan that is up to date
// does nothing but the renaming.
func (m *Manager) Run(ctx context.Context, p *Plan, o RunOptions) error {
	if o.Observe != nil {
		m.Migrator.Observe = o.Observe
	}
	if p.Rename != nil {
		if _, err := m.Migrator.RenameRows(ctx, p.Rename.From, p.Rename.To); err != nil {
			return err
		}
	}
	if p.UpToDate != NotUpToDate {
		return nil
	}
	if len(p.stamp) > 0 {
		if err := m.Migrator.Stamp(ctx, p.stamp); err != nil {
			return err
		}
		if o.Placed != nil {
			o.Placed(p.Placement)
		}
	}
	if p.Baseline && !o.Options.NoBaseline {
		return m.runBaseline(ctx, p, o)
	}
	for i := range p.Phases {
		res, err := m.runPhase(ctx, p, &p.Phases[i], o)
		if err != nil {
			return err
		}
		if o.PhaseDone != nil {
			if err := o.PhaseDone(res); err != nil {
				return err
			}
		}
		if err := m.complete(res); err != nil {
			return err
		}
	}
	return nil
}

// complete returns an *IncompleteError when an expand or contract phase
// ran without reaching its head.
func (m *Manager) complete(res PhaseResult) error {
	ph := res.Phase
	if res.Skipped != NotUpToDate {
		return nil
	}
	switch ph.Kind {
	case PhaseExpand:
		if !m.Graph().Applied(res.Heads)[ph.Head()] {
			return &IncompleteError{Phase: ph.Kind, Head: ph.Head(), Heads: res.Heads}
		}
	case PhaseContract:
		if !slices.Contains(res.Heads, ph.Head()) {
			return &IncompleteError{Phase: ph.Kind, Head: ph.Head(), Heads: res.Heads}
		}
	}
	return nil
}

// runBaseline builds an empty database in one engine run (the phases'
// targets at once), reporting the phases as a sync does.
func (m *Manager) runBaseline(ctx context.Context, p *Plan, o RunOptions) error {
	heads, err := m.upgrade(ctx, m.Graph().Heads(), migrate.Options{RunData: true}, o)
	if err != nil {
		return err
	}
	for i := range p.Phases {
		ph := &p.Phases[i]
		res := PhaseResult{Phase: ph, Heads: heads}
		switch ph.Kind {
		case PhaseExpand:
			res.Heads = []string{ph.Head()}
		case PhaseMigrate:
			res.Skipped = DataUpToDate
		}
		if o.PhaseDone != nil {
			if err := o.PhaseDone(res); err != nil {
				return err
			}
		}
	}
	return nil
}

// runPhase runs one phase after checking, on the database as it is now,
// that it can.
func (m *Manager) runPhase(ctx context.Context, p *Plan, ph *Phase, o RunOptions) (PhaseResult, error) {
	res := PhaseResult{Phase: ph}
	rows, err := m.CheckedHeads(ctx)
	if err != nil {
		return res, err
	}
	applied := m.Graph().Applied(rows)
	eh, ch := m.ExpandHead(), m.ContractHead()
	switch ph.Kind {
	case PhaseExpand:
		if applied[ch] {
			res.Skipped, res.Heads = AllUpToDate, rows
			return res, nil
		}
		if applied[eh] {
			res.Skipped, res.Heads = ExpandUpToDate, rows
			return res, nil
		}
	case PhaseMigrate, PhaseContract:
		if applied[ch] {
			res.Skipped, res.Heads = AllUpToDate, rows
			return res, nil
		}
		if !applied[eh] {
			return res, refuse(ph.Kind, ErrExpandFirst)
		}
		pending, err := m.Migrator.PendingDataAt(ctx, rows)
		if err != nil {
			return res, err
		}
		n := int64(0)
		for _, v := range pending {
			n += v
		}
		if ph.Kind == PhaseContract {
			if n > 0 {
				return res, refuse(ph.Kind, ErrDataFirst)
			}
			break
		}
		res.Heads = rows
		if n == 0 {
			res.Skipped = DataUpToDate
			return res, nil
		}
		do := migrate.Options{DataProgress: o.Options.DataProgress, DataBatch: o.Options.DataBatch,
			DataBatchTarget: o.Options.DataBatchTarget, Throttle: o.Options.Throttle}
		maxRows := o.MaxRows
		if p.Command != Migrate {
			maxRows = -1
		}
		res.Migrated, res.Remaining, err = m.Migrator.RunData(ctx, maxRows, do)
		return res, err
	}
	opts := o.Options
	opts.Online, opts.RunData = ph.Options.Online, ph.Options.RunData
	res.Heads, err = m.upgrade(ctx, ph.Targets, opts, o)
	return res, err
}

// upgrade is one engine upgrade.
func (m *Manager) upgrade(ctx context.Context, targets []string, opts migrate.Options, o RunOptions) ([]string, error) {
	if o.BeforeUpgrade != nil {
		o.BeforeUpgrade(ctx, targets, opts)
	}
	res, err := m.Migrator.Upgrade(ctx, targets, opts)
	if err != nil {
		return nil, err
	}
	return res.Heads, nil
}

// Rebuilds lists the tables an upgrade to targets with o changes columns
// of or rebuilds (see migrate.Migrator.Rebuilds).
func (m *Manager) Rebuilds(ctx context.Context, targets []string, o migrate.Options) ([]migrate.Rebuild, error) {
	return m.Migrator.Rebuilds(ctx, targets, o)
}

// Stamp makes the version table hold exactly revs (their minimal form),
// running nothing (alembic's stamp).
func (m *Manager) Stamp(ctx context.Context, revs []string) error { return m.Migrator.Stamp(ctx, revs) }

// PendingData lists the data migrations runnable now with the rows each
// still has to change (see migrate.Migrator.PendingDataAt). It only reads.
func (m *Manager) PendingData(ctx context.Context) (map[string]int64, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, err
	}
	return m.Migrator.PendingDataAt(ctx, rows)
}

// DataMigrations are the data migrations, in order.
func (m *Manager) DataMigrations() []*migrate.DataMigration { return m.Migrator.Data }

// SetFence makes every change the engine makes confirm the migration
// lock f first (see migrate.Migrator.Fence); nil: none.
func (m *Manager) SetFence(f migrate.Fence) {
	m.Migrator.Fence = f
}
