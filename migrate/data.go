package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// DataMigration moves data from old columns to new ones while old and new
// services run side by side: after its expand revision is applied and
// before the contract revision that drops the old data.
//
// Batch must be idempotent and keyed: it migrates at most limit rows whose
// key sorts after cursor ("" to start), inside the transaction it is
// given, and returns the last key it looked at ("" when there is nothing
// after it). Re-running a batch that already committed must change
// nothing, so an interrupted migration simply starts again.
type DataMigration struct {
	Name    string // upstream module name, e.g. "ocata_migrate01_community_images"
	Release string
	After   string // expand revision that must be applied first
	Before  string // revision that must not be applied until it is complete
	// Pending counts the rows still to migrate.
	Pending func(ctx context.Context, q dialect.Querier, d dialect.Dialect) (int64, error)
	// Batch migrates the next batch; see the type's documentation.
	Batch func(ctx context.Context, q dialect.Querier, d dialect.Dialect, cursor string, limit int) (next string, changed int64, err error)
	// Range and Apply, when both are set, replace Batch and keep the
	// batch's transaction to its writes. Range finds, outside any
	// transaction (it only reads, taking no row lock), the next key range
	// (cursor, upper] holding up to limit rows to migrate, and how many
	// it holds (0: none left). Apply then migrates, in the batch's
	// transaction, the rows of (lower, upper] that still need it (rows
	// written meanwhile are left alone or picked up), and returns how
	// many it changed.
	Range func(ctx context.Context, q dialect.Querier, d dialect.Dialect, cursor string, limit int) (upper string, n int, err error)
	Apply func(ctx context.Context, q dialect.Querier, d dialect.Dialect, lower, upper string) (changed int64, err error)
	// SQL, when set, returns the statements that migrate every row still
	// needing it at once, for scripts written without a connection
	// (--sql): what the batches do, without the key ranges. They must be
	// safe to run again.
	SQL func(d dialect.Dialect) []string
}

// DataProgress reports a data migration's advance.
type DataProgress struct {
	Migration string
	Done      int64 // rows changed so far
	Total     int64 // rows pending when it started
	Elapsed   time.Duration
	Finished  bool
	// Batches run so far; the last one's size (rows asked for) and
	// duration, from BEGIN to COMMIT: as long as it held its row locks;
	// and the longest so far.
	Batches   int64
	BatchSize int
	LastBatch time.Duration
	MaxBatch  time.Duration
	Retries   int64 // batches tried again after a deadlock or lock timeout
}

// DataPendingError is returned when a revision would run before the data
// migration it needs is complete.
type DataPendingError struct {
	Migration string
	Revision  string
	Rows      int64
}

func (e *DataPendingError) Error() string {
	return fmt.Sprintf("migrate: %d row(s) still need data migration %s before %s", e.Rows, e.Migration, e.Revision)
}
func (e *DataPendingError) Unwrap() error { return ErrDataMigrationPending }

// Data-migration batches. With Options.DataBatch unset, a batch starts at
// DefaultDataBatch rows and the size adapts so that each transaction
// takes about DefaultDataBatchTarget (between MinDataBatch and
// MaxDataBatch rows): long enough to amortize the round trips, short
// enough that no writer waits long for a row the batch holds.
//
// The target is a quarter of the 200 ms a batch may hold its locks at
// most: the size is chosen from the batches already run, so a batch can
// only overshoot by what the rate per row changed since the last one.
// See nextDataBatch for how the size moves.
const (
	DefaultDataBatch       = 1000
	MinDataBatch           = 100
	MaxDataBatch           = 20000
	DefaultDataBatchTarget = 50 * time.Millisecond
	// DataBatchGrowth caps how much larger (as a factor) one batch may
	// be than the one before it.
	DataBatchGrowth = 1.25
)

