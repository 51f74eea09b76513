package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Shadow copies (dialect.Shadow). On an online run, a change of column
// that the server cannot make instantly would rebuild the table in place;
// InnoDB then ends the rebuild by replaying the writes made meanwhile with
// the table latched, which keeps writers out for seconds when the table
// does not fit in memory. Where the dialect can, the engine instead copies
// the table into a shadow that has the change, keeps the shadow in step
// with triggers, and swaps the two with one RENAME: writers wait only for
// short metadata locks (the triggers, the foreign keys, the rename).
//
// Resuming: an interrupted copy is found by every later run of the
// revision (online or not) before it asks whether the change is done:
// before any foreign key points at the shadow, the shadow and its
// triggers are dropped and the copy starts again; from then on the run
// goes forward (the shadow is complete and kept in step).
//
// Fencing (Migrator.Fence): every statement of the copy confirms the
// lock right before it runs, each batch in its own transaction; the swap
// also names the run's token table (TokenFence), so that a run whose lock
// was broken cannot swap even if it was paused between its check and
// the RENAME. A run that finds a copy left revokes the other runs'
// tokens before it touches it.

// ErrShadowMismatch: the shadow copy of a table did not hold the same
// rows as the table when both were read in one snapshot; nothing was
// swapped.
var ErrShadowMismatch = errors.New("migrate: the shadow copy differs from its table")

// ShadowCopyName names the copy of a table in Retry events and in
// Options.CopyProgress.
func ShadowCopyName(table string) string { return "copy of " + table }

// shadowRun is one shadow copy, on the revision's connection.
type shadowRun struct {
	ctx context.Context
	m   *Migrator
	sh  dialect.Shadow
	on  dialect.Online
	q   *sql.Conn
	rev *Revision
	op  schema.Op
	o   Options
	idx *int // the revision's statement counter (Event.Index)
	// toi: the connection is a Galera node's, replicating DDL in total
	// order; each DDL statement's time is reported (TotalOrder events).
	toi bool
}

// shadowDialect returns the dialect's shadow interface and the table when
// op is a change of column, or on a cluster that runs DDL in total order
// a new index, and the dialect has one.
func (m *Migrator) shadowDialect(op schema.Op, toi bool) (dialect.Shadow, string) {
	table := ""
	switch o := op.(type) {
	case schema.AlterColumn:
		table = o.Table
	case schema.CreateIndex:
		if toi {
			table = o.Index.Table
		}
	}
	if table == "" {
		return nil, ""
	}
	sh, _ := m.Dialect.(dialect.Shadow)
	return sh, table
}

// shadowWanted reports whether an online run should copy instead of
// rebuilding in place.
func shadowWanted(o Options, on dialect.Online) bool {
	return on != nil && !o.InPlaceRebuild
}

// exec runs statements in turn, each retried after a lock wait timeout
// or a deadlock (with backoff, up to Options.LockRetries times) instead
// of failing the revision: another attempt of the revision would begin
// the copy again. Each attempt first confirms the migration lock on the
// connection (Migrator.Fence): each statement commits by itself.
func (r *shadowRun) exec(stmts ...string) error {
	for _, s := range stmts {
		if err := r.statement(s); err != nil {
			return err
		}
		err := r.retry(s, func() error {
			if err := r.m.fence(r.ctx, r.q); err != nil {
				return err
			}
			t0 := time.Now()
			_, err := r.q.ExecContext(r.ctx, s)
			if err == nil {
				err = r.m.totalOrdered(r.ctx, r.o, r.toi, r.rev, r.op, s, time.Since(t0))
			}
			return err
		})
		if err != nil {
			return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: s, Err: err}
		}
	}
	return nil
}

// batch runs one copy statement in a transaction of its own that first
// confirms the migration lock, so that a break either waits for the batch
// or stops it (Fence); without a Fence, as one statement.
func (r *shadowRun) batch(stmt string, args []any) (sql.Result, error) {
	return r.batchOn(r.q, stmt, args)
}

