package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var (
	_ dialect.ReplicaLag = Dialect{}
	_ dialect.Load       = Dialect{}
)

// Lag implements dialect.ReplicaLag on a standby: 0 when it has replayed
// all the WAL it received, otherwise the time since the last transaction
// it replayed was committed on the primary. A standby whose replay is
// paused still reports a figure (it grows), so ok is always true.
func (Dialect) Lag(ctx context.Context, q dialect.Querier) (time.Duration, bool, error) {
	var recovery bool
	var secs sql.NullFloat64
	err := q.QueryRowContext(ctx, `SELECT pg_is_in_recovery(),
		CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
		THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 ELSE 0 END`).Scan(&recovery, &secs)
	if err != nil {
		return 0, false, err
	}
	if !recovery {
		return 0, false, dialect.ErrNotReplica
	}
	if !secs.Valid {
		return 0, true, nil // nothing replayed yet since it started
	}
	return time.Duration(max(secs.Float64, 0) * float64(time.Second)), true, nil
}

// Standbys implements dialect.ReplicaLag: the standbys streaming from
// the primary (pg_stat_replication, which needs pg_monitor or the
// superuser for the lag columns of other users' standbys) and their
// replay_lag. replay_lag is NULL once a standby has replayed all it was
// sent while the primary is idle: that is no lag.
func (Dialect) Standbys(ctx context.Context, q dialect.Querier) ([]dialect.Standby, error) {
	rows, err := q.QueryContext(ctx, `SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'),
		coalesce(extract(epoch FROM replay_lag)::float8, 0), coalesce(replay_lsn < sent_lsn, true)
		FROM pg_stat_replication WHERE state IN ('streaming', 'catchup') ORDER BY pid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dialect.Standby
	for rows.Next() {
		var app, addr string
		var secs float64
		var behind bool
		if err := rows.Scan(&app, &addr, &secs, &behind); err != nil {
			return nil, err
		}
		name := "standby " + addr
		if app != "" {
			name = fmt.Sprintf("standby %s (%s)", app, addr)
		}
		lag := time.Duration(secs * float64(time.Second))
		if !behind {
			lag = 0
		}
		out = append(out, dialect.Standby{Name: name, Lag: lag})
	}
	return out, rows.Err()
}

// DefaultLoadMetric implements dialect.Load.
func (Dialect) DefaultLoadMetric() string { return "active" }

// LoadMetric implements dialect.Load: "active" counts the client
// sessions of the whole server running a statement (pg_stat_activity,
// this session left out).
func (Dialect) LoadMetric(ctx context.Context, q dialect.Querier, metric string) (float64, error) {
	if !strings.EqualFold(metric, "active") {
		return 0, fmt.Errorf("%w: %q (PostgreSQL knows \"active\": sessions running a statement)", dialect.ErrUnknownMetric, metric)
	}
	var n float64
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
	return n, err
}
