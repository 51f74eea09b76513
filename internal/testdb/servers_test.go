package testdb

// Smoke tests of the private servers started by tools/galera/cluster.sh and
// tools/replica/*.sh: each works as the suites that use it rely on.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestServerVariablesGating(t *testing.T) {
	accessors := map[string]func(testing.TB){
		EnvGaleraURLs:      func(tb testing.TB) { GaleraURLs(tb) },
		EnvGaleraProxy:     func(tb testing.TB) { GaleraProxyURL(tb) },
		EnvGaleraDir:       func(tb testing.TB) { GaleraDir(tb) },
		EnvMySQLPrimary:    func(tb testing.TB) { MySQLPrimaryURL(tb) },
		EnvMySQLReplica:    func(tb testing.TB) { MySQLReplicaURL(tb) },
		EnvPostgresPrimary: func(tb testing.TB) { PostgresPrimaryURL(tb) },
		EnvPostgresStandby: func(tb testing.TB) { PostgresStandbyURL(tb) },
	}
	for name := range accessors {
		t.Setenv(name, "")
	}
	for name, get := range accessors {
		t.Setenv(EnvCI, "")
		f := runFake(t, get)
		if !strings.Contains(f.skipped, "set "+name+" (") || f.failed != "" {
			t.Errorf("%s unset: skipped %q, failed %q; want a skip naming it", name, f.skipped, f.failed)
		}
		t.Setenv(EnvCI, "true")
		f = runFake(t, get)
		if f.skipped != "" || !strings.Contains(f.failed, name) || !strings.Contains(f.failed, "CI=true") {
			t.Errorf("%s unset, CI=true: skipped %q, failed %q; want a failure", name, f.skipped, f.failed)
		}
	}
	t.Setenv(EnvCI, "")
	t.Setenv(EnvGaleraURLs, "mysql+pymysql://root@127.0.0.1:3311/test")
	if f := runFake(t, accessors[EnvGaleraURLs]); !strings.Contains(f.failed, "at least 2") {
		t.Errorf("one node accepted as a cluster: failed %q", f.failed)
	}
}

func TestGaleraClusterReplicates(t *testing.T) {
	g := NewGalera(t)
	ctx := context.Background()
	for i, db := range g.SQL {
		var state, size string
		if err := db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT'").Scan(&state); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'").Scan(&size); err != nil {
			t.Fatal(err)
		}
		if state != "Synced" || size != fmt.Sprint(len(g.SQL)) {
			t.Errorf("node %d: %s in a cluster of %s; want Synced in a cluster of %d", i+1, state, size, len(g.SQL))
		}
		if n, err := g.NodeOf(ctx, db); err != nil || n != i+1 {
			t.Errorf("node %d: NodeOf = %d, %v", i+1, n, err)
		}
	}
	if _, err := g.SQL[0].ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SQL[0].ExecContext(ctx, "INSERT INTO t VALUES (1, 'node1')"); err != nil {
		t.Fatal(err)
	}
	last := len(g.SQL)
	var v string
	if err := g.SQL[last-1].QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "node1" {
		t.Fatalf("node %d reads %q, %v; want the row node 1 wrote", last, v, err)
	}
}