// batchOn is batch on connection q (a parallel copy's worker's).
func (r *shadowRun) batchOn(q *sql.Conn, stmt string, args []any) (sql.Result, error) {
	if r.m.Fence == nil {
		return q.ExecContext(r.ctx, stmt, args...)
	}
	tx, err := q.BeginTx(r.ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if err := r.m.fence(r.ctx, tx); err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(r.ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// statement reports s as the revision's next statement, a step of the
// copy (Event.Shadow).
func (r *shadowRun) statement(s string) error {
	err := r.m.observe(Event{Kind: Statement, Revision: r.rev, Op: r.op, SQL: s, Index: *r.idx, Shadow: true})
	*r.idx++
	return err
}

// retry runs f as the revision's statements are run (retryOnLock, with
// a quarter of the revision's backoff): each retry is reported as a Retry
// of the revision (SQL: what was retried, the statement or the copy).
func (r *shadowRun) retry(what string, f func() error) error {
	return r.m.retryOnLock(r.ctx, r.on, lockRetries(r.o), lockWait(r.o), 4, Event{Kind: Retry, Revision: r.rev, Op: r.op, SQL: what}, f)
}

// repoint runs the dialect's statements that re-create fk; the last one
// (which restores the session) runs even when the ALTER failed.
func (r *shadowRun) repoint(fk dialect.ForeignKey, to, name string) error {
	stmts := r.sh.ShadowRepoint(fk, to, name)
	err := r.exec(stmts[:len(stmts)-1]...)
	if _, rerr := r.q.ExecContext(context.WithoutCancel(r.ctx), stmts[len(stmts)-1]); err == nil && rerr != nil {
		err = &StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: stmts[len(stmts)-1], Err: rerr}
	}
	return err
}

// recover finds what an interrupted shadow copy of table left and deals
// with it (see the top of this file): it finishes a swapped copy, goes
// forward with one whose foreign keys moved to the shadow, and removes
// one that had not got that far.
func (r *shadowRun) recover(table string) error {
	if left, err := r.sh.ShadowLeft(r.ctx, r.q, table); err != nil || !left {
		return err
	}
	// What is left may be a copy of a run that lost the lock: take its
	// token away first, so that it can no longer swap (TokenFence).
	if tf, ok := r.m.Fence.(TokenFence); ok {
		drops, err := tf.Revoke(r.ctx, r.q)
		if err != nil {
			return err
		}
		if err := r.exec(drops...); err != nil {
			return err
		}
	}
	st, err := r.sh.ShadowState(r.ctx, r.q, table)
	if err != nil {
		return err
	}
	switch {
	case st.OldExists:
		return r.finish(st)
	case shadowReferenced(st):
		return r.swap(st)
	}
	return r.drop(st)
}

// shadowReferenced reports whether a foreign key already points at the
// shadow: the copy was complete and compared.
func shadowReferenced(st *dialect.ShadowState) bool {
	for _, fk := range st.Refs {
		if fk.RefTable == st.Shadow {
			return true
		}
	}
	return false
}

// drop removes an unfinished shadow and its triggers.
func (r *shadowRun) drop(st *dialect.ShadowState) error {
	return r.exec(r.sh.ShadowDiscard(st)...)
}

// alter makes the change of column r.op by a shadow copy. It reports
// false, having changed nothing, when the dialect cannot copy this table
// here (the caller then alters it in place). The caller has run recover
// for this operation first, so nothing of an earlier copy is left.
func (r *shadowRun) alter(table string) (bool, error) {
	st, err := r.sh.ShadowState(r.ctx, r.q, table)
	if err != nil {
		return false, err
	}
	if st.Unsupported != "" || len(st.OwnTriggers) > 0 {
		return false, nil
	}
	create, err := r.sh.ShadowCreate(st, r.op)
	if err != nil {
		return false, err
	}
	if err := r.exec(create...); err != nil {
		return true, err
	}
	if err := r.exec(r.sh.ShadowTriggers(st)...); err != nil {
		return true, err
	}
	if err := r.copy(st); err != nil {
		return true, err
	}
	if err := r.compare(st); err != nil {
		return true, err
	}
	return true, r.swap(st)
}

// copy copies the table's rows into the shadow in key ranges, each one
// statement (its own transaction) sized to take about the data
// migrations' batch target.
func (r *shadowRun) copy(st *dialect.ShadowState) error {
	name := ShadowCopyName(st.Table)
	p := DataProgress{Migration: name}
	if err := r.q.QueryRowContext(r.ctx, "SELECT COUNT(*) FROM "+st.Table).Scan(&p.Total); err != nil {
		return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), Err: err}
	}
	if w := threads(r.o); w > 1 {
		return r.copyParallel(st, p, w)
	}
	start := time.Now()
	n, adaptive := batchSize(r.o)
	wsCap, target, err := r.m.clusterBatches(r.ctx, r.q, st.Table, r.o)
	if err != nil {
		return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), Err: err}
	}
	n = capBatch(n, wsCap)
	lower, first := "", true
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.m.observe(Event{Kind: DataBatch, Revision: r.rev, SQL: name}); err != nil {
			return err
		}
		var args []any
		if !first {
			args = append(args, lower)
		}
		var upper string
		next := r.sh.ShadowNext(st, first)
		err := r.q.QueryRowContext(r.ctx, next, append(args, n-1)...).Scan(&upper)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: next, Err: err}
		}
		if !last {
			args = append(args, upper)
		}
		stmt := r.sh.ShadowCopy(st, first, last)
		var took time.Duration
		var copied int64
		err = r.retry(name, func() error {
			if err := throttle(r.ctx, r.o); err != nil {
				return err
			}
			t0 := time.Now()
			res, err := r.batch(stmt, args)
			took = time.Since(t0)
			copied = 0
			if err == nil {
				copied, _ = res.RowsAffected()
			}
			throttled(r.o, Batch{Work: name, Rows: copied, Took: took, Err: err})
			return err
		})
		if err != nil {
			return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: stmt, Err: err}
		}
		p.Done += copied
		p.Batches++
		p.BatchSize, p.LastBatch = n, took
		p.MaxBatch = max(p.MaxBatch, took)
		p.Elapsed = time.Since(start)
		if last {
			break
		}
		if r.o.CopyProgress != nil {
			r.o.CopyProgress(p)
		}
		lower, first = upper, false
		if adaptive {
			n = capBatch(nextDataBatch(n, took, target), wsCap)
		}
	}
	p.Elapsed, p.Finished = time.Since(start), true
	if r.o.CopyProgress != nil {
		r.o.CopyProgress(p)
	}
	return nil
}

