package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var (
	_ dialect.ReplicaLag = Dialect{}
	_ dialect.Load       = Dialect{}
)

// Lag implements dialect.ReplicaLag: Seconds_Behind_Master (MariaDB) or
// Seconds_Behind_Source (MySQL 8) of the replica's status, whole seconds.
// SHOW REPLICA STATUS is tried first (MySQL 8.0.22+, MariaDB 10.5+), then
// SHOW SLAVE STATUS. The user needs SLAVE MONITOR (MariaDB) or
// REPLICATION CLIENT (MySQL).
func (Dialect) Lag(ctx context.Context, q dialect.Querier) (time.Duration, bool, error) {
	st, err := replicaStatus(ctx, q, "SHOW REPLICA STATUS")
	if err != nil && syntaxError(err) {
		st, err = replicaStatus(ctx, q, "SHOW SLAVE STATUS")
	}
	if err != nil {
		return 0, false, err
	}
	if st == nil {
		return 0, false, dialect.ErrNotReplica
	}
	for _, col := range []string{"Seconds_Behind_Master", "Seconds_Behind_Source"} {
		v, present := st[col]
		if !present {
			continue
		}
		if !v.Valid {
			return 0, false, nil // replication threads stopped
		}
		secs, err := strconv.ParseInt(v.String, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("mysql: %s %q: %w", col, v.String, err)
		}
		return time.Duration(secs) * time.Second, true, nil
	}
	return 0, false, errors.New("mysql: the replica status has no Seconds_Behind_Master column")
}

// Standbys implements dialect.ReplicaLag: a MySQL/MariaDB primary does
// not know its replicas' lag.
func (Dialect) Standbys(context.Context, dialect.Querier) ([]dialect.Standby, error) { return nil, nil }

// syntaxError: the server does not know the statement (an older MySQL or
// MariaDB without SHOW REPLICA STATUS).
func syntaxError(err error) bool {
	return number(err) == 1064 // ER_PARSE_ERROR
}

// replicaStatus returns the row of stmt by column name, or nil when
// there is none (not a replica).
func replicaStatus(ctx context.Context, q dialect.Querier, stmt string) (map[string]sql.NullString, error) {
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	st := make(map[string]sql.NullString, len(cols))
	for i, c := range cols {
		st[c] = vals[i]
	}
	return st, rows.Err()
}

// DefaultLoadMetric implements dialect.Load.
func (Dialect) DefaultLoadMetric() string { return "Threads_running" }

// LoadMetric implements dialect.Load: a global status variable, read
// from information_schema.GLOBAL_STATUS (Threads_running counts this
// session's own statement too, as gh-ost's does).
func (Dialect) LoadMetric(ctx context.Context, q dialect.Querier, metric string) (float64, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", strings.ToUpper(metric)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: no global status variable %s", dialect.ErrUnknownMetric, metric)
	}
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: status variable %s is not a number (%q)", dialect.ErrUnknownMetric, metric, v)
	}
	return f, nil
}
