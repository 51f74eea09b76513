package cli_test

// Fencing: a run whose migration lock was broken changes nothing more.
// Real processes (the crashtest build, paused by GLANCE_MANAGE_PAUSE_ON),
// a real `db lock break --force` and, on MariaDB, real writers.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// seedMitaka brings db to mitaka02 and adds n images as a pre-Ocata
// service wrote them, each with a property, in multi-row statements.
func seedMitaka(t *testing.T, db *testdb.DB, n int) {
	t.Helper()
	seedMitakaAt(t, db.URL, db.SQL, db.Backend, n)
}

func seedMitakaAt(t *testing.T, url string, sqlDB *sql.DB, backend testdb.Backend, n int) {
	t.Helper()
	mustCLI(t, url, "db", "sync", "mitaka02")
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		var imgs, props []string
		for i := from; i < min(n, from+chunk); i++ {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(i)*2654435761, i)
			imgs = append(imgs, fmt.Sprintf("('%s', 'img%d', 'active', %s, '2016-05-01 10:00:00', %s, 0, 0, %s)",
				id, i, boolLit(backend, i%2 == 0), boolLit(backend, false), boolLit(backend, false)))
			props = append(props, fmt.Sprintf("('%s', 'p', 'v', '2016-05-01 10:00:00', %s)", id, boolLit(backend, false)))
		}
		for _, q := range []string{
			"INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES " + strings.Join(imgs, ", "),
			"INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES " + strings.Join(props, ", "),
		} {
			if _, err := sqlDB.Exec(q); err != nil {
				t.Fatalf("seed: %v", err)
			}
		}
	}
}

// writers insert images without pause, as a pre-Ocata Glance API does,
// and remember each insert the server acknowledged.
type writers struct {
	t      *testing.T
	stop   context.CancelFunc
	wg     sync.WaitGroup
	acked  atomic.Int64
	mu     sync.Mutex
	ids    []string
	failed []error
}

func startWriters(t *testing.T, db *testdb.DB, n int) *writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writers{t: t, stop: cancel}
	for k := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("writer%d-%07d", k, i)
				_, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (?, ?, 'active', 1, UTC_TIMESTAMP(), 0, 0, 0, 0)", id, id)
				w.mu.Lock()
				if err != nil {
					w.failed = append(w.failed, fmt.Errorf("insert %s: %w", id, err))
				} else {
					w.ids = append(w.ids, id)
					w.acked.Add(1)
				}
				w.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { cancel(); w.wg.Wait() })
	return w
}

// progress waits until the writers have had n more inserts acknowledged.
func (w *writers) progress(n int64, runs ...*run) {
	w.t.Helper()
	from := w.acked.Load()
	until(w.t, fmt.Sprintf("%d more acknowledged inserts", n), func() bool { return w.acked.Load() >= from+n }, runs...)
}

// end stops the writers and returns the acknowledged ids and the errors.
func (w *writers) end() ([]string, []error) {
	w.stop()
	w.wg.Wait()
	return w.ids, w.failed
}

