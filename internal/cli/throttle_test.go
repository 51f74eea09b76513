package cli_test

// Throttling of the batches on real servers: a MariaDB replica delayed
// with MASTER_DELAY and a PostgreSQL standby whose replay is paused
// (tools/replica), sessions sleeping on the primary for --max-load, and
// data migrations on several connections (--threads).

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/cli"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// timeline records, in order, when batches started and when the
// throttler under test said it waited and went on.
type timeline struct {
	mu     sync.Mutex
	events []event
	// pace: each batch starts this long after the throttler let it
	// (batches of a few milliseconds would otherwise all run before a
	// replica could fall a second behind).
	pace time.Duration
}

type event struct {
	kind string // "batch", "wait", "again", "resumed"
	at   time.Time
	w    migrate.ThrottleWait
}

func (tl *timeline) add(kind string, w migrate.ThrottleWait) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, event{kind: kind, at: time.Now(), w: w})
}

func (tl *timeline) notify(w migrate.ThrottleWait) {
	switch {
	case w.Resumed:
		tl.add("resumed", w)
	case w.Waited == 0:
		tl.add("wait", w)
	default:
		tl.add("again", w)
	}
}

// Wait and Done make the timeline a Throttler that notes each batch as it
// starts: placed after the throttler under test, it is asked once that
// one let the batch go.
func (tl *timeline) Wait(context.Context) error {
	time.Sleep(tl.pace)
	tl.add("batch", migrate.ThrottleWait{})
	return nil
}
func (tl *timeline) Done(migrate.Batch) {}

// check fails t unless the throttler waited at least once, no batch
// started while it waited, and batches ran after every wait. It returns
// the first wait.
func (tl *timeline) check(t *testing.T) migrate.ThrottleWait {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var first *event
	waiting := false
	batchesAfter := 0
	for i, e := range tl.events {
		switch e.kind {
		case "wait":
			if first == nil {
				first = &tl.events[i]
			}
			waiting, batchesAfter = true, 0
		case "resumed":
			waiting = false
		case "batch":
			if waiting {
				t.Errorf("a batch started at %s while the throttler waited", e.at.Format("15:04:05.000"))
			}
			batchesAfter++
		}
	}
	if first == nil {
		t.Fatalf("the throttler never waited (%d events)", len(tl.events))
	}
	if waiting {
		t.Errorf("the throttler never said it went on")
	}
	return first.w
}

func pendingImages(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM images WHERE visibility IS NULL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// expanded seeds n pre-Ocata images and runs db expand: the data
// migration of images' visibility is left to do.
func expanded(t *testing.T, url string, db *sql.DB, b testdb.Backend, n int) *glance.Manager {
	t.Helper()
	seedMitakaAt(t, url, db, b, n)
	mustCLI(t, url, "db", "expand")
	if got := pendingImages(t, db); got != n {
		t.Fatalf("%d images to migrate after db expand, want %d", got, n)
	}
	mgr, err := glance.New(db, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// TestReplicaLagPausesBatches: with a MariaDB replica that applies each
// change 3 s after the primary (MASTER_DELAY) and a PostgreSQL standby
// whose replay is paused, a data migration with a limit of 1 s waits
// before its next batch while the replica is behind, starts no batch
// meanwhile, reports the replica and its lag, and goes on by itself once
// the replica has caught up (on PostgreSQL, once the test resumes the
// replay), to the end.
func TestReplicaLagPausesBatches(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			r := testdb.NewReplicated(t, b)
			const rows = 400
			mgr := expanded(t, r.URL, r.SQL, b, rows)
			r.WaitCaughtUp(t)
			tl := &timeline{pace: 200 * time.Millisecond}
			const limit = time.Second
			done := make(chan struct{})
			o := migrate.LagOptions{Max: limit, Dialect: mgr.Dialect, Notify: tl.notify, Report: 500 * time.Millisecond}
			var resumed chan struct{}
			if b == testdb.MySQL {
				o.Replicas = []migrate.Replica{{Name: "the replica", DB: r.Replica}}
				r.Delay(t, 3*time.Second)
				replicating(t, r)
			} else {
				o.Primary = r.SQL // the standby, from pg_stat_replication
				r.Pause(t)
				// Resume the replay once the migration has waited for
				// it a while (two reports).
				resumed = make(chan struct{})
				go func() {
					defer close(resumed)
					for {
						tl.mu.Lock()
						agains := 0
						for _, e := range tl.events {
							if e.kind == "again" {
								agains++
							}
						}
						tl.mu.Unlock()
						if agains >= 2 {
							r.Resume(t)
							return
						}
						select {
						case <-done:
							return
						case <-time.After(100 * time.Millisecond):
						}
					}
				}()
			}
			lag, err := migrate.NewLagThrottle(o)
			if err != nil {
				t.Fatal(err)
			}
			n, remaining, err := mgr.Migrator.RunData(context.Background(), -1, migrate.Options{DataBatch: 40, Throttle: migrate.Throttlers(lag, tl)})
			close(done)
			if err != nil || remaining || n != rows {
				t.Fatalf("RunData = %d, %v, %v; want %d rows, done", n, remaining, err, rows)
			}
			if resumed != nil {
				<-resumed
			}
			w := tl.check(t)
			if len(w.Over) == 0 || w.Over[0].Lag <= limit {
				t.Errorf("the first wait names %+v; want a replica more than %s behind", w.Over, limit)
			}
			if b == testdb.PostgreSQL && !strings.Contains(w.Over[0].What, "glance_standby") {
				t.Errorf("the standby is named %q; want its application_name glance_standby", w.Over[0].What)
			}
			if got := pendingImages(t, r.SQL); got != 0 {
				t.Errorf("%d images left to migrate", got)
			}
			t.Logf("waited for %s: %s", w.Over[0].What, w.Over[0].Value)
		})
	}
}

