// Package preflight tells, before an upgrade starts, what would make the
// phases still to run fail, or hold up the services while they run:
// missing privileges, tables the online DDL would lock whole, a disk too
// small for a table's copy, sessions the DDL would wait behind, a
// Galera node that is not fit to run them, and more (see the Check*
// constants and the README's Preflight section).
//
// The facts come from the dialect (the optional interfaces of
// migrate/dialect's preflight.go); this package holds the rules: which
// facts make which finding, blocker or warning, for which pending phase.
// Run only reads: it takes no migration lock and changes nothing.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// DefaultTransactionAge is how long a transaction must have been open to
// be reported: Glance's own transactions last milliseconds.
const DefaultTransactionAge = 5 * time.Second

// Options say which run to check.
type Options struct {
	// Targets are the revisions the run goes to (nil: every head).
	Targets []string
	// Online: the phases run online, beside the services (db expand,
	// db contract, db upgrade, and what `db preflight` checks); false
	// for db sync, whose services are stopped.
	Online bool
	// InPlaceRebuild: the run rebuilds tables in place instead of
	// copying them (migrate.Options.InPlaceRebuild).
	InPlaceRebuild bool
	// Before: the checks run at the start of a command that changes the
	// schema. Conditions the command refuses by itself, with its own
	// message (a revision newer than this tool, a version table that
	// makes no sense, a foreign database), are left to it.
	Before bool
	// TransactionAge is how long a transaction must have been open to be
	// reported (0: DefaultTransactionAge).
	TransactionAge time.Duration
}

