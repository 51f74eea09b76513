package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// VersionTable is the name of alembic's version table; its layout is
// alembic's: version_num VARCHAR(32) NOT NULL, primary key
// alembic_version_pkc.
const VersionTable = "alembic_version"

// Event is reported to Migrator.Observe as work proceeds.
type Event struct {
	Kind     EventKind
	Revision *Revision     // the revision being applied (RevisionStart/Done, Statement)
	From     string        // RevisionStart: the rows it builds on, joined by ","
	Op       schema.Op     // Statement, OpSkipped
	SQL      string        // Statement: the statement about to run
	Index    int           // Statement: position of the statement within the revision
	Err      error         // Retry: what failed
	Wait     time.Duration // Retry: the backoff before the next attempt
	Attempt  int           // Retry: the attempt about to be made after the first (1, 2, ...)
	// Retry of online DDL: the table whose lock the statement waited for
	// ("" when not known), what it waited for (dialect.LockWaits), the
	// time since the first attempt began and Options.LockWait.
	Table, WaitedFor string
	Tried, Limit     time.Duration
	// Shadow: the Statement is a step of a shadow copy that makes Op
	// (see shadow.go), not Op's own statement.
	Shadow bool
	// Took: TotalOrder: how long the statement ran.
	Took time.Duration
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	RevisionStart EventKind = iota
	RevisionDone
	Statement // about to execute SQL
	OpSkipped // the operation was found done already (resume)
	// Retry: an online revision failed on a lock wait timeout, a deadlock
	// or a busy database and is tried again after Wait.
	Retry
	// DataBatch: about to run one data-migration batch (its own
	// transaction); SQL names the data migration.
	DataBatch
	// BaselineStart and BaselineDone bracket a baseline build (see
	// baseline.go): an empty database built in one step. Revision.ID is
	// the last revision of the plan; From lists them all, comma-separated.
	BaselineStart
	BaselineDone
	// TotalOrder: a DDL statement (SQL) ran on a node of a cluster that
	// replicates DDL in total order (Galera's TOI, dialect.TotalOrderCluster): for
	// Took, no node of the cluster committed any other write. Reported
	// after the statement, for each one that succeeded.
	TotalOrder
)

// Migrator applies revisions of a Graph to one database.
//
// It is not safe for concurrent use; callers serialize runs across
// processes with a lock (see Locker).
type Migrator struct {
	DB      *sql.DB
	Dialect dialect.Dialect
	Graph   *Graph
	// Data lists the data migrations that must complete between an
	// expand revision and the contract revision that drops the old data.
	Data []*DataMigration
	// Observe, when set, is called for every Event. Returning an error
	// stops the run before the statement executes (tests use this to
	// inject crashes).
	Observe func(Event) error
	// Fence, when set, is the run's migration lock (a *Lease): every
	// step that changes the database first confirms it (see Fence), and
	// a run that lost it stops with an error wrapping ErrLockLost. Steps
	// report their Event before they confirm the lock.
	Fence Fence
	// Naming tells the engine's own tables (the lock's, the fence
	// tokens) from the migrations' when it looks at what a database
	// holds; it must be the Naming of the Locker the run holds.
	Naming Naming
}

// fence confirms the lock on q (see Migrator.Fence).
func (m *Migrator) fence(ctx context.Context, q dialect.Querier) error {
	if m.Fence == nil {
		return nil
	}
	return m.Fence.Check(ctx, q)
}