// nextDataBatch returns the size of the batch after one of n rows that
// held its transaction for took, aiming at target. The time per row
// measured by that batch gives the size that would have taken target;
// a batch that overran the target shrinks to it at once (and to half of
// it after one that took more than twice the target: the rate is then
// unsteady, the machine loaded or a writer held a row); otherwise the size
// grows towards it by at most DataBatchGrowth per batch, so that one
// fast batch never makes the next one much larger. The result stays
// within [MinDataBatch, MaxDataBatch].
func nextDataBatch(n int, took, target time.Duration) int {
	if n <= 0 || target <= 0 {
		return DefaultDataBatch
	}
	if took <= 0 {
		took = 1 // faster than the clock: grow by the cap
	}
	ideal := float64(n) * float64(target) / float64(took)
	var next float64
	switch {
	case took > 2*target:
		next = ideal / 2
	case took > target:
		next = ideal
	default:
		next = min(ideal, float64(n)*DataBatchGrowth)
		next = max(next, float64(n)) // never shrink after a batch within target
	}
	return min(max(int(next), MinDataBatch), MaxDataBatch)
}

// PendingData lists, for every data migration whose expand revision is
// applied and whose contract revision is not, the rows it still has to
// migrate (zero included).
func (m *Migrator) PendingData(ctx context.Context) (map[string]int64, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, err
	}
	return m.PendingDataAt(ctx, rows)
}

// PendingDataAt is PendingData for a database whose version rows (see
// Heads) were just read.
func (m *Migrator) PendingDataAt(ctx context.Context, rows []string) (map[string]int64, error) {
	applied := m.Graph.Applied(rows)
	out := map[string]int64{}
	for _, dm := range m.Data {
		if !applied[dm.After] || applied[dm.Before] {
			continue
		}
		n, err := dm.Pending(ctx, m.DB, m.Dialect)
		if err != nil {
			return nil, fmt.Errorf("migrate: data migration %s: %w", dm.Name, err)
		}
		out[dm.Name] = n
	}
	return out, nil
}

// RunData runs every runnable data migration (see PendingData) until done
// or until maxRows rows were changed (maxRows < 0: no limit). It reports
// the rows changed and whether work remains.
func (m *Migrator) RunData(ctx context.Context, maxRows int64, o Options) (changed int64, remaining bool, err error) {
	if _, err := m.cluster(ctx, m.DB); err != nil {
		return 0, false, err
	}
	pending, err := m.PendingData(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, dm := range m.Data {
		n, ok := pending[dm.Name]
		if !ok || n == 0 {
			continue
		}
		limit := int64(-1)
		if maxRows >= 0 {
			limit = maxRows - changed
			if limit <= 0 {
				return changed, true, nil
			}
		}
		c, err := m.runData(ctx, dm, limit, o)
		changed += c
		if err != nil {
			return changed, true, err
		}
	}
	after, err := m.PendingData(ctx)
	if err != nil {
		return changed, false, err
	}
	for _, n := range after {
		if n > 0 {
			remaining = true
		}
	}
	return changed, remaining, nil
}

// runData runs dm in batches, each in its own short transaction, until
// it is complete or limit rows were changed (limit < 0: no limit). A
// batch that fails on a deadlock, a lock wait timeout or a busy database
// is rolled back and tried again after a backoff. Each batch confirms the
// migration lock in its transaction first (Migrator.Fence).
func (m *Migrator) runData(ctx context.Context, dm *DataMigration, limit int64, o Options) (int64, error) {
	if w := threads(o); w > 1 && dm.Range != nil && dm.Apply != nil {
		return m.runDataParallel(ctx, dm, limit, o, w)
	}
	batch, adaptive := batchSize(o)
	on, _ := m.Dialect.(dialect.Online)
	total, err := dm.Pending(ctx, m.DB, m.Dialect)
	if err != nil {
		return 0, err
	}
	// On a cluster, no batch's transaction may outgrow the write sets
	// the cluster replicates (wsrep_max_ws_rows, wsrep_max_ws_size).
	wsCap, target, err := m.clusterBatches(ctx, m.DB, "", o)
	if err != nil {
		return 0, err
	}
	batch = capBatch(batch, wsCap)
	start := time.Now()
	p := DataProgress{Migration: dm.Name, Total: total}
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return p.Done, err
		}
		n := batch
		if limit >= 0 && int64(n) > limit-p.Done {
			n = int(limit - p.Done)
		}
		if n <= 0 {
			break
		}
		var next string
		var c int64
		var took time.Duration
		for attempt := 0; ; attempt++ {
			if err = throttle(ctx, o); err != nil {
				return p.Done, err
			}
			next, c, took, err = m.dataBatch(ctx, dm, cursor, n)
			throttled(o, Batch{Work: dm.Name, Rows: c, Took: took, Err: err})
			if err == nil || on == nil || !on.Retryable(err) || attempt >= DefaultLockRetries {
				break
			}
			p.Retries++
			wait := backoff(attempt) / 4
			if oerr := m.observe(Event{Kind: Retry, SQL: dm.Name, Err: err, Wait: wait, Attempt: attempt + 1}); oerr != nil {
				return p.Done, oerr
			}
			if serr := sleep(ctx, wait); serr != nil {
				return p.Done, serr
			}
			if adaptive {
				// The rows stay locked by someone else, or the
				// machine is busy: try again with a smaller batch.
				batch = max(batch/2, MinDataBatch)
				n = min(n, batch)
			}
		}
		if err != nil {
			return p.Done, &DataError{Migration: dm.Name, Batch: p.Batches + 1, Done: p.Done, Err: err}
		}
		p.Done += c
		p.Batches++
		p.BatchSize, p.LastBatch = n, took
		p.MaxBatch = max(p.MaxBatch, took)
		p.Elapsed = time.Since(start)
		if o.DataProgress != nil {
			o.DataProgress(p)
		}
		if next == "" {
			break
		}
		cursor = next
		if adaptive && (n == batch || took > target) {
			batch = capBatch(nextDataBatch(n, took, target), wsCap)
		}
	}
	p.Elapsed, p.Finished = time.Since(start), true
	if o.DataProgress != nil {
		o.DataProgress(p)
	}
	return p.Done, nil
}