// replicating waits until a MySQL/MariaDB replica restarted by Delay
// reports its lag again (its threads running).
func replicating(t *testing.T, r *testdb.Replicated) {
	t.Helper()
	for {
		_, err := r.Lag(context.Background())
		if err == nil {
			return
		}
		if !errors.Is(err, testdb.ErrLagUnknown) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runEnv is runCLI with more of the environment.
func runEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	home := t.TempDir()
	code = cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "HOME" {
			return home
		}
		return env[k]
	}})
	return out.String(), errb.String(), code
}

// TestReplicaLagCLI: db migrate watches the replica of [database]
// slave_connection (here OS_DATABASE__SLAVE_CONNECTION) and of
// --replica, prints one line per wait naming the replica without its
// password, and finishes; a replica it cannot reach or ask stops it
// before any batch with one line saying what to do, never showing the
// password.
func TestReplicaLagCLI(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.MySQL)
	const rows = 300
	expanded(t, r.URL, r.SQL, testdb.MySQL, rows)
	r.WaitCaughtUp(t)
	env := map[string]string{"OS_DATABASE__CONNECTION": r.URL}

	t.Run("unreachable replica", func(t *testing.T) {
		_, errs, code := runEnv(t, env, "db", "migrate", "--replica", "mysql+pymysql://glance:s3cret-pw@127.0.0.1:1/nothing")
		if code != 1 || !strings.Contains(errs, "cannot read the replication lag of mysql+pymysql://glance:****@127.0.0.1:1/nothing: cannot connect (--replica)") || !strings.Contains(errs, "--max-replica-lag 0") {
			t.Errorf("exit %d:\n%s", code, errs)
		}
		if strings.Contains(errs, "s3cret") {
			t.Errorf("the password is shown:\n%s", errs)
		}
		if got := pendingImages(t, r.SQL); got != rows {
			t.Errorf("%d rows were migrated although the replica could not be reached", rows-got)
		}
	})
	t.Run("replica that refuses to say", func(t *testing.T) {
		// The user glance may read the database on the replica but not
		// its replication status (no SLAVE MONITOR).
		u := strings.Replace(r.ReplicaURL, "root@", testdb.NonSuperUser+":"+testdb.NonSuperPassword+"@", 1)
		env := map[string]string{"OS_DATABASE__CONNECTION": r.URL, "OS_DATABASE__SLAVE_CONNECTION": u}
		_, errs, code := runEnv(t, env, "db", "migrate")
		if code != 1 || !strings.Contains(errs, "cannot read the replication lag of") || !strings.Contains(errs, "slave_connection") {
			t.Errorf("exit %d:\n%s", code, errs)
		}
		if strings.Contains(errs, testdb.NonSuperPassword) {
			t.Errorf("the password is shown:\n%s", errs)
		}
		if got := pendingImages(t, r.SQL); got != rows {
			t.Errorf("%d rows were migrated although the replica could not be watched", rows-got)
		}
	})
	t.Run("delayed replica", func(t *testing.T) {
		r.Delay(t, 3*time.Second)
		replicating(t, r)
		// The replica falls behind before the run starts: a write it
		// applies 3 s late.
		if _, err := r.SQL.Exec("CREATE TABLE lag_mark (x INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		for {
			lag, err := r.Lag(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if lag >= 2*time.Second {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		env := map[string]string{"OS_DATABASE__CONNECTION": r.URL, "OS_DATABASE__SLAVE_CONNECTION": r.ReplicaURL}
		out, errs, code := runEnv(t, env, "db", "migrate", "--max-replica-lag", "1s")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("Migrated %d rows", rows)) {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		want := "waiting for replica " + r.ReplicaURL + ": "
		if !strings.Contains(errs, want) || !strings.Contains(errs, "(limit 1s) since ") {
			t.Errorf("no line %q...(limit 1s) since:\n%s", want, errs)
		}
		for _, l := range strings.Split(errs, "\n") {
			if strings.Contains(l, "replica") {
				t.Log(l)
			}
		}
		if !strings.Contains(errs, "replica lag back under its limit") {
			t.Errorf("no line saying the batches went on:\n%s", errs)
		}
	})
}

// TestMaxLoad: while sessions on the primary sleep in a statement
// (pg_sleep, SLEEP), the server is above a --max-load set just above its
// idle load, and the data migration waits; once they end it finishes.
func TestMaxLoad(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			// The private primary: no other tests' sessions.
			r := testdb.NewReplicated(t, b)
			const rows = 300
			mgr := expanded(t, r.URL, r.SQL, b, rows)
			metric, sleepSQL := "active", "SELECT pg_sleep(3)"
			if b == testdb.MySQL {
				metric, sleepSQL = "Threads_running", "SELECT SLEEP(3)"
			}
			idle, err := loadOf(mgr, r.SQL, metric)
			if err != nil {
				t.Fatal(err)
			}
			const sleepers = 3
			var wg sync.WaitGroup
			started := make(chan struct{}, sleepers)
			for range sleepers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn, err := r.SQL.Conn(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					started <- struct{}{}
					if _, err := conn.ExecContext(context.Background(), sleepSQL); err != nil {
						t.Error(err)
					}
				}()
			}
			for range sleepers {
				<-started
			}
			// Until the sleeps are running.
			for {
				v, err := loadOf(mgr, r.SQL, metric)
				if err != nil {
					t.Fatal(err)
				}
				if v >= idle+sleepers {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			tl := &timeline{pace: 50 * time.Millisecond}
			limit := fmt.Sprintf("%s=%v", metric, idle+1)
			limits, err := migrate.ParseLoad(limit)
			if err != nil {
				t.Fatal(err)
			}
			ld2, err := migrate.NewLoadThrottle(context.Background(), migrate.LoadOptions{Limits: limits, Dialect: mgr.Dialect, DB: r.SQL, Notify: tl.notify})
			if err != nil {
				t.Fatal(err)
			}
			n, remaining, err := mgr.Migrator.RunData(context.Background(), -1, migrate.Options{DataBatch: 100, Throttle: migrate.Throttlers(ld2, tl)})
			wg.Wait()
			if err != nil || remaining || n != rows {
				t.Fatalf("RunData = %d, %v, %v; want %d rows, done", n, remaining, err, rows)
			}
			w := tl.check(t)
			if len(w.Over) != 1 || w.Over[0].What != metric {
				t.Errorf("the wait names %+v; want %s", w.Over, metric)
			}
			t.Logf("idle %s %v; waited at %s (limit %s)", metric, idle, w.Over[0].Value, w.Over[0].Limit)
			if got := pendingImages(t, r.SQL); got != 0 {
				t.Errorf("%d images left to migrate", got)
			}
		})
	}
}

