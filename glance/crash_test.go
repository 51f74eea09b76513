package glance_test

// Crash injection: the real glance-manage binary, built with the
// crashtest tag (see migrate/crashpoint_crashtest.go), is killed with
// SIGKILL at every crash point in turn (before every statement and every
// data-migration batch) of `db sync` from an empty database and from a
// Mitaka database with data (every revision and data migration), and of
// `db expand`, `db migrate` and `db contract` on such a Mitaka database. After each kill the same command runs again, then the remaining
// ones; the schema, the rows and alembic_version must then be exactly
// those of an uninterrupted run, and the re-run must take over the dead
// run's migration lock by itself.
//
// Every crash point is covered on every enabled backend. GLANCE_CRASH_SAMPLE=n
// (or -short) keeps every n-th point of the expand/migrate/contract
// scenario only (sync is always covered in full).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// crashBinary builds glance-manage with crash points into dir.
func crashBinary(t *testing.T) string {
	t.Helper()
	return glancetest.CrashBinary(t)
}

// runResult is one run of the binary.
type runResult struct {
	stdout, stderr string
	code           int
	killed         bool // ended by SIGKILL
}

func runTool(bin, dbURL string, env []string, args ...string) (runResult, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+dbURL)
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := runResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
	default:
		return r, err
	}
	return r, nil
}

// dbState is the database as text: schema, rows, alembic_version,
// without the migration lock's own table (its rows name processes).
func dbState(ctx context.Context, db *testdb.DB) (string, error) {
	s, err := snapshot.Take(ctx, db.SQL, db.Backend)
	if err != nil {
		return "", err
	}
	return stripTable(s, glance.Naming.LockTable()), nil
}

// stripTable removes the "rows <table> (n)" section of a snapshot.
func stripTable(s, table string) string {
	var b strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(line, "rows ") {
			skip = strings.HasPrefix(line, "rows "+table+" ")
		}
		if !skip {
			b.WriteString(line)
		}
	}
	return b.String()
}

// crashScenario is a sequence of commands run on a database prepared by
// setup.
type crashScenario struct {
	name  string
	setup func(ctx context.Context, bin string, db *testdb.DB) error
	steps [][]string
	// sampled: with GLANCE_CRASH_SAMPLE or -short, only every n-th crash
	// point is tried.
	sampled bool
}

// crashPoint is one kill: in step, before its point-th crash point.
type crashPoint struct {
	step, point int
	what        string // the trace line
}

// crashBatchEnv fixes the data migrations' and shadow copies' batch size
// in the traced run and the runs it kills: adaptive batches follow the
// machine's speed, and a loaded machine would otherwise pass other crash
// points than the traced run did.
const crashBatchEnv = "GLANCE_MANAGE_DATA_BATCH=1000"

func TestCrashAtEveryStatement(t *testing.T) {
	scenarios := []crashScenario{
		{name: "sync", steps: [][]string{{"db", "sync"}}},
		{name: "sync-from-mitaka", setup: mitakaWithData, steps: [][]string{{"db", "sync"}}},
		{name: "expand-migrate-contract", setup: mitakaWithData, sampled: true,
			steps: [][]string{{"db", "expand"}, {"db", "migrate"}, {"db", "contract"}}},
	}
	bin := crashBinary(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		testdb.Require(t, b)
		// The backends' servers work side by side; each backend's
		// scenarios run one after the other (each runs its own
		// crash points in parallel).
		t.Parallel()
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) { runCrashScenario(t, bin, b, sc) })
		}
	})
}

func crashSample(sc crashScenario) int {
	if !sc.sampled {
		return 1
	}
	if v, err := strconv.Atoi(os.Getenv("GLANCE_CRASH_SAMPLE")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 5
	}
	return 1
}

