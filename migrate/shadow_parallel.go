package migrate

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// copyParallel is copy on workers connections (Options.Threads): the
// revision's connection finds the key ranges in turn (ShadowNext, a
// read), and the workers copy them, each range one statement in its own
// transaction that confirms the migration lock (batchOn), retried on a
// lock wait timeout or a deadlock, each worker asking the throttler
// first. Each worker's connection gets the dialect's session settings
// (SessionSQL) and gives them back (ResetSQL) before it returns to the
// pool. The ranges are disjoint and every row of the table lies in one,
// so the copy is complete once every range committed; an interrupted
// copy is found and removed by the next run as with one thread.
func (r *shadowRun) copyParallel(st *dialect.ShadowState, p DataProgress, workers int) error {
	name := ShadowCopyName(st.Table)
	target := r.o.DataBatchTarget
	if target <= 0 {
		target = DefaultDataBatchTarget
	}
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	start := time.Now()
	n, adaptive := batchSize(r.o)
	var (
		mu       sync.Mutex // guards p, n, firstErr and the observer
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel(err)
	}
	type job struct {
		stmt string
		args []any
		n    int
	}
	firstDone := make(chan struct{})
	var once sync.Once
	sized := false
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		conn, err := r.m.DB.Conn(ctx)
		if err != nil {
			fail(err)
			break
		}
		if r.on != nil {
			if err := execAll(ctx, conn, r.on.SessionSQL(lockTimeout(r.o))); err != nil {
				conn.Close()
				fail(err)
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r.on != nil {
					_ = execAll(context.WithoutCancel(ctx), conn, r.on.ResetSQL())
				}
				conn.Close()
			}()
			for j := range jobs {
				if ctx.Err() != nil {
					once.Do(func() { close(firstDone) })
					continue // drain
				}
				var took time.Duration
				var copied int64
				err := r.retry(name, func() error {
					if err := throttle(ctx, r.o); err != nil {
						return err
					}
					t0 := time.Now()
					res, err := r.batchOn(conn, j.stmt, j.args)
					took = time.Since(t0)
					copied = 0
					if err == nil {
						copied, _ = res.RowsAffected()
					}
					throttled(r.o, Batch{Work: name, Rows: copied, Took: took, Err: err})
					return err
				})
				if err != nil {
					fail(&StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: j.stmt, Err: err})
					once.Do(func() { close(firstDone) })
					continue
				}
				mu.Lock()
				p.Done += copied
				p.Batches++
				p.BatchSize, p.LastBatch = j.n, took
				p.MaxBatch = max(p.MaxBatch, took)
				p.Elapsed = time.Since(start)
				if r.o.CopyProgress != nil {
					r.o.CopyProgress(p)
				}
				if adaptive {
					n = nextDataBatch(j.n, took, target)
				}
				mu.Unlock()
				once.Do(func() { close(firstDone) })
			}
		}()
	}
	lower, first := "", true
	for ctx.Err() == nil {
		mu.Lock()
		err := r.m.observe(Event{Kind: DataBatch, Revision: r.rev, SQL: name})
		size := n
		mu.Unlock()
		if err != nil {
			fail(err)
			break
		}
		var args []any
		if !first {
			args = append(args, lower)
		}
		var upper string
		next := r.sh.ShadowNext(st, first)
		err = r.q.QueryRowContext(ctx, next, append(args, size-1)...).Scan(&upper)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			fail(&StepError{Revision: r.rev.ID, Op: r.op.Describe(), SQL: next, Err: err})
			break
		}
		if !last {
			args = append(args, upper)
		}
		select {
		case jobs <- job{stmt: r.sh.ShadowCopy(st, first, last), args: args, n: size}:
		case <-ctx.Done():
		}
		if !sized {
			// The first batch runs alone: the next ones are sized
			// from its duration, not handed out at the first guess.
			select {
			case <-firstDone:
			case <-ctx.Done():
			}
			sized = true
		}
		if last {
			break
		}
		lower, first = upper, false
	}
	close(jobs)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return firstErr
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	p.Elapsed, p.Finished = time.Since(start), true
	if r.o.CopyProgress != nil {
		r.o.CopyProgress(p)
	}
	return nil
}