// TestBrokenLockLosesNoWrite reproduces what was seen on MariaDB: `db
// expand` copies images into a shadow table while a client inserts
// images; `db lock break --force` is run, and a second `db expand` is
// started at once. The lock is broken at three points of the copy (in
// the middle of copying the rows, while the copy is compared with the
// table, and just before the swap). Whatever the second run does, every
// insert the server acknowledged must be in images at the end, the
// first run must exit non-zero saying it lost the lock, and running `db
// expand` again must leave the schema of an uninterrupted expand.
//
// Before fencing, the first run went on after the break: in the middle
// of the copy and during the compare it repointed the foreign keys while
// the second run dropped its triggers (the second run then failed
// dropping the shadow, Error 1451, as observed), swapped in a shadow that
// missed the inserts made since, and exited 0.
func TestBrokenLockLosesNoWrite(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	bin := buildTool(t)
	ref := testdb.New(t, testdb.MySQL)
	seedMitaka(t, ref, 10)
	mustCLI(t, ref.URL, "db", "expand")
	want := schemaOf(t, ref)

	// The lease is long enough that the second run waits for the first
	// one's acknowledgement rather than for the lease to run out.
	env := []string{"GLANCE_MANAGE_LOCK_LEASE=20s"}
	for _, sc := range []struct{ name, at, then string }{
		{"mid-copy", "batch:copy of images#3", "stmt:RENAME TABLE"},
		{"during the compare", "stmt:CRC32", "stmt:RENAME TABLE"},
		{"just before the swap", "stmt:RENAME TABLE", "stmt:RENAME TABLE#2"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			db := testdb.New(t, testdb.MySQL)
			seedMitaka(t, db, 20000)
			w := startWriters(t, db, 3)
			w.progress(20)
			first := launch(t, "the first db expand", bin, db.URL, env, sc.at+";"+sc.then, "db", "expand")
			until(t, "the first run to reach "+sc.at, func() bool { return first.paused(1) || first.exited() }, first)
			if first.exited() {
				t.Fatalf("the first run ended (exit %d) before %s: the copy did not take enough batches?\n%s", first.wait(), sc.at, first.stderr())
			}
			w.progress(20, first)
			if out := runTool(t, bin, db.URL, "db", "lock", "break", "--force"); !strings.Contains(out, "Broke the migration lock") {
				t.Fatalf("db lock break --force:\n%s", out)
			}
			second := launch(t, "the second db expand", bin, db.URL, env, "stmt:`_images_", "db", "expand")
			until(t, "the second run to wait for the first or touch the copy", func() bool {
				return second.paused(1) || second.said("Waiting for") || second.exited()
			}, first, second)
			w.progress(20, first, second)
			first.resume(1)
			until(t, "the first run to stop or reach "+sc.then, func() bool { return first.paused(2) || first.exited() }, first, second)
			if first.paused(2) {
				// The first run went on after its lock was broken; let
				// the second one do what it does meanwhile.
				second.resume(1)
				second.wait()
				w.progress(20, first)
				first.resume(2)
			} else {
				second.resume(1)
			}
			code1, code2 := first.wait(), second.wait()
			w.progress(20)
			acked, failed := w.end()

			have, err := dialect.Strings(context.Background(), db.SQL, "SELECT id FROM images WHERE id LIKE 'writer%'")
			if err != nil {
				t.Fatal(err)
			}
			var missing []string
			for _, id := range acked {
				if !slices.Contains(have, id) {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%d of %d acknowledged inserts are missing from images: %v", len(missing), len(acked), missing[:min(len(missing), 10)])
			}
			for _, err := range failed[:min(len(failed), 5)] {
				t.Errorf("a writer failed: %v", err)
			}
			if code1 == 0 || !first.said("lost the migration lock") {
				t.Errorf("the first run: exit %d; want non-zero, saying it lost the migration lock:\n%s", code1, first.stderr())
			}
			if code2 != 0 || !second.said("Waiting for") || !second.said("has stopped") {
				t.Errorf("the second run: exit %d; want 0, having waited for the first one to stop:\n%s", code2, second.stderr())
			}
			mustCLI(t, db.URL, "db", "expand")
			if got := schemaOf(t, db); got != want {
				t.Errorf("after db expand again, the schema differs from an uninterrupted expand:\n%s", firstDiff(want, got))
			}
			left, err := dialect.Strings(context.Background(), db.SQL, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND (table_name LIKE '\\_images\\_%' OR table_name LIKE 'glance\\_manage\\_fence%')")
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("tables left behind: %v", left)
			}
			if len(missing) == 0 {
				t.Logf("%d acknowledged inserts, all present", len(acked))
			}
		})
	}
}