func runCrashScenario(t *testing.T, bin string, b testdb.Backend, sc crashScenario) {
	ctx := context.Background()
	dir := t.TempDir()
	// prepare empties db (a server database is reused: emptying it is
	// much cheaper than creating one) and runs the scenario's setup.
	prepare := func(db *testdb.DB) error {
		if err := emptyDatabase(ctx, db); err != nil {
			return err
		}
		if sc.setup != nil {
			if err := sc.setup(ctx, bin, db); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
		}
		return nil
	}

	// The uninterrupted run, with its crash points traced per step.
	clean, err := testdb.Create(ctx, b, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Destroy(ctx) //nolint:errcheck // best effort
	if err := prepare(clean); err != nil {
		t.Fatal(err)
	}
	var points []crashPoint
	var want []string // state after each step
	for i, step := range sc.steps {
		trace := filepath.Join(dir, fmt.Sprintf("trace-%d", i))
		r, err := runTool(bin, clean.URL, []string{"GLANCE_MANAGE_CRASH_TRACE=" + trace, crashBatchEnv}, step...)
		if err != nil || r.code != 0 {
			t.Fatalf("clean %s: exit %d, %v\n%s%s", strings.Join(step, " "), r.code, err, r.stdout, r.stderr)
		}
		lines, err := readLines(trace)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for k, l := range lines {
			points = append(points, crashPoint{step: i, point: k + 1, what: l})
		}
		s, err := dbState(ctx, clean)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	if len(points) == 0 {
		t.Fatal("the clean run passed no crash point")
	}
	every := crashSample(sc)
	var todo []crashPoint
	for i, p := range points {
		// Data-migration batches (no revision in the trace) are few and
		// always tried.
		if i%every == 0 || i == len(points)-1 || strings.Contains(p.what, "\t\t") {
			todo = append(todo, p)
		}
	}
	t.Logf("%s on %s: %d crash points, trying %d", sc.name, b, len(points), len(todo))

	workers := 4
	if b == testdb.SQLite {
		workers = 2
	}
	jobs := make(chan crashPoint)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var db *testdb.DB
			if b != testdb.SQLite {
				var err error
				if db, err = testdb.Create(ctx, b, dir); err != nil {
					t.Error(err)
					return
				}
				defer db.Destroy(ctx) //nolint:errcheck // best effort
			}
			for p := range jobs {
				d := db
				if d == nil { // SQLite: a new file is cheapest
					var err error
					if d, err = testdb.Create(ctx, b, dir); err != nil {
						t.Error(err)
						continue
					}
				}
				fresh := func() (*testdb.DB, error) { return d, prepare(d) }
				err := crashOnce(ctx, bin, sc, p, fresh, want)
				if db == nil {
					_ = d.Destroy(ctx)
				}
				if err != nil {
					t.Errorf("kill in %q at crash point %d (%s): %v", strings.Join(sc.steps[p.step], " "), p.point, p.what, err)
				}
			}
		}()
	}
	for _, p := range todo {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
}

// crashOnce runs the scenario on a fresh database, killing step p.step
// at p.point, then finishes it and compares every later state.
func crashOnce(ctx context.Context, bin string, sc crashScenario, p crashPoint, fresh func() (*testdb.DB, error), want []string) error {
	db, err := fresh()
	if err != nil {
		return err
	}
	for i, step := range sc.steps {
		if i == p.step {
			r, err := runTool(bin, db.URL, []string{"GLANCE_MANAGE_CRASH_AT=" + strconv.Itoa(p.point), crashBatchEnv}, step...)
			if err != nil {
				return err
			}
			if !r.killed {
				return fmt.Errorf("the run was not killed (exit %d): the crash point was never reached\n%s%s", r.code, r.stdout, r.stderr)
			}
		}
		r, err := runTool(bin, db.URL, nil, step...)
		if err != nil {
			return err
		}
		if r.code != 0 {
			return fmt.Errorf("%s after the kill: exit %d\n%s%s", strings.Join(step, " "), r.code, r.stdout, r.stderr)
		}
		if i == p.step && !strings.Contains(r.stderr, "took over the migration lock") {
			return fmt.Errorf("the re-run did not say it took over the dead run's lock:\n%s", r.stderr)
		}
		if i < p.step {
			continue
		}
		got, err := dbState(ctx, db)
		if err != nil {
			return err
		}
		if got != want[i] {
			return fmt.Errorf("after %s the database differs from an uninterrupted run:\n%s", strings.Join(step, " "), firstDiff(want[i], got))
		}
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// firstDiff shows where two dumps start to differ.
func firstDiff(want, got string) string { return glancetest.FirstDiff(want, got) }

// emptyDatabase drops everything a run may have created in db.
func emptyDatabase(ctx context.Context, db *testdb.DB) error {
	switch db.Backend {
	case testdb.PostgreSQL:
		for _, q := range []string{"DROP SCHEMA public CASCADE", "CREATE SCHEMA public"} {
			if _, err := db.SQL.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		// Close the pooled connections: their cached statements name
		// tables that no longer exist.
		db.SQL.SetMaxIdleConns(0)
		db.SQL.SetMaxIdleConns(2)
		return nil
	case testdb.MySQL:
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var tables []string
		rows, err := conn.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			tables = append(tables, "`"+n+"`")
		}
		rows.Close()
		if len(tables) == 0 {
			return nil
		}
		if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, "DROP TABLE "+strings.Join(tables, ", "))
		return err
	}
	return nil
}

// mitakaWithData brings db to mitaka02 (the last revision before the
// expand/contract split) and fills it as pre-Ocata services did: enough
// images, members and locations for the data migrations to run in
// several batches.
func mitakaWithData(ctx context.Context, bin string, db *testdb.DB) error {
	r, err := runTool(bin, db.URL, nil, "db", "upgrade", "mitaka02")
	if err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("db upgrade mitaka02: exit %d: %s", r.code, r.stderr)
	}
	const n = 2500
	var images, members, locations []string
	for i := range n {
		id := fmt.Sprintf("img-%05d", i)
		public := "FALSE"
		if i%3 == 0 {
			public = "TRUE"
		}
		images = append(images, fmt.Sprintf("('%s', '%s', 'active', %s, '2020-01-02 03:04:05', FALSE, 0, 0, FALSE)", id, id, public))
		if i%3 == 1 {
			members = append(members, fmt.Sprintf("('%s', 'tenant-%d', TRUE, '2020-01-02 03:04:05', %s, 'accepted')", id, i, map[bool]string{true: "TRUE", false: "FALSE"}[i%2 == 0]))
		}
		meta := `{"store": "cheap"}`
		if i%2 == 0 {
			meta = `{"backend": "fast"}`
		}
		locations = append(locations, fmt.Sprintf("('%s', 'file:///%s', '2020-01-02 03:04:05', FALSE, '%s', 'active')", id, id, meta))
	}
	for _, q := range []string{
		"INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES " + strings.Join(images, ", "),
		"INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) VALUES " + strings.Join(members, ", "),
		"INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status) VALUES " + strings.Join(locations, ", "),
	} {
		if _, err := db.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
