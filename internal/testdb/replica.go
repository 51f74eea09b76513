package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// ErrLagUnknown is returned by Replicated.Lag when the server reports no
// lag: a MySQL/MariaDB replica whose replication threads are stopped
// (Seconds_Behind_Master NULL), or no standby streaming from a PostgreSQL
// primary, or a standby behind whose replay_lag is not measured yet.
var ErrLagUnknown = errors.New("the server reports no replication lag")

// Replicated is one fresh database on a primary with a replica:
// MySQL/MariaDB (GLANCE_TEST_MYSQL_PRIMARY_URL, an asynchronous replica with
// binary logging on the primary) or PostgreSQL
// (GLANCE_TEST_POSTGRES_PRIMARY_URL, a streaming hot standby). The replica
// copies the database by itself; nothing is written to it.
type Replicated struct {
	// DB is the database on the primary: URL, SQL pool, Name. It is dropped
	// when the test ends (and the drop replicates).
	*DB
	// ReplicaURL is the same database on the replica, an SQLAlchemy-style
	// URL (for slave_connection or --replica).
	ReplicaURL string
	// Replica is a pool on the replica's copy of the database, with the
	// replica's administrative credentials (those of its URL).
	Replica *sql.DB

	primary, replica *server
}

// NewReplicated creates an empty database on backend b's primary (MySQL or
// PostgreSQL), waits until the replica has it, and drops it when t ends. It
// skips t (fails it under CI=true) when the pair's variables are unset, and
// holds the pair for t: lag made by one test does not reach another
// package's.
func NewReplicated(t testing.TB, b Backend) *Replicated {
	t.Helper()
	var penv, renv, praw, rraw string
	switch b {
	case MySQL:
		penv, renv = EnvMySQLPrimary, EnvMySQLReplica
		praw, rraw = MySQLPrimaryURL(t), MySQLReplicaURL(t)
	case PostgreSQL:
		penv, renv = EnvPostgresPrimary, EnvPostgresStandby
		praw, rraw = PostgresPrimaryURL(t), PostgresStandbyURL(t)
	default:
		t.Fatalf("testdb: no replica for backend %q", string(b))
	}
	ps, err := parseServerURL(b, penv, praw)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	rs, err := parseServerURL(b, renv, rraw)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := ps.create(ctx)
	if err != nil {
		t.Fatalf("testdb: primary: %v", err)
	}
	r := &Replicated{DB: db, ReplicaURL: rs.sqlalchemyURL(db.Name), primary: ps, replica: rs}
	t.Cleanup(func() {
		if r.Replica != nil {
			r.Replica.Close()
		}
		if keep() {
			db.SQL.Close()
			t.Logf("testdb: %s=1, keeping %s database %s on the primary", EnvKeep, b, db.Name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.Destroy(ctx); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	if err := r.CaughtUp(ctx); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if r.Replica, err = openOnceThere(ctx, rs, db.Name, nil); err != nil {
		t.Fatalf("testdb: replica: %v", err)
	}
	return r
}

// URLAs returns the database's URL on the primary with other credentials,
// e.g. URLAs(NonSuperUser, NonSuperPassword).
func (r *Replicated) URLAs(user, password string) string {
	s := *r.primary
	s.user = url.UserPassword(user, password)
	return s.sqlalchemyURL(r.Name)
}

// CaughtUp waits until the replica has applied everything the primary had
// committed when it was called: MASTER_GTID_WAIT on the primary's
// gtid_binlog_pos (MySQL/MariaDB), or the standby's replay position
// reaching the primary's current WAL position (PostgreSQL). It fails when
// ctx ends first (by default after a minute).
func (r *Replicated) CaughtUp(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	padmin, err := r.primary.open("")
	if err != nil {
		return err
	}
	defer padmin.Close()
	radmin, err := r.replica.open("")
	if err != nil {
		return err
	}
	defer radmin.Close()
	if r.Backend == MySQL {
		var pos string
		if err := padmin.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			return fmt.Errorf("primary: %w", err)
		}
		for {
			// Waits of a second at a time, so that ctx is honoured.
			var res int
			if err := radmin.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 1)", pos).Scan(&res); err != nil {
				return fmt.Errorf("replica: %w", err)
			}
			if res == 0 {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("the replica did not reach the primary's GTID position %s: %w", pos, ctx.Err())
			}
		}
	}
	var lsn string
	if err := padmin.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("primary: %w", err)
	}
	for {
		var done bool
		if err := radmin.QueryRowContext(ctx, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", lsn).Scan(&done); err != nil {
			return fmt.Errorf("standby: %w", err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the standby did not replay up to the primary's WAL position %s: %w", lsn, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitCaughtUp is CaughtUp for a test: it fails t if the replica does not
// catch up within a minute.
func (r *Replicated) WaitCaughtUp(t testing.TB) {
	t.Helper()
	if err := r.CaughtUp(context.Background()); err != nil {
		t.Fatalf("testdb: %v", err)
	}
}

// Delay makes the replica apply each change d after the primary made it
// (MASTER_DELAY on MySQL/MariaDB, whole seconds; recovery_min_apply_delay on
// PostgreSQL), or with d = 0 undoes that. A delay left in place is undone
// when t ends. The replica's lag then grows while the primary writes: see
// Lag.
func (r *Replicated) Delay(t testing.TB, d time.Duration) {
	t.Helper()
	if err := r.setDelay(d); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if d != 0 {
		t.Cleanup(func() {
			if err := r.setDelay(0); err != nil {
				t.Errorf("testdb: undoing the replica's delay: %v", err)
			}
		})
	}
}

func (r *Replicated) setDelay(d time.Duration) error {
	admin, err := r.replica.open("")
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stmts []string
	if r.Backend == MySQL {
		secs := int((d + time.Second - 1) / time.Second)
		stmts = []string{"STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = " + strconv.Itoa(secs), "START SLAVE"}
	} else if d == 0 {
		stmts = []string{"ALTER SYSTEM RESET recovery_min_apply_delay", "SELECT pg_reload_conf()"}
	} else {
		stmts = []string{fmt.Sprintf("ALTER SYSTEM SET recovery_min_apply_delay = '%dms'", d.Milliseconds()), "SELECT pg_reload_conf()"}
	}
	for _, q := range stmts {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("replica: %s: %w", q, err)
		}
	}
	return nil
}

// Pause stops the replica applying changes (it still receives them):
// STOP SLAVE SQL_THREAD on MySQL/MariaDB, where Seconds_Behind_Master is
// then NULL (Lag returns ErrLagUnknown), and pg_wal_replay_pause() on
// PostgreSQL, where replay_lag grows while the primary writes. Resume
// undoes it, as does the end of t.
func (r *Replicated) Pause(t testing.TB) {
	t.Helper()
	if err := r.pause(true); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := r.pause(false); err != nil {
			t.Errorf("testdb: resuming the replica: %v", err)
		}
	})
}

// Resume makes a paused replica apply changes again.
func (r *Replicated) Resume(t testing.TB) {
	t.Helper()
	if err := r.pause(false); err != nil {
		t.Fatalf("testdb: %v", err)
	}
}

func (r *Replicated) pause(on bool) error {
	admin, err := r.replica.open("")
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := map[Backend]map[bool]string{
		MySQL:      {true: "STOP SLAVE SQL_THREAD", false: "START SLAVE SQL_THREAD"},
		PostgreSQL: {true: "SELECT pg_wal_replay_pause()", false: "SELECT pg_wal_replay_resume()"},
	}[r.Backend][on]
	if _, err := admin.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("replica: %s: %w", q, err)
	}
	return nil
}