// dataBatch runs one batch in its own transaction and reports how long
// the transaction lasted.
func (m *Migrator) dataBatch(ctx context.Context, dm *DataMigration, cursor string, n int) (string, int64, time.Duration, error) {
	if err := m.observe(Event{Kind: DataBatch, SQL: dm.Name}); err != nil {
		return "", 0, 0, err
	}
	if dm.Range != nil && dm.Apply != nil {
		return m.rangeBatch(ctx, dm, cursor, n)
	}
	t0 := time.Now()
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", 0, 0, err
	}
	if err := m.fence(ctx, tx); err != nil {
		tx.Rollback() //nolint:errcheck // the lock is what matters
		return "", 0, time.Since(t0), err
	}
	next, c, err := dm.Batch(ctx, tx, m.Dialect, cursor, n)
	if err != nil {
		tx.Rollback() //nolint:errcheck // the batch error is what matters
		return "", 0, time.Since(t0), err
	}
	err = tx.Commit()
	return next, c, time.Since(t0), err
}

// rangeBatch runs one batch of a migration with Range and Apply: the
// range is found before the transaction starts, so that the transaction
// (and the row locks it holds) lasts only as long as the writes.
func (m *Migrator) rangeBatch(ctx context.Context, dm *DataMigration, cursor string, n int) (string, int64, time.Duration, error) {
	upper, found, err := dm.Range(ctx, m.DB, m.Dialect, cursor, n)
	if err != nil || found == 0 {
		return "", 0, 0, err
	}
	t0 := time.Now()
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", 0, 0, err
	}
	if err := m.fence(ctx, tx); err != nil {
		tx.Rollback() //nolint:errcheck // the lock is what matters
		return "", 0, time.Since(t0), err
	}
	c, err := dm.Apply(ctx, tx, m.Dialect, cursor, upper)
	if err != nil {
		tx.Rollback() //nolint:errcheck // the batch error is what matters
		return "", 0, time.Since(t0), err
	}
	if err = tx.Commit(); err != nil {
		return "", 0, time.Since(t0), err
	}
	if found < n {
		upper = "" // that was the last batch
	}
	return upper, c, time.Since(t0), nil
}

// applyRange migrates the rows of (lower, upper] in one transaction that
// confirms the migration lock first, and reports how long it lasted.
func (m *Migrator) applyRange(ctx context.Context, dm *DataMigration, lower, upper string) (int64, time.Duration, error) {
	t0 := time.Now()
	tx, err := m.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	if err := m.fence(ctx, tx); err != nil {
		tx.Rollback() //nolint:errcheck // the lock is what matters
		return 0, time.Since(t0), err
	}
	c, err := dm.Apply(ctx, tx, m.Dialect, lower, upper)
	if err != nil {
		tx.Rollback() //nolint:errcheck // the batch error is what matters
		return 0, time.Since(t0), err
	}
	err = tx.Commit()
	return c, time.Since(t0), err
}
