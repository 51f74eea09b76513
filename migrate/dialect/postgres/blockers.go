package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Who is in an online statement's way (dialect.LockWaits): the sessions
// holding a lock on the table (pg_locks), which is every lock an ALTER
// TABLE's ACCESS EXCLUSIVE waits for, and the sessions that
// pg_blocking_pids names for any session still waiting on the table.

var _ dialect.LockWaits = Dialect{}

// WaitedFor implements dialect.LockWaits.
func (Dialect) WaitedFor(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01":
			return "a deadlock"
		case "40001":
			return "a serialization failure"
		}
	}
	return "a lock"
}

// Blockers implements dialect.LockWaits.
func (Dialect) Blockers(ctx context.Context, q dialect.Querier, table string) ([]dialect.Session, error) {
	rows, err := q.QueryContext(ctx, `WITH holders AS (
			SELECT l.pid FROM pg_locks l WHERE l.relation = to_regclass($1) AND l.granted
			UNION
			SELECT unnest(pg_blocking_pids(l.pid)) FROM pg_locks l WHERE l.relation = to_regclass($1) AND NOT l.granted
		)
		SELECT a.pid, COALESCE(a.usename, ''),
			COALESCE(host(a.client_addr) || ':' || a.client_port, ''), COALESCE(a.datname, ''), COALESCE(a.state, ''),
			a.xact_start IS NOT NULL, COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start), 0),
			COALESCE(left(a.query, 200), '')
		FROM pg_stat_activity a JOIN holders h ON h.pid = a.pid
		WHERE a.pid <> pg_backend_pid()
		ORDER BY a.xact_start NULLS LAST, a.pid`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dialect.Session
	for rows.Next() {
		var s dialect.Session
		var age float64
		if err := rows.Scan(&s.ID, &s.User, &s.Host, &s.Database, &s.State, &s.InTx, &age, &s.Query); err != nil {
			return nil, err
		}
		s.TxAge = time.Duration(age * float64(time.Second)).Round(time.Second)
		s.Holds = true
		s.End = "SELECT pg_terminate_backend(" + strconv.FormatInt(s.ID, 10) + ")"
		out = append(out, s)
	}
	return out, rows.Err()
}