// Lag returns the replica's lag as the servers report it: the replica's
// Seconds_Behind_Master (MySQL/MariaDB; 0 when the primary is idle, even
// with a delay), or the largest replay_lag in the primary's
// pg_stat_replication (PostgreSQL; 0 when every standby has replayed all
// that was sent). ErrLagUnknown when the server gives no figure.
func (r *Replicated) Lag(ctx context.Context) (time.Duration, error) {
	if r.Backend == MySQL {
		admin, err := r.replica.open("")
		if err != nil {
			return 0, err
		}
		defer admin.Close()
		st, err := SlaveStatus(ctx, admin)
		if err != nil {
			return 0, err
		}
		v, ok := st["Seconds_Behind_Master"]
		if !ok {
			return 0, ErrLagUnknown
		}
		secs, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("Seconds_Behind_Master %q: %w", v, err)
		}
		return time.Duration(secs) * time.Second, nil
	}
	admin, err := r.primary.open("")
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	var lagSecs sql.NullFloat64
	var streaming, caughtUp int
	err = admin.QueryRowContext(ctx, `SELECT max(extract(epoch FROM replay_lag))::float8, count(*),
		count(*) FILTER (WHERE replay_lsn = sent_lsn) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&lagSecs, &streaming, &caughtUp)
	switch {
	case err != nil:
		return 0, err
	case streaming == 0:
		return 0, ErrLagUnknown
	case lagSecs.Valid:
		return time.Duration(lagSecs.Float64 * float64(time.Second)), nil
	case caughtUp == streaming:
		return 0, nil
	}
	return 0, ErrLagUnknown
}

// SlaveStatus returns the row of SHOW SLAVE STATUS on a MySQL/MariaDB
// replica, by column name; NULL columns are absent. An error when the
// server is no replica.
func SlaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("SHOW SLAVE STATUS: no row (not a replica)")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	st := map[string]string{}
	for i, c := range cols {
		if vals[i].Valid {
			st[c] = vals[i].String
		}
	}
	return st, rows.Err()
}