// Options tune one upgrade.
type Options struct {
	// Online is true for a rolling upgrade (expand, contract, upgrade):
	// revisions install whatever keeps old and new services working.
	Online bool
	// RunData runs pending data migrations a contract revision needs
	// instead of refusing (offline sync does this).
	RunData bool
	// DataBatch is the batch size for data migrations and shadow copies
	// (0: adaptive, see DataBatchTarget).
	DataBatch int
	// DataProgress receives data-migration progress.
	DataProgress func(DataProgress)
	// NoBaseline applies every revision in turn even on an empty
	// database (see baseline.go).
	NoBaseline bool
	// DataBatchTarget is how long one data-migration batch (one
	// transaction, holding its row locks) should take when DataBatch is 0:
	// the batch size adapts to it (0: DefaultDataBatchTarget).
	DataBatchTarget time.Duration

	// Online DDL (only when Online is set; see dialect.Online). Each DDL
	// statement waits at most LockTimeout for its lock (0:
	// DefaultLockTimeout), and a revision that timed out is tried again
	// with backoff as long as the next attempt starts within LockWait of
	// the first (0: DefaultLockWait, <0: never), and at most LockRetries
	// times (0: no limit but LockWait, <0: never); then the run stops
	// with a *LockWaitError. Statements ask for the least blocking
	// algorithm the server offers (MySQL ALGORITHM=INSTANT or INPLACE,
	// LOCK=NONE; PostgreSQL CREATE INDEX CONCURRENTLY).
	LockTimeout time.Duration
	LockWait    time.Duration
	LockRetries int
	// PlainDDL runs an online revision's statements as rendered, without
	// lock timeouts, retries or online algorithms (for comparison).
	PlainDDL bool
	// InPlaceRebuild, on an online run, changes columns that the server
	// cannot change instantly by rebuilding the table in place
	// (ALGORITHM=INPLACE) even where the dialect could copy it into a
	// shadow table (dialect.Shadow, see shadow.go).
	InPlaceRebuild bool
	// CopyProgress receives the progress of shadow copies (Migration is
	// ShadowCopyName of the table).
	CopyProgress func(DataProgress)
	// ClusterInPlaceRows: on a cluster that runs DDL in total order
	// (dialect.TotalOrderCluster), an online run builds a new index on a table of
	// more rows than this by a shadow copy (the index made on the empty
	// copy, the rows copied in batches, one RENAME) instead of in place,
	// where the build would hold back every node's writers for as long
	// as it takes; smaller tables are indexed in place (0:
	// DefaultClusterInPlaceRows; <0: always in place).
	ClusterInPlaceRows int64
	// ClusterDDLGap: on such a cluster, the pause after each DDL
	// statement before the next one. A statement in total order aborts
	// the open transactions of the tables it changes on every node
	// (deadlock errors, which the services retry); the gap lets the
	// retried transactions through before the next statement (0:
	// DefaultClusterDDLGap; <0: none).
	ClusterDDLGap time.Duration
	// Throttle, when set, is asked before every batch of a data
	// migration or a shadow copy whether it may start, and told of each
	// batch that ran (see Throttler).
	Throttle Throttler
	// Threads is how many connections the keyed batches of a data
	// migration (one with Range and Apply) run on at once, over disjoint
	// key ranges (0: DefaultThreads; see parallel.go). The pool of DB
	// must allow that many connections besides the migration lock's.
	Threads int
}

func (m *Migrator) env(o Options, rows []string) Env {
	return Env{Dialect: m.Dialect.Name(), RebuildTables: dialect.RebuildsTables(m.Dialect), Online: o.Online, Applied: m.Graph.Applied(rows)}
}

func (m *Migrator) observe(e Event) error {
	if crashHook != nil {
		crashHook(e)
	}
	if m.Observe == nil {
		return nil
	}
	return m.Observe(e)
}

// plan reads the version table and plans the revisions from its rows to
// targets.
func (m *Migrator) plan(ctx context.Context, targets []string) ([]string, []*Revision, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, nil, err
	}
	plan, err := m.Graph.Plan(rows, targets)
	return rows, plan, err
}

// Heads returns the rows of the version table, sorted in walk order (the
// table has no order of its own). A missing table means no rows.
func (m *Migrator) Heads(ctx context.Context) ([]string, error) {
	return m.heads(ctx, m.DB)
}

func (m *Migrator) heads(ctx context.Context, q dialect.Querier) ([]string, error) {
	ok, err := m.Dialect.TableExists(ctx, q, VersionTable)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := dialect.Strings(ctx, q, "SELECT version_num FROM "+VersionTable)
	if err != nil {
		return nil, err
	}
	return m.order(rows), nil
}