func loadOf(mgr *glance.Manager, db *sql.DB, metric string) (float64, error) {
	return mgr.Dialect.(dialect.Load).LoadMetric(context.Background(), db, metric)
}

// TestPurgeWaitsForReplica: db purge_images_table (as db purge) asks the throttler before its
// batches: with a replica it may not ask for its lag, it stops before
// deleting anything; with a replica 2 s behind and --max-replica-lag 1s,
// it says it waits, then purges every row once the replica caught up.
func TestPurgeWaitsForReplica(t *testing.T) {
	r := testdb.NewReplicated(t, testdb.MySQL)
	mustCLI(t, r.URL, "db", "sync")
	const rows = 50
	for i := range rows {
		if _, err := r.SQL.Exec(`INSERT INTO images (id, name, status, created_at, deleted, deleted_at, min_disk, min_ram, protected, visibility, os_hidden)
			VALUES (?, 'old', 'deleted', '2020-01-01', 1, '2020-01-02', 0, 0, 0, 'private', 0)`, fmt.Sprintf("purge-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		var n int
		if err := r.SQL.QueryRow("SELECT COUNT(*) FROM images").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.WaitCaughtUp(t)
	env := map[string]string{"OS_DATABASE__CONNECTION": r.URL}
	u := strings.Replace(r.ReplicaURL, "root@", testdb.NonSuperUser+":"+testdb.NonSuperPassword+"@", 1)
	_, errs, code := runEnv(t, env, "db", "purge_images_table", "--replica", u)
	if code != 1 || !strings.Contains(errs, "cannot read the replication lag of") || strings.Contains(errs, testdb.NonSuperPassword) {
		t.Errorf("db purge with a replica it cannot ask: exit %d\n%s", code, errs)
	}
	if n := count(); n != rows {
		t.Errorf("%d of %d images left after the refused purge", n, rows)
	}

	r.Delay(t, 3*time.Second)
	replicating(t, r)
	if _, err := r.SQL.Exec("CREATE TABLE lag_mark (x INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for {
		lag, err := r.Lag(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if lag >= 2*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, errs, code = runEnv(t, env, "db", "purge_images_table", "--replica", r.ReplicaURL, "--max-replica-lag", "1s")
	if code != 0 || !strings.Contains(errs, "waiting for replica "+r.ReplicaURL) {
		t.Errorf("db purge with a replica behind: exit %d\n%s", code, errs)
	}
	if n := count(); n != 0 {
		t.Errorf("%d images left after the purge", n)
	}
}