// TestBrokenLockStopsRun: on every backend, a run whose lock is broken
// stops before its next change and exits non-zero saying so.
//
//   - Between two batches of a data migration (`db migrate`): no batch
//     runs after the break.
//   - Inside a revision (`db sync`): where the revision is a transaction
//     (SQLite, PostgreSQL), the break waits for it to commit and the run
//     stops before the next revision; on MySQL, where each statement
//     commits by itself, the run stops before the statement.
func TestBrokenLockStopsRun(t *testing.T) {
	bin := buildTool(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		pending := func(db *testdb.DB) int {
			t.Helper()
			var n int
			if err := db.SQL.QueryRow("SELECT COUNT(*) FROM images WHERE visibility IS NULL").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		t.Run("between data-migration batches", func(t *testing.T) {
			db := testdb.New(t, b)
			seedMitaka(t, db, 3000)
			mustCLI(t, db.URL, "db", "expand")
			r := launch(t, "db migrate", bin, db.URL, nil, "batch:ocata_migrate01_community_images#2", "db", "migrate")
			until(t, "the second batch", func() bool { return r.paused(1) || r.exited() }, r)
			if r.exited() {
				t.Fatalf("db migrate ended (exit %d) before its second batch:\n%s", r.wait(), r.stderr())
			}
			before := pending(db)
			if before == 0 || before == 3000 {
				t.Fatalf("%d rows pending after the first batch", before)
			}
			if out := runTool(t, bin, db.URL, "db", "lock", "break", "--force"); !strings.Contains(out, "Broke the migration lock") {
				t.Fatalf("db lock break --force:\n%s", out)
			}
			r.resume(1)
			if code := r.wait(); code != 1 || !r.said("lost the migration lock") {
				t.Errorf("db migrate: exit %d; want 1, saying it lost the migration lock:\n%s", code, r.stderr())
			}
			if after := pending(db); after != before {
				t.Errorf("%d rows were migrated after the lock was broken", before-after)
			}
			if out := runTool(t, bin, db.URL, "db", "lock", "show"); !strings.Contains(out, "free") {
				t.Errorf("db lock show afterwards:\n%s", out)
			}
			mustCLI(t, db.URL, "db", "migrate")
			if n := pending(db); n != 0 {
				t.Errorf("%d rows pending after db migrate ran again", n)
			}
		})
		t.Run("inside a revision", func(t *testing.T) {
			db := testdb.New(t, b)
			seedMitaka(t, db, 100)
			r := launch(t, "db sync", bin, db.URL, nil, "stmt:visibility;start:pike_expand01", "db", "sync")
			until(t, "ocata_expand01's first statement", func() bool { return r.paused(1) || r.exited() }, r)
			brk := launch(t, "db lock break", bin, db.URL, nil, "", "db", "lock", "break", "--force")
			if b != testdb.MySQL {
				// The revision's transaction holds the lock's row:
				// the break waits for it.
				r.resume(1)
			} else {
				brk.wait()
				r.resume(1)
			}
			until(t, "db sync to stop or reach pike_expand01", func() bool { return r.paused(2) || r.exited() }, r, brk)
			if code := brk.wait(); code != 0 || !strings.Contains(brk.stdout.String(), "Broke the migration lock") {
				t.Fatalf("db lock break --force: exit %d\n%s\n%s", code, brk.stdout.String(), brk.stderr())
			}
			r.resume(2)
			if code := r.wait(); code != 1 || !r.said("lost the migration lock") {
				t.Errorf("db sync: exit %d; want 1, saying it lost the migration lock:\n%s", code, r.stderr())
			}
			heads, err := dialect.Strings(context.Background(), db.SQL, "SELECT version_num FROM alembic_version")
			if err != nil {
				t.Fatal(err)
			}
			want := "ocata_expand01" // the transaction the break waited for
			if b == testdb.MySQL {
				want = "mitaka02" // stopped before its first statement
			}
			if len(heads) != 1 || heads[0] != want {
				t.Errorf("alembic_version after the break: %v; want [%s]", heads, want)
			}
			if out := runTool(t, bin, db.URL, "db", "lock", "show"); !strings.Contains(out, "free") {
				t.Errorf("db lock show afterwards:\n%s", out)
			}
			mustCLI(t, db.URL, "db", "sync")
			assertHead(context.Background(), t, db)
			if _, _, code := runCLI(t, db.URL, "db", "check"); code != 0 {
				t.Errorf("db check after db sync ran again: exit %d", code)
			}
		})
	})
}

// TestBrokenLockAcrossGaleraNodes: a lock broken through the other node
// of a Galera cluster stops a data migration before its next batch: the
// batch's confirmation of the lock writes the lease row, which the break
// on the other node deleted (a read under a shared lock would not
// conflict across nodes).
func TestBrokenLockAcrossGaleraNodes(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	g := testdb.NewGalera(t)
	bin := buildTool(t)
	seedMitakaAt(t, g.URLs[0], g.SQL[0], testdb.MySQL, 3000)
	mustCLI(t, g.URLs[0], "db", "expand")
	pending := func() int {
		t.Helper()
		var n int
		if err := g.SQL[0].QueryRow("SELECT COUNT(*) FROM images WHERE visibility IS NULL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r := launch(t, "db migrate on node 1", bin, g.URLs[0], nil, "batch:ocata_migrate01_community_images#2", "db", "migrate")
	until(t, "the second batch", func() bool { return r.paused(1) || r.exited() }, r)
	if r.exited() {
		t.Fatalf("db migrate ended (exit %d) before its second batch:\n%s", r.wait(), r.stderr())
	}
	before := pending()
	brk := launch(t, "db lock break on node 2", bin, g.URLs[1], nil, "", "db", "lock", "break", "--force")
	if code := brk.wait(); code != 0 || !strings.Contains(brk.stdout.String(), "Broke the migration lock") {
		t.Fatalf("db lock break --force on node 2: exit %d\n%s%s", code, brk.stdout.String(), brk.stderr())
	}
	r.resume(1)
	if code := r.wait(); code != 1 || !r.said("lost the migration lock") {
		t.Errorf("db migrate on node 1: exit %d; want 1, saying it lost the migration lock:\n%s", code, r.stderr())
	}
	if after := pending(); after != before {
		t.Errorf("%d rows were migrated after the lock was broken on node 2", before-after)
	}
}