// order sorts rows in walk order; unknown rows go last, as read.
func (m *Migrator) order(rows []string) []string {
	pos := map[string]int{}
	for i, id := range m.Graph.WalkOrder() {
		pos[id] = i + 1
	}
	out := append([]string(nil), rows...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(pos, out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func less(pos map[string]int, a, b string) bool {
	pa, pb := pos[a], pos[b]
	if pa == 0 || pb == 0 {
		return pa != 0 && pb == 0
	}
	return pa < pb
}

// createVersionTable is alembic's DDL for its table.
const createVersionTable = "CREATE TABLE " + VersionTable + " (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"

// ensureVersionTable creates the version table unless it exists; when it
// does, guard (if set) confirms the lock first.
func (m *Migrator) ensureVersionTable(ctx context.Context, q dialect.Querier, guard func() error) error {
	ok, err := m.Dialect.TableExists(ctx, q, VersionTable)
	if err != nil || ok {
		return err
	}
	if guard != nil {
		if err := guard(); err != nil {
			return err
		}
	}
	_, err = q.ExecContext(ctx, createVersionTable)
	return err
}

// versionSQL renders the version-table change of step for rev.
func (m *Migrator) versionSQL(step Step, rev string) []string {
	var out []string
	for _, d := range step.Delete {
		out = append(out, fmt.Sprintf("DELETE FROM %s WHERE %s.version_num = %s", VersionTable, VersionTable, dialect.Quote(d)))
	}
	if step.Insert {
		out = append(out, fmt.Sprintf("INSERT INTO %s (version_num) VALUES (%s)", VersionTable, dialect.Quote(rev)))
	} else {
		out = append(out, fmt.Sprintf("UPDATE %s SET version_num=%s WHERE %s.version_num = %s", VersionTable, dialect.Quote(rev), VersionTable, dialect.Quote(step.Update)))
	}
	return out
}

// Result summarizes an upgrade.
type Result struct {
	Applied []string // revisions applied, in order
	Heads   []string // version-table rows afterwards
	Data    int64    // rows changed by data migrations
}

// Upgrade brings the database to targets (revision ids, see
// Graph.Resolve), applying revisions in alembic's order. Each revision is
// applied in its own transaction where the backend has transactional DDL;
// elsewhere each operation is skipped when Done says its effect is
// present, so an interrupted run resumes where it stopped.
func (m *Migrator) Upgrade(ctx context.Context, targets []string, o Options) (*Result, error) {
	rows, plan, err := m.plan(ctx, targets)
	if err != nil {
		return nil, err
	}
	if len(plan) > 0 {
		// A Galera node that is not synced runs nothing (each revision
		// checks again on its own connection).
		if _, err := m.cluster(ctx, m.DB); err != nil {
			return &Result{Heads: rows}, err
		}
	}
	if !o.NoBaseline {
		if res, done, err := m.baseline(ctx, rows, plan, o); done {
			if err != nil && res == nil {
				res = &Result{}
				res.Heads, _ = m.Heads(context.WithoutCancel(ctx))
			}
			return res, err
		} else if err != nil {
			return nil, err
		}
	}
	res := &Result{}
	for _, rev := range plan {
		if err := ctx.Err(); err != nil {
			res.Heads = rows
			return res, err
		}
		n, err := m.ensureData(ctx, rows, rev, o)
		res.Data += n
		if err != nil {
			res.Heads = rows
			return res, err
		}
		if err := m.apply(ctx, rows, rev, o); err != nil {
			res.Heads, _ = m.Heads(context.WithoutCancel(ctx))
			return res, err
		}
		rows = m.Graph.ApplyStep(rows, rev.ID)
		res.Applied = append(res.Applied, rev.ID)
	}
	res.Heads = rows
	return res, nil
}

// ensureData makes sure every data migration rev depends on is complete:
// it runs them when o.RunData, and refuses otherwise.
func (m *Migrator) ensureData(ctx context.Context, rows []string, rev *Revision, o Options) (int64, error) {
	var total int64
	for _, dm := range m.Data {
		if dm.Before != rev.ID {
			continue
		}
		pending, err := dm.Pending(ctx, m.DB, m.Dialect)
		if err != nil {
			return total, fmt.Errorf("migrate: data migration %s: %w", dm.Name, err)
		}
		if pending == 0 {
			continue
		}
		if !o.RunData {
			return total, &DataPendingError{Migration: dm.Name, Revision: rev.ID, Rows: pending}
		}
		n, err := m.runData(ctx, dm, -1, o)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// apply runs one revision and records it in the version table. On an
// online run a revision (MySQL: its statements are resumed through Done)
// that failed waiting for a lock, in a deadlock or on a busy database is
// tried again after a backoff, up to Options.LockRetries times.
func (m *Migrator) apply(ctx context.Context, rows []string, rev *Revision, o Options) error {
	if err := m.observe(Event{Kind: RevisionStart, Revision: rev, From: strings.Join(rows, ",")}); err != nil {
		return err
	}
	on := m.online(o)
	err := m.retryOnLock(ctx, on, lockRetries(o), lockWait(o), 1, Event{Kind: Retry, Revision: rev}, func() error {
		return m.applyOnce(ctx, rows, rev, o, on)
	})
	if err != nil {
		return err
	}
	return m.observe(Event{Kind: RevisionDone, Revision: rev})
}

// applyOnce makes one attempt at rev. Where DDL is transactional the
// revision runs in one transaction, unless it has statements that cannot
// run in one (PostgreSQL's CREATE INDEX CONCURRENTLY): then it runs in
// several, the version table changing in the last, and, as on MySQL,
// each operation found done (Done) is skipped, so that an attempt after a
// crash or a failure continues where the last one stopped.
func (m *Migrator) applyOnce(ctx context.Context, rows []string, rev *Revision, o Options, on dialect.Online) (err error) {
	resumable := !m.Dialect.TransactionalDDL()
	defer func() {
		var se *StepError
		if errors.As(err, &se) {
			se.Resumable = resumable
		}
	}()
	type step struct {
		op    schema.Op
		stmts []dialect.Stmt
	}
	var steps []step
	split := false
	for _, op := range m.opsFor(rev, o, rows) {
		var stmts []dialect.Stmt
		if _, ok := op.(schema.Precondition); !ok {
			var err error
			if stmts, err = m.renderOnline(op, on); err != nil {
				return &StepError{Revision: rev.ID, Op: op.Describe(), Err: err}
			}
		}
		for _, st := range stmts {
			split = split || st.NoTx
		}
		steps = append(steps, step{op, stmts})
	}
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		return err
	}
	seg := &segment{conn: conn, transactional: m.Dialect.TransactionalDDL(), on: on, timeout: lockTimeout(o), fence: m.fence}
	defer seg.close()
	// On a Galera node (TOI): every read of the run waits until the node
	// has applied the cluster's writes, so that no check (a revision
	// done, rows left to migrate, the version table) passes on stale
	// data; each DDL statement's cluster-wide stall is reported; big
	// tables get their new indexes by a shadow copy.
	toi, err := m.cluster(ctx, conn)
	if err != nil {
		return err
	}
	if toi {
		cl := m.Dialect.(dialect.TotalOrderCluster)
		if err := execAll(ctx, conn, cl.SyncReadSQL()); err != nil {
			return err
		}
		seg.reset = cl.UnsyncReadSQL()
	}
	resumable = !seg.transactional || split
	q, err := seg.q(ctx)
	if err != nil {
		return err
	}
	if err := m.ensureVersionTable(ctx, q, func() error { return seg.guard(ctx) }); err != nil {
		return err
	}
	idx := 0
	for _, stp := range steps {
		op := stp.op
		if q, err = seg.q(ctx); err != nil {
			return err
		}
		if p, ok := op.(schema.Precondition); ok {
			if err := checkPrecondition(ctx, q, rev.ID, p); err != nil {
				return err
			}
			continue
		}
		sh, shTable := m.shadowDialect(op, toi)
		var shadow *shadowRun
		if sh != nil && resumable {
			// A shadow copy interrupted by an earlier run is finished or
			// removed first, whatever this run's options.
			shadow = &shadowRun{ctx: ctx, m: m, sh: sh, on: on, q: conn, rev: rev, op: op, o: o, idx: &idx, toi: toi}
			if err := shadow.recover(shTable); err != nil {
				return wrapStep(rev.ID, op, err)
			}
		}
		if resumable {
			done, err := m.Dialect.Done(ctx, q, op)
			if err != nil {
				return &StepError{Revision: rev.ID, Op: op.Describe(), Err: err}
			}
			if done {
				if err := m.observe(Event{Kind: OpSkipped, Revision: rev, Op: op}); err != nil {
					return err
				}
				continue
			}
		}
		if _, ok := op.(schema.CreateIndex); ok && toi && shadow != nil && shadowWanted(o, on) {
			// Built in place, the index would hold back every node's
			// writers for the whole build (TOI): copy a big table into
			// a shadow that has it instead.
			big, err := largerThan(ctx, q, shTable, clusterInPlaceRows(o))
			if err != nil {
				return &StepError{Revision: rev.ID, Op: op.Describe(), Err: err}
			}
			if big {
				handled, err := shadow.alter(shTable)
				if err != nil {
					return wrapStep(rev.ID, op, err)
				}
				if handled {
					continue
				}
			}
		}
		for _, st := range stp.stmts {
			if st.NoTx {
				q, err = seg.bare()
			} else {
				q, err = seg.q(ctx)
			}
			if err != nil {
				return err
			}
			for i, form := range st.Forms {
				if err := m.observe(Event{Kind: Statement, Revision: rev, Op: op, SQL: form, Index: idx}); err != nil {
					return err
				}
				idx++
				if i == 0 {
					// Outside a transaction (MySQL, NoTx): confirm the
					// lock right before the statement. The forms that
					// follow are the same statement, refused.
					if err := seg.guard(ctx); err != nil {
						return err
					}
				}
				t0 := time.Now()
				_, err := q.ExecContext(ctx, form)
				if err == nil {
					if err := m.totalOrdered(ctx, o, toi, rev, op, form, time.Since(t0)); err != nil {
						return err
					}
					break
				}
				if i < len(st.Forms)-1 && on != nil && on.Refused(err) {
					if i == 0 && shadow != nil && shadowWanted(o, on) {
						// Not instantly: copy into a shadow instead of
						// rebuilding in place, where the dialect can.
						handled, err := shadow.alter(shTable)
						if err != nil {
							return wrapStep(rev.ID, op, err)
						}
						if handled {
							break
						}
					}
					continue // the server cannot do it this way; ask for the next form
				}
				return &StepError{Revision: rev.ID, Op: op.Describe(), SQL: form, Err: err, op: op}
			}
		}
	}
	// The version table changes in a transaction of its own on MySQL, so
	// the rows always describe a whole revision.
	tx, err := seg.versionTx(ctx)
	if err != nil {
		return err
	}
	live, err := m.heads(ctx, tx)
	if err != nil {
		return err
	}
	if !sameSet(live, rows) {
		return &VersionTableError{Rows: live, Err: ErrInconsistentVersion,
			Detail: "the version table changed while this run applied " + rev.ID + " (another runner?)"}
	}
	for _, s := range m.versionSQL(m.Graph.VersionStep(rows, rev.ID), rev.ID) {
		if err := m.observe(Event{Kind: Statement, Revision: rev, SQL: s, Index: idx}); err != nil {
			return err
		}
		idx++
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return &StepError{Revision: rev.ID, Op: "record the revision in " + VersionTable, SQL: s, Err: err}
		}
	}
	seg.tx = nil
	return tx.Commit()
}

// DefaultClusterInPlaceRows is Options.ClusterInPlaceRows's default: an
// index build on up to this many rows holds a cluster's writers back for
// tens of milliseconds at most.
const DefaultClusterInPlaceRows = 10000

func clusterInPlaceRows(o Options) int64 {
	if o.ClusterInPlaceRows == 0 {
		return DefaultClusterInPlaceRows
	}
	return o.ClusterInPlaceRows
}

// largerThan reports whether table has more than n rows (never, for n <
// 0), reading at most n+1 keys.
func largerThan(ctx context.Context, q dialect.Querier, table string, n int64) (bool, error) {
	if n < 0 {
		return false, nil
	}
	var c int64
	err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s LIMIT %d) t", table, n+1)).Scan(&c)
	return c > n, err
}

// DefaultClusterDDLGap is Options.ClusterDDLGap's default.
const DefaultClusterDDLGap = 100 * time.Millisecond

// totalOrdered reports stmt, which ran for took, as a TotalOrder event
// when the run's connection replicates DDL in total order (toi) and stmt
// is DDL, then pauses for Options.ClusterDDLGap.
func (m *Migrator) totalOrdered(ctx context.Context, o Options, toi bool, rev *Revision, op schema.Op, stmt string, took time.Duration) error {
	cl, ok := m.Dialect.(dialect.TotalOrderCluster)
	if !ok || !toi || !cl.TotalOrderStatement(stmt) {
		return nil
	}
	if err := m.observe(Event{Kind: TotalOrder, Revision: rev, Op: op, SQL: stmt, Took: took}); err != nil {
		return err
	}
	gap := o.ClusterDDLGap
	if gap == 0 {
		gap = DefaultClusterDDLGap
	}
	if gap < 0 {
		return nil
	}
	return sleep(ctx, gap)
}

// wrapStep returns err as a StepError of op unless it is one already (or
// an Observe error, returned as is).
func wrapStep(rev string, op schema.Op, err error) error {
	var se *StepError
	if errors.As(err, &se) || errors.Is(err, errStop) {
		return err
	}
	return &StepError{Revision: rev, Op: op.Describe(), Err: err}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if !set[x] {
			return false
		}
	}
	return true
}

// Stamp makes the version table hold exactly the minimal form of revs,
// without running any revision (alembic's stamp).
func (m *Migrator) Stamp(ctx context.Context, revs []string) error {
	for _, r := range revs {
		if m.Graph.Revision(r) == nil {
			return &RevisionError{Spec: r, Err: ErrUnknownRevision}
		}
	}
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if err := m.fence(ctx, tx); err != nil {
		return err
	}
	if err := m.ensureVersionTable(ctx, tx, nil); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+VersionTable); err != nil {
		return err
	}
	for _, r := range m.Graph.Minimal(revs) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (version_num) VALUES (%s)", VersionTable, m.Dialect.Placeholder(1)), r); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// RenameRows rewrites version-table rows named from to to (used for
// revision ids that were renamed upstream). It reports whether a row
// changed.
func (m *Migrator) RenameRows(ctx context.Context, from, to string) (bool, error) {
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if err := m.fence(ctx, tx); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET version_num = %s WHERE version_num = %s",
		VersionTable, m.Dialect.Placeholder(1), m.Dialect.Placeholder(2)), to, from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, tx.Commit()
}