// TestGaleraProxyFailover: HAProxy sends connections to node 1, to a backup
// once node 1 is killed, and to node 1 again once it has rejoined.
func TestGaleraProxyFailover(t *testing.T) {
	g := NewGalera(t)
	GaleraProxyURL(t)
	ctx := context.Background()
	if n, err := g.ProxyNode(ctx); err != nil || n != 1 {
		t.Fatalf("through HAProxy: node %d, %v; want node 1", n, err)
	}
	if _, err := g.SQL[0].ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	GaleraKill(t, 1)
	start := time.Now()
	n, err := waitProxyNode(ctx, g, func(n int) bool { return n != 1 })
	if err != nil || n != 2 {
		t.Fatalf("after killing node 1, through HAProxy: node %d, %v; want node 2", n, err)
	}
	t.Logf("HAProxy moved to node 2 %s after the kill", time.Since(start).Round(100*time.Millisecond))
	p := g.OpenProxy(t)
	if _, err := p.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("writing through HAProxy on node 2: %v", err)
	}
	if out, ok := GaleraStatus(t); ok || !strings.Contains(out, "node1 127.0.0.1:") || !strings.Contains(out, " down") {
		t.Errorf("status with node 1 killed (ok=%v):\n%s", ok, out)
	}

	start = time.Now()
	GaleraRestart(t, 1)
	t.Logf("node 1 rejoined in %s", time.Since(start).Round(100*time.Millisecond))
	if out, ok := GaleraStatus(t); !ok {
		t.Fatalf("after restarting node 1, not every node is Synced:\n%s", out)
	}
	var c int
	if err := g.SQL[0].QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&c); err != nil || c != 1 {
		t.Fatalf("node 1 after rejoining: %d rows, %v; want the row written while it was down", c, err)
	}
	if n, err := waitProxyNode(ctx, g, func(n int) bool { return n == 1 }); err != nil || n != 1 {
		t.Fatalf("after node 1 rejoined, through HAProxy: node %d, %v; want node 1", n, err)
	}
}

