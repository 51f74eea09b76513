package rolling

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Load is a light synthetic traffic of old- and new-release writers on a
// Glance database at any revision, the same writers Run uses, without the
// seeding and the checks: what `glance-manage db rehearse` runs beside the
// upgrade's phases on a scratch copy of a database, to measure what the
// services would feel. Writes are recorded in the phase they start in
// (see Phase); the longest stall of each phase is measured as in Run.
//
// Old writers start with the load; new writers with StartNew, once
// expand is done; StopOld stops the old writers before contract, as the
// upgrade procedure says. Stop ends everything and returns the phases.
// A Load's methods must be called from one goroutine.
type Load struct {
	h       *harness
	writers []*writer
	stops   map[Release]func()
	cancel  context.CancelFunc
	ctx     context.Context
	stopped bool
}

// LoadConfig describes a Load.
type LoadConfig struct {
	Backend string  // "sqlite", "mysql" or "postgresql"
	DB      *sql.DB // the database the writers write to
	Dialect dialect.Dialect

	OldWriters, NewWriters int           // concurrent writers of each release (default 1 and 1)
	Pace                   time.Duration // pause between one writer's writes (default 10 ms)
	// Sample is how many of the database's live images the writers
	// update, share and delete besides the ones they create (default
	// 1000): a copy of the database, never the real one.
	Sample int
}

// StartLoad starts the old writers in a first phase named first.
func StartLoad(ctx context.Context, cfg LoadConfig, first string) (*Load, error) {
	if cfg.OldWriters == 0 && cfg.NewWriters == 0 {
		cfg.OldWriters, cfg.NewWriters = 1, 1
	}
	if cfg.Pace == 0 {
		cfg.Pace = 10 * time.Millisecond
	}
	if cfg.Sample == 0 {
		cfg.Sample = 1000
	}
	if cfg.DB == nil || cfg.Dialect == nil {
		return nil, errors.New("rolling: a load needs a database and its dialect")
	}
	h := &harness{cfg: Config{Backend: cfg.Backend, DB: cfg.DB, Pace: cfg.Pace}, db: cfg.DB}
	h.ph, h.phs = placeholders(cfg.Dialect)
	if on, ok := cfg.Dialect.(dialect.Online); ok {
		h.retryable = on.Retryable
	}
	oldPublic, err := hasColumn(ctx, cfg.DB, "images", "is_public")
	if err != nil {
		return nil, err
	}
	ids, err := sampleImages(ctx, cfg.DB, cfg.Sample)
	if err != nil {
		return nil, err
	}
	nw := cfg.OldWriters + cfg.NewWriters
	l := &Load{h: h, stops: map[Release]func(){}}
	for i := 0; i < nw; i++ {
		rel := Old
		if i >= cfg.OldWriters {
			rel = New
		}
		l.writers = append(l.writers, &writer{h: h, id: i, release: rel, rng: rand.New(rand.NewPCG(uint64(i), 17)),
			want: map[string]*intent{}, isPublic: rel == Old && oldPublic, db: cfg.DB})
	}
	for n, id := range ids {
		w := l.writers[n%nw]
		w.pool = append(w.pool, id)
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	h.begin(first)
	go h.watch(l.ctx)
	l.start(Old)
	return l, nil
}

func (l *Load) start(rel Release) {
	wctx, cancel := context.WithCancel(l.ctx)
	var wg sync.WaitGroup
	for _, w := range l.writers {
		if w.release == rel {
			wg.Add(1)
			go func() { defer wg.Done(); w.run(wctx) }()
		}
	}
	l.stops[rel] = func() { cancel(); wg.Wait() }
}

// Phase closes the current phase and opens the next.
func (l *Load) Phase(name string) { l.h.begin(name) }

// StartNew starts the new release's writers. They write visibility when
// the schema has it (after the expansion of Ocata), else is_public.
func (l *Load) StartNew(ctx context.Context) error {
	if _, ok := l.stops[New]; ok {
		return nil
	}
	vis, err := hasColumn(ctx, l.h.db, "images", "visibility")
	if err != nil {
		return err
	}
	for _, w := range l.writers {
		if w.release == New {
			w.isPublic = !vis
		}
	}
	l.start(New)
	return nil
}

// StopOld stops the old release's writers, waiting for their writes in
// flight.
func (l *Load) StopOld() { l.stopRelease(Old) }

func (l *Load) stopRelease(rel Release) {
	if stop, ok := l.stops[rel]; ok && stop != nil {
		stop()
		l.stops[rel] = nil
	}
}

// Stop stops every writer and returns the phases, in order, and the first
// failed writes with their errors.
func (l *Load) Stop() ([]Phase, []string) {
	if !l.stopped {
		l.stopRelease(Old)
		l.stopRelease(New)
		l.h.cur.Load().end = time.Now()
		l.cancel()
		l.stopped = true
	}
	var out []Phase
	var failures []string
	for _, p := range l.h.phases {
		out = append(out, p.result())
		failures = append(failures, p.failures...)
	}
	return out, failures
}

// hasColumn tells whether table has column.
func hasColumn(ctx context.Context, db *sql.DB, table, column string) (bool, error) {
	// Each call its own text: a driver that caches prepared statements
	// (pgx) would otherwise reuse a plan from before a schema change.
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE 1 = 0 /* %d */", table, time.Now().UnixNano()))
	if err != nil {
		return false, fmt.Errorf("rolling: read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	for _, c := range cols {
		if c == column {
			return true, nil
		}
	}
	return false, rows.Err()
}

// sampleImages returns the ids of up to n live images, spread over the
// table.
func sampleImages(ctx context.Context, db *sql.DB, n int) ([]string, error) {
	if n < 0 {
		return nil, nil
	}
	var total int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM images").Scan(&total); err != nil {
		return nil, fmt.Errorf("rolling: count images: %w", err)
	}
	step := max(total/int64(max(n, 1)), 1)
	rows, err := db.QueryContext(ctx, "SELECT id, deleted FROM images ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("rolling: read images: %w", err)
	}
	defer rows.Close()
	var out []string
	var i int64
	for rows.Next() && len(out) < n {
		var id string
		var deleted sql.NullBool
		if err := rows.Scan(&id, &deleted); err != nil {
			return nil, err
		}
		if i%step == 0 && !deleted.Bool {
			out = append(out, id)
		}
		i++
	}
	return out, rows.Err()
}