// RenderSQL returns the statements an upgrade from rows to targets would
// run, without touching a database (offline mode). Revisions that would
// find their work done on a live database are rendered in full.
func (m *Migrator) RenderSQL(rows, targets []string, o Options) ([]string, error) {
	plan, err := m.Graph.Plan(rows, targets)
	if err != nil {
		return nil, err
	}
	var out []string
	if len(rows) == 0 {
		out = append(out, createVersionTable)
	}
	for _, rev := range plan {
		out = append(out, "-- Running upgrade "+strings.Join(rows, ", ")+" -> "+rev.ID)
		for _, op := range rev.OpsFor(m.env(o, rows)) {
			stmts, err := m.Dialect.Render(op)
			if err != nil {
				return nil, err
			}
			out = append(out, stmts...)
		}
		out = append(out, m.versionSQL(m.Graph.VersionStep(rows, rev.ID), rev.ID)...)
		rows = m.Graph.ApplyStep(rows, rev.ID)
	}
	return out, nil
}

// IsEmpty reports whether the database has no tables at all.
func (m *Migrator) IsEmpty(ctx context.Context) (bool, error) {
	t, err := m.Dialect.Tables(ctx, m.DB)
	return len(t) == 0, err
}

var errStop = errors.New("migrate: stopped")

// ErrStopped is what Observe returns to stop a run on purpose (tests).
var ErrStopped = errStop