// compare reads the row count and checksum of the table and of the
// shadow in one snapshot (the triggers write both in the writer's
// transaction, so every snapshot sees them equal once the copy is
// complete).
func (r *shadowRun) compare(st *dialect.ShadowState) error {
	qs := r.sh.ShadowCompare(st)
	tx, err := r.q.BeginTx(r.ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var got [2]struct {
		n   int64
		sum string
	}
	for i, q := range qs {
		if err := r.statement(q); err != nil {
			return err
		}
		if err := tx.QueryRowContext(r.ctx, q).Scan(&got[i].n, &got[i].sum); err != nil {
			return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: q, Err: err}
		}
	}
	if got[0] != got[1] {
		return &StepError{Revision: r.rev.ID, Op: r.op.Describe(), Err: fmt.Errorf("%w: %s has %d rows (checksum %s), %s %d (checksum %s)",
			ErrShadowMismatch, st.Table, got[0].n, got[0].sum, st.Shadow, got[1].n, got[1].sum)}
	}
	return nil
}

// swap points the foreign keys that still reference the table at the
// shadow, swaps the two tables and finishes.
func (r *shadowRun) swap(st *dialect.ShadowState) error {
	for _, fk := range st.Refs {
		if fk.RefTable != st.Table {
			continue
		}
		if err := r.repoint(fk, st.Shadow, dialect.ShadowTempName(fk.Name)); err != nil {
			return err
		}
	}
	// The swap names this run's token table (TokenFence): it renames
	// the tables only while the lock is held, with no gap between the
	// check and the act. Create the token, confirm the lock (exec does),
	// swap, drop the token.
	token, create, drop := "", "", ""
	if tf, ok := r.m.Fence.(TokenFence); ok {
		token, create, drop = tf.Token()
		if err := r.exec(create); err != nil {
			return err
		}
	}
	if err := r.exec(r.sh.ShadowSwap(st, token)...); err != nil {
		return err
	}
	if drop != "" {
		if err := r.exec(drop); err != nil {
			return err
		}
	}
	st, err := r.sh.ShadowState(r.ctx, r.q, st.Table)
	if err != nil {
		return err
	}
	return r.finish(st)
}

// finish gives the foreign keys their names back, pointing at the table
// (now the shadow), and drops the old table with its triggers.
func (r *shadowRun) finish(st *dialect.ShadowState) error {
	for _, fk := range st.Refs {
		name, temp := dialect.ShadowOriginalName(fk.Name)
		switch {
		case temp:
		case fk.RefTable == st.Old:
			// Made after step 5 and left on the old table: move it
			// under a temporary name first (a constraint cannot be
			// dropped and re-added under one name in one statement).
			name = fk.Name
			if err := r.repoint(fk, st.Table, dialect.ShadowTempName(name)); err != nil {
				return err
			}
			fk.Name = dialect.ShadowTempName(name)
		default:
			continue // its own name, referencing the table
		}
		if err := r.repoint(fk, st.Table, name); err != nil {
			return err
		}
	}
	return r.exec(r.sh.ShadowDropOld(st)...)
}

// UnfinishedCopies lists the tables whose shadow copy an interrupted run
// left behind (a shadow, an old table or the copy's triggers): the next
// run of the revision that changes them resumes or removes it (see the
// top of this file). It only reads.
func (m *Migrator) UnfinishedCopies(ctx context.Context) ([]string, error) {
	sh, ok := m.Dialect.(dialect.Shadow)
	if !ok {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range m.Graph.WalkOrder() {
		for _, op := range m.Graph.Revision(id).OpsFor(Env{Dialect: m.Dialect.Name(), RebuildTables: dialect.RebuildsTables(m.Dialect), Online: true, Applied: map[string]bool{}}) {
			// On a Galera cluster new indexes are built by a copy too.
			copier, name := m.shadowDialect(op, true)
			if copier == nil || seen[name] {
				continue
			}
			seen[name] = true
			left, err := sh.ShadowLeft(ctx, m.DB, name)
			if err != nil {
				return nil, err
			}
			if left {
				out = append(out, name)
			}
		}
	}
	return out, nil
}
