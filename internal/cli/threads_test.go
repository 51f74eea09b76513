package cli_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// inflight is a Throttler that counts the batches running at once.
type inflight struct {
	mu       sync.Mutex
	now, max int
	rows     int64
}

func (f *inflight) Wait(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now++
	f.max = max(f.max, f.now)
	return nil
}

func (f *inflight) Done(b migrate.Batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now--
	f.rows += b.Rows
}

// TestDataMigrationThreads: on every backend, the data migration on three
// connections (Options.Threads, --threads) migrates every row once (as
// many rows changed as there were to migrate, in as many batches as
// ranges), with batches really running side by side on the servers;
// stops at --max-rows exactly; and, interrupted part-way, leaves what its
// committed batches did and finishes on the next run.
func TestDataMigrationThreads(t *testing.T) {
	for _, b := range testdb.All {
		t.Run(string(b), func(t *testing.T) {
			const rows, batch, threads = 3000, 100, 3
			t.Run("every row once", func(t *testing.T) {
				db := testdb.New(t, b)
				mgr := expanded(t, db.URL, db.SQL, b, rows)
				db.SQL.SetMaxOpenConns(8)
				f := &inflight{}
				var last migrate.DataProgress
				n, remaining, err := mgr.Migrator.RunData(context.Background(), -1, migrate.Options{DataBatch: batch, Threads: threads, Throttle: f,
					DataProgress: func(p migrate.DataProgress) { last = p }})
				if err != nil || remaining || n != rows {
					t.Fatalf("RunData = %d, %v, %v; want %d rows, done", n, remaining, err, rows)
				}
				if last.Batches != rows/batch || last.Done != rows || !last.Finished || f.rows != rows {
					t.Errorf("%d batches changed %d rows (throttler told of %d); want %d batches of %d", last.Batches, last.Done, f.rows, rows/batch, batch)
				}
				if got := pendingImages(t, db.SQL); got != 0 {
					t.Errorf("%d images left to migrate", got)
				}
				var public, private int
				if err := db.SQL.QueryRow("SELECT COUNT(CASE WHEN visibility = 'public' THEN 1 END), COUNT(CASE WHEN visibility = 'private' THEN 1 END) FROM images").Scan(&public, &private); err != nil {
					t.Fatal(err)
				}
				if public != rows/2 || private != rows/2 {
					t.Errorf("%d public and %d private images; want %d of each", public, private, rows/2)
				}
				if b != testdb.SQLite && f.max < 2 {
					t.Errorf("at most %d batch(es) ran at once; want several", f.max)
				}
				t.Logf("at most %d batches at once", f.max)
			})
			t.Run("max rows", func(t *testing.T) {
				db := testdb.New(t, b)
				mgr := expanded(t, db.URL, db.SQL, b, rows)
				db.SQL.SetMaxOpenConns(8)
				n, remaining, err := mgr.Migrator.RunData(context.Background(), 1000, migrate.Options{DataBatch: 64, Threads: threads})
				if err != nil || !remaining || n != 1000 {
					t.Fatalf("RunData(max 1000) = %d, %v, %v; want 1000 rows, some left", n, remaining, err)
				}
				if got := pendingImages(t, db.SQL); got != rows-1000 {
					t.Errorf("%d images left to migrate; want %d", got, rows-1000)
				}
				// And through the CLI.
				out, errs, code := runCLI(t, db.URL, "db", "migrate", "--threads", "3", "--max-rows", "500")
				if code != 1 || !strings.Contains(out, "Migrated 500 rows") || !strings.Contains(errs, "rows remain after --max-rows 500") {
					t.Errorf("db migrate --threads 3 --max-rows 500: exit %d\n%s\n%s", code, out, errs)
				}
				if got := pendingImages(t, db.SQL); got != rows-1500 {
					t.Errorf("%d images left to migrate; want %d", got, rows-1500)
				}
			})
			t.Run("interrupted", func(t *testing.T) {
				db := testdb.New(t, b)
				mgr := expanded(t, db.URL, db.SQL, b, rows)
				db.SQL.SetMaxOpenConns(8)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				n1, _, err := mgr.Migrator.RunData(ctx, -1, migrate.Options{DataBatch: batch, Threads: threads, DataProgress: func(p migrate.DataProgress) {
					if p.Batches == 5 {
						cancel()
					}
				}})
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("RunData cancelled after 5 batches: %d rows, %v", n1, err)
				}
				// A batch whose COMMIT was under way when the run was
				// cancelled may still commit (the server finishes it):
				// at most that many rows more than reported are done.
				left := pendingImages(t, db.SQL)
				if left == 0 || int64(left) > rows-n1 {
					t.Fatalf("%d images left after the interrupted run that reported %d of %d", left, n1, rows)
				}
				out := mustCLI(t, db.URL, "db", "migrate", "--threads", "3")
				var n2 int64
				_, said, _ := strings.Cut(out, "Migrated ")
				if _, err := fmt.Sscanf(said, "%d rows", &n2); err != nil || n2 > int64(left) || n1+n2 > rows {
					t.Errorf("db migrate --threads 3 after the interruption (%d left, %d reported before):\n%s", left, n1, out)
				}
				if got := pendingImages(t, db.SQL); got != 0 {
					t.Errorf("%d images left to migrate", got)
				}
			})
		})
	}
}