// waitProxyNode polls new connections through HAProxy until one lands on a
// node that ok accepts (failed connections are retried), for a minute.
func waitProxyNode(ctx context.Context, g *Galera, ok func(int) bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		n, err := g.ProxyNode(ctx)
		if err == nil && ok(n) {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, errors.Join(err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestMySQLReplicaReplicatesAndLags(t *testing.T) {
	r := NewReplicated(t, MySQL)
	ctx := context.Background()
	mustExec(t, r.SQL, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, r.SQL, "INSERT INTO t VALUES (1)")
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 1 {
		t.Fatalf("replica: %d rows, want 1", c)
	}
	if lag, err := r.Lag(ctx); err != nil || lag != 0 {
		t.Fatalf("caught-up replica: lag %s, %v; want 0", lag, err)
	}

	r.Delay(t, 30*time.Second)
	mustExec(t, r.SQL, "INSERT INTO t VALUES (2)")
	lag, err := waitLag(ctx, r, func(d time.Duration) bool { return d > 0 })
	if err != nil {
		t.Fatalf("with MASTER_DELAY=30 and a write, lag %s: %v; want > 0", lag, err)
	}
	if c := count(t, r.Replica, "t"); c != 1 {
		t.Fatalf("delayed replica: %d rows, want still 1", c)
	}
	r.Delay(t, 0)
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 2 {
		t.Fatalf("replica after the delay was undone: %d rows, want 2", c)
	}
	if lag, err := r.Lag(ctx); err != nil || lag != 0 {
		t.Fatalf("after the delay was undone: lag %s, %v; want 0", lag, err)
	}

	r.Pause(t)
	if _, err := r.Lag(ctx); !errors.Is(err, ErrLagUnknown) {
		t.Fatalf("with the SQL thread stopped: Lag err = %v; want ErrLagUnknown", err)
	}
	mustExec(t, r.SQL, "INSERT INTO t VALUES (3)")
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.CaughtUp(short); err == nil {
		t.Fatal("a paused replica caught up")
	}
	r.Resume(t)
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 3 {
		t.Fatalf("replica after Resume: %d rows, want 3", c)
	}
}

// TestMySQLPrimaryRefusesTriggerWithoutSuper: with binary logging on and
// log_bin_trust_function_creators off, a user without SUPER cannot create
// a trigger (error 1419), and root can.
func TestMySQLPrimaryRefusesTriggerWithoutSuper(t *testing.T) {
	r := NewReplicated(t, MySQL)
	var logBin, trust int
	if err := r.SQL.QueryRow("SELECT @@log_bin, @@log_bin_trust_function_creators").Scan(&logBin, &trust); err != nil {
		t.Fatal(err)
	}
	if logBin != 1 || trust != 0 {
		t.Fatalf("primary: log_bin=%d log_bin_trust_function_creators=%d; want 1, 0", logBin, trust)
	}
	s, err := parseServerURL(MySQL, "URLAs", r.URLAs(NonSuperUser, NonSuperPassword))
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.open(r.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	mustExec(t, user, "CREATE TABLE t (id INT PRIMARY KEY, n INT)")
	_, err = user.Exec("CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 1")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1419 {
		t.Fatalf("CREATE TRIGGER as %s: %v; want error 1419", NonSuperUser, err)
	}
	mustExec(t, r.SQL, "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 1")
}

func TestPostgresStandbyReplaysAndLags(t *testing.T) {
	r := NewReplicated(t, PostgreSQL)
	ctx := context.Background()
	mustExec(t, r.SQL, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExec(t, r.SQL, "INSERT INTO t VALUES (1)")
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 1 {
		t.Fatalf("standby: %d rows, want 1", c)
	}

	r.Pause(t)
	var lags []time.Duration
	for i := 2; i <= 4; i++ {
		mustExec(t, r.SQL, fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
		time.Sleep(1500 * time.Millisecond)
		lag, err := r.Lag(ctx)
		if err != nil {
			t.Fatalf("paused standby: %v", err)
		}
		lags = append(lags, lag)
	}
	if !(lags[0] > 0 && lags[1] > lags[0] && lags[2] > lags[1]) {
		t.Fatalf("replay_lag while replay is paused: %v; want growing", lags)
	}
	var ahead bool
	if err := r.Replica.QueryRow("SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()").Scan(&ahead); err != nil || !ahead {
		t.Fatalf("paused standby: received WAL ahead of replayed = %v, %v", ahead, err)
	}
	if c := count(t, r.Replica, "t"); c != 1 {
		t.Fatalf("paused standby: %d rows, want still 1", c)
	}
	r.Resume(t)
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 4 {
		t.Fatalf("standby after resume: %d rows, want 4", c)
	}
	if lag, err := waitLag(ctx, r, func(d time.Duration) bool { return d == 0 }); err != nil {
		t.Fatalf("after resume, replay_lag %s: %v; want 0 once caught up", lag, err)
	}

	r.Delay(t, 30*time.Second)
	mustExec(t, r.SQL, "INSERT INTO t VALUES (5)")
	// The primary's replay_lag comes from the standby's replies about what
	// it replayed: a delayed standby replays (and says so) only after the
	// delay, so the lag is read where it shows at once, on the standby:
	// the time since its last replayed commit while received WAL waits.
	if lag, err := waitStandbyLag(ctx, r, time.Second); err != nil {
		t.Fatalf("with recovery_min_apply_delay=30s and a write, the standby's lag %s: %v; want > 1s", lag, err)
	}
	if c := count(t, r.Replica, "t"); c != 4 {
		t.Fatalf("delayed standby: %d rows, want still 4", c)
	}
	r.Delay(t, 0)
	r.WaitCaughtUp(t)
	if c := count(t, r.Replica, "t"); c != 5 {
		t.Fatalf("standby after the delay was undone: %d rows, want 5", c)
	}
}

// waitStandbyLag polls, on r's standby, the time since its last replayed
// commit while it has received WAL it has not replayed, until it is over
// min (for 30 s).
func waitStandbyLag(ctx context.Context, r *Replicated, min time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var secs sql.NullFloat64
		err := r.Replica.QueryRowContext(ctx, `SELECT CASE WHEN pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
			THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END`).Scan(&secs)
		lag := time.Duration(secs.Float64 * float64(time.Second))
		if err == nil && secs.Valid && lag > min {
			return lag, nil
		}
		select {
		case <-ctx.Done():
			return lag, errors.Join(err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitLag polls r.Lag until ok accepts it, for 30 s.
func waitLag(ctx context.Context, r *Replicated, ok func(time.Duration) bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		lag, err := r.Lag(ctx)
		if err == nil && ok(lag) {
			return lag, nil
		}
		select {
		case <-ctx.Done():
			return lag, errors.Join(err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
