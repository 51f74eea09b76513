package migrate

import (
	"context"
	"sync"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Parallel batches (Options.Threads). A data migration with Range and
// Apply runs its batches on several connections at once: one goroutine
// finds the key ranges in turn (reads outside any transaction, each range
// starting where the last one ended, so the ranges are disjoint), and
// Threads workers apply them, each range one short transaction of its
// own that confirms the migration lock first, as with one thread. The
// batch size adapts as with one thread, from every batch's duration;
// each worker asks the throttler before its batch; --max-rows bounds the
// rows handed out; progress counts the batches as they commit. The
// migration stays resumable as it is with one thread: a range that did
// not commit keeps its rows to migrate, which the next run finds.

// DefaultThreads is the number of connections the keyed batches run on
// when Options.Threads is 0. One: on the two-core machine where it was
// measured (bench/README.md), more threads made the data migration no
// faster, the server's cores being the limit.
const DefaultThreads = 1

func threads(o Options) int {
	if o.Threads <= 0 {
		return DefaultThreads
	}
	return o.Threads
}

type rangeJob struct {
	lower, upper string
	n            int // rows asked for
}

// runDataParallel is runData for Threads > 1 and a migration with Range
// and Apply.
func (m *Migrator) runDataParallel(ctx context.Context, dm *DataMigration, limit int64, o Options, workers int) (int64, error) {
	batch, adaptive := batchSize(o)
	target := o.DataBatchTarget
	if target <= 0 {
		target = DefaultDataBatchTarget
	}
	total, err := dm.Pending(ctx, m.DB, m.Dialect)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var (
		mu       sync.Mutex // guards p, batch, firstErr and the observer
		p        = DataProgress{Migration: dm.Name, Total: total}
		firstErr error
	)
	observe := func(e Event) error {
		mu.Lock()
		defer mu.Unlock()
		return m.observe(e)
	}
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel(err)
	}
	firstDone := make(chan struct{})
	var once sync.Once
	sized := false
	jobs := make(chan rangeJob)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c, took, err := m.parallelBatch(ctx, dm, j, o, observe, &mu, &p)
				if err != nil {
					fail(err)
					once.Do(func() { close(firstDone) })
					continue // drain
				}
				mu.Lock()
				p.Done += c
				p.Batches++
				p.BatchSize, p.LastBatch = j.n, took
				p.MaxBatch = max(p.MaxBatch, took)
				p.Elapsed = time.Since(start)
				if o.DataProgress != nil {
					o.DataProgress(p)
				}
				if adaptive && (j.n == batch || took > target) {
					batch = nextDataBatch(j.n, took, target)
				}
				mu.Unlock()
				once.Do(func() { close(firstDone) })
			}
		}()
	}
	// The ranges, in turn.
	cursor := ""
	var handed int64
	for ctx.Err() == nil {
		mu.Lock()
		n := batch
		mu.Unlock()
		if limit >= 0 && int64(n) > limit-handed {
			n = int(limit - handed)
		}
		if n <= 0 {
			break
		}
		upper, found, err := dm.Range(ctx, m.DB, m.Dialect, cursor, n)
		if err != nil {
			fail(err)
			break
		}
		if found == 0 {
			break
		}
		select {
		case jobs <- rangeJob{lower: cursor, upper: upper, n: n}:
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
		handed += int64(found)
		if found < n {
			break
		}
		cursor = upper
	}
	close(jobs)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return p.Done, firstErr
	}
	if err := context.Cause(ctx); err != nil {
		return p.Done, err
	}
	p.Elapsed, p.Finished = time.Since(start), true
	if o.DataProgress != nil {
		o.DataProgress(p)
	}
	return p.Done, nil
}

// parallelBatch applies one range, retried after a deadlock or a lock
// wait timeout as runData retries a batch.
func (m *Migrator) parallelBatch(ctx context.Context, dm *DataMigration, j rangeJob, o Options, observe func(Event) error, mu *sync.Mutex, p *DataProgress) (int64, time.Duration, error) {
	on, _ := m.Dialect.(dialect.Online)
	for attempt := 0; ; attempt++ {
		if err := throttle(ctx, o); err != nil {
			return 0, 0, err
		}
		if err := observe(Event{Kind: DataBatch, SQL: dm.Name}); err != nil {
			return 0, 0, err
		}
		c, took, err := m.applyRange(ctx, dm, j.lower, j.upper)
		throttled(o, Batch{Work: dm.Name, Rows: c, Took: took, Err: err})
		if err == nil {
			return c, took, nil
		}
		if on == nil || !on.Retryable(err) || attempt >= DefaultLockRetries {
			mu.Lock()
			b, done := p.Batches+1, p.Done
			mu.Unlock()
			return 0, took, &DataError{Migration: dm.Name, Batch: b, Done: done, Err: err}
		}
		mu.Lock()
		p.Retries++
		mu.Unlock()
		wait := backoff(attempt) / 4
		if oerr := observe(Event{Kind: Retry, SQL: dm.Name, Err: err, Wait: wait, Attempt: attempt + 1}); oerr != nil {
			return 0, took, oerr
		}
		if serr := sleep(ctx, wait); serr != nil {
			return 0, took, serr
		}
	}
}
