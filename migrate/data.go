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
}

// DataProgress reports a data migration's advance.
type DataProgress struct {
	Migration string
	Done      int64 // rows changed so far
	Total     int64 // rows pending when it started
	Elapsed   time.Duration
	Finished  bool
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

// DefaultDataBatch is the number of rows a data-migration batch touches.
const DefaultDataBatch = 1000

// PendingData lists, for every data migration whose expand revision is
// applied and whose contract revision is not, the rows it still has to
// migrate (zero included).
func (m *Migrator) PendingData(ctx context.Context) (map[string]int64, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, err
	}
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
// it is complete or limit rows were changed (limit < 0: no limit).
func (m *Migrator) runData(ctx context.Context, dm *DataMigration, limit int64, o Options) (int64, error) {
	batch := o.DataBatch
	if batch <= 0 {
		batch = DefaultDataBatch
	}
	total, err := dm.Pending(ctx, m.DB, m.Dialect)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	var done int64
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n := batch
		if limit >= 0 && int64(n) > limit-done {
			n = int(limit - done)
		}
		if n <= 0 {
			break
		}
		tx, err := m.DB.BeginTx(ctx, nil)
		if err != nil {
			return done, err
		}
		next, c, err := dm.Batch(ctx, tx, m.Dialect, cursor, n)
		if err != nil {
			tx.Rollback() //nolint:errcheck // the batch error is what matters
			return done, fmt.Errorf("migrate: data migration %s: %w", dm.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return done, err
		}
		done += c
		if o.DataProgress != nil {
			o.DataProgress(DataProgress{Migration: dm.Name, Done: done, Total: total, Elapsed: time.Since(start)})
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if o.DataProgress != nil {
		o.DataProgress(DataProgress{Migration: dm.Name, Done: done, Total: total, Elapsed: time.Since(start), Finished: true})
	}
	return done, nil
}