// Run checks the database of m for the phases from its current revision
// to o.Targets. It returns an error only when the checks themselves
// could not run (a query failed); what they find is in the Report. It
// reads the version table and catalogs, never the rows of Glance's
// tables, so that a transaction holding their locks does not stop it.
func Run(ctx context.Context, m *glance.Manager, o Options) (*Report, error) {
	r := &Report{Phases: []string{}, Blockers: []Finding{}, Warnings: []Finding{}, Notes: []Finding{}}
	if o.TransactionAge <= 0 {
		o.TransactionAge = DefaultTransactionAge
	}
	targets := o.Targets
	if targets == nil {
		targets = m.Graph().Heads()
	}
	// The checks read through the pool (a SQLite pool has a single
	// connection): every connection of it gets the same session settings.
	rows, _, err := m.PlanRows(ctx)
	if err != nil {
		// A cluster node that refuses queries answers SHOW only.
		if c := refusingNode(ctx, m); c != nil {
			clusterRefuses(r, c)
			return r, nil
		}
		var ve *migrate.VersionTableError
		switch {
		case o.Before:
			return r, nil
		case errors.As(err, &ve) && errors.Is(err, migrate.ErrUnknownRevision):
			r.add(Finding{Check: CheckUnknownRevision, Severity: Blocker,
				Message: fmt.Sprintf("the database is at revision(s) %s, which this glance-manage does not know: it was upgraded by a newer release. Use the glance-manage of that release (or of a later one); this one must not change it.", strings.Join(ve.Rows, ", ")),
				Details: &RevisionDetails{Rows: ve.Rows}})
			return r, nil
		}
		return nil, err
	}
	mo := migrate.Options{Online: o.Online, InPlaceRebuild: o.InPlaceRebuild}
	p, err := m.Migrator.Preview(ctx, rows, targets, mo)
	if err != nil {
		if o.Before {
			return r, nil
		}
		return nil, err
	}
	if !p.Pending() {
		return r, nil
	}
	c := &checker{ctx: ctx, m: m, q: m.DB, o: o, mo: mo, r: r, p: p, targets: targets}
	r.Phases = c.phases()
	for _, check := range []func() error{
		c.plan,
		c.cluster, c.files, c.loadRebuilds, c.privileges, c.tables, c.bufferPool,
		c.disk, c.sessions, c.lockLimits, c.slots, c.migrationLock,
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// refusingNode returns the state of a cluster node that does not accept
// queries, or nil.
func refusingNode(ctx context.Context, m *glance.Manager) *dialect.Cluster {
	ci, ok := m.Dialect.(dialect.ClusterInspector)
	if !ok {
		return nil
	}
	c, err := ci.Cluster(ctx, m.DB)
	if err != nil || c == nil || (c.Ready && c.Primary) {
		return nil
	}
	return c
}

// checker holds what the checks of one run share.
type checker struct {
	ctx     context.Context
	m       *glance.Manager
	q       dialect.Querier
	o       Options
	mo      migrate.Options
	r       *Report
	p       *migrate.Preview
	targets []string

	// From the plan (see plan).
	changed  map[string]bool // existing tables whose schema the phases change
	ddl      bool            // the phases change the schema of existing tables
	triggers bool            // the phases create triggers
	// dropTriggers are the phases' drops of triggers, which may be gone
	// already (see dropsTriggers).
	dropTriggers []schema.DropTrigger
	// leftCopies are tables an interrupted shadow copy left behind
	// (once leftRead, see unfinishedCopies).
	leftCopies []string
	leftRead   bool
	rebuilds   []migrate.Rebuild
	tableFacts *dialect.Tables
}

// phases names the phases of the plan, in order.
func (c *checker) phases() []string {
	if c.p.Baseline {
		return []string{"build"}
	}
	var out []string
	addPhase := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	inPlan := map[string]bool{}
	for _, rev := range c.p.Plan {
		inPlan[rev.ID] = true
	}
	// The migrate phase: a data migration that must be complete before
	// a revision of the plan (whether rows are left is not counted: that
	// reads Glance's tables, which a transaction may hold).
	data := false
	for _, dm := range c.m.Migrator.Data {
		data = data || inPlan[dm.Before]
	}
	for _, rev := range c.p.Plan {
		switch rev.Branch {
		case migrate.Expand:
			addPhase("expand")
		case migrate.Contract:
			if data {
				addPhase("migrate")
			}
			addPhase("contract")
		default:
			addPhase("base")
		}
	}
	return out
}

// plan reads what the pending operations do to existing tables.
func (c *checker) plan() error {
	c.changed = map[string]bool{}
	created := map[string]bool{}
	for _, po := range c.p.Ops {
		var t string
		switch op := po.Op.(type) {
		case schema.CreateTable:
			created[op.Table.Name] = true
		case schema.CreateTrigger:
			c.triggers = true
			t = op.Table
		case schema.AddColumn:
			t = op.Table
		case schema.DropColumn:
			t = op.Table
		case schema.AlterColumn:
			t = op.Table
		case schema.CreateIndex:
			t = op.Index.Table
		case schema.DropIndex:
			t = op.Table
		case schema.DropTrigger:
			// Dropped only where it exists (a trigger of an online
			// expand, when the phases contract): see dropsTriggers.
			c.dropTriggers = append(c.dropTriggers, op)
			t = op.Table
		case schema.DropTable:
			t = op.Name
		case schema.RebuildTable:
			t = op.Table.Name
		}
		if t != "" && !created[t] {
			c.changed[t] = true
		}
	}
	c.ddl = len(c.changed) > 0
	return nil
}

// dropsTriggers reports whether the phases drop a trigger that exists
// (read when a check needs it, as unfinishedCopies).
func (c *checker) dropsTriggers() (bool, error) {
	for _, op := range c.dropTriggers {
		done, err := c.m.Dialect.Done(c.ctx, c.q, op)
		if err != nil || !done {
			return err == nil, err
		}
	}
	return false, nil
}

// unfinishedCopies returns the tables an interrupted shadow copy left
// (read once, when a check needs it: on MariaDB the read of the triggers
// costs tens of milliseconds). The next run of its revision, online or
// not, finishes or removes such a copy, dropping its triggers; the
// revision is still pending, so its table is among those it changes.
func (c *checker) unfinishedCopies() ([]string, error) {
	if c.leftRead {
		return c.leftCopies, nil
	}
	if _, ok := c.m.Dialect.(dialect.Shadow); !ok {
		c.leftRead = true
		return nil, nil
	}
	left, err := c.m.Migrator.UnfinishedCopies(c.ctx)
	if err != nil {
		return nil, err
	}
	c.leftCopies, c.leftRead = left, true
	return left, nil
}

// needs lists the privileges the pending operations need.
func (c *checker) needs() []dialect.Need {
	var out []dialect.Need
	add := func(priv, table string) {
		n := dialect.Need{Privilege: priv, Table: table}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, po := range c.p.Ops {
		switch op := po.Op.(type) {
		case schema.CreateTable:
			add(dialect.PrivCreate, "")
			for _, fk := range op.Table.ForeignKeys {
				add(dialect.PrivReferences, fk.RefTable)
			}
		case schema.DropTable:
			add(dialect.PrivDrop, op.Name)
		case schema.AddColumn:
			add(dialect.PrivAlter, op.Table)
		case schema.DropColumn:
			add(dialect.PrivAlter, op.Table)
		case schema.AlterColumn:
			add(dialect.PrivAlter, op.Table)
		case schema.CreateIndex:
			add(dialect.PrivIndex, op.Index.Table)
		case schema.DropIndex:
			add(dialect.PrivIndex, op.Table)
		case schema.CreateTrigger:
			add(dialect.PrivTrigger, op.Table)
		case schema.DropTrigger:
			// See privileges: asked for, kept if the trigger exists.
		case schema.RebuildTable:
			add(dialect.PrivCreate, "")
			add(dialect.PrivDrop, op.Table.Name)
		}
	}
	// A shadow copy creates the copy and its triggers, points the
	// foreign keys of other tables at it (those of the revisions'
	// schema), and drops the old table.
	for _, rb := range c.rebuilds {
		if !rb.Shadow {
			continue
		}
		add(dialect.PrivCreate, "")
		add(dialect.PrivTrigger, rb.Table)
		add(dialect.PrivDrop, rb.Table)
		add(dialect.PrivAlter, rb.Table)
		add(dialect.PrivReferences, rb.Table)
		if c.p.Model != nil {
			for _, t := range c.p.Model.Tables() {
				for _, fk := range t.ForeignKeys {
					if fk.RefTable == rb.Table && t.Name != rb.Table {
						add(dialect.PrivAlter, t.Name)
					}
				}
			}
		}
	}
	// The migration lock's table, on the first run.
	if ok, err := c.m.Dialect.TableExists(c.ctx, c.q, glance.Naming.LockTable()); err == nil && !ok {
		add(dialect.PrivCreate, "")
	}
	return out
}

func (c *checker) shadowing() bool {
	for _, rb := range c.rebuilds {
		if rb.Shadow {
			return true
		}
	}
	return false
}
