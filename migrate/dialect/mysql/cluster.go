package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

var _ dialect.TotalOrderCluster = Dialect{}

// TotalOrder implements dialect.TotalOrderCluster: a Galera node (wsrep_on) whose
// session runs schema changes in Total Order Isolation. MySQL has no
// wsrep variables; MariaDB outside a cluster has wsrep_on OFF.
func (Dialect) TotalOrder(ctx context.Context, q dialect.Querier) (bool, error) {
	vars, err := show(ctx, q, "SHOW SESSION VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_OSU_method')")
	if err != nil {
		return false, err
	}
	return strings.EqualFold(vars["wsrep_on"], "ON") && strings.EqualFold(vars["wsrep_osu_method"], "TOI"), nil
}

// TotalOrderStatement implements dialect.TotalOrderCluster: the statements Galera
// replicates by TOI (CREATE, ALTER, DROP, RENAME, TRUNCATE); DML, SET
// and reads are not.
func (Dialect) TotalOrderStatement(stmt string) bool {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
		return true
	}
	return false
}

// SyncReadSQL implements dialect.TotalOrderCluster: wsrep_sync_wait = 1 makes each
// read (SELECT, SHOW, BEGIN) of the session first wait until the node has
// applied what the cluster had committed (a causality check).
func (Dialect) SyncReadSQL() []string { return []string{"SET SESSION wsrep_sync_wait = 1"} }

// UnsyncReadSQL implements dialect.TotalOrderCluster.
func (Dialect) UnsyncReadSQL() []string { return []string{"SET SESSION wsrep_sync_wait = DEFAULT"} }

// NodeState implements dialect.TotalOrderCluster.
func (Dialect) NodeState(ctx context.Context, q dialect.Querier) (string, bool, error) {
	st, err := show(ctx, q, "SHOW GLOBAL STATUS WHERE Variable_name = 'wsrep_local_state_comment'")
	if err != nil {
		return "", false, err
	}
	s := st["wsrep_local_state_comment"]
	return s, strings.EqualFold(s, "Synced"), nil
}

// unknownRowBytes is the row size assumed for a write-set limit in bytes
// when the table's is not known: Glance's widest rows (image_locations'
// TEXT, image_properties' value) stay well below it.
const unknownRowBytes = 64 << 10

// WriteSetRows implements dialect.TotalOrderCluster. A row of a write
// set holds the row's image (before and after, for an update), so the
// byte limit is taken over twice the table's average row length.
func (Dialect) WriteSetRows(ctx context.Context, q dialect.Querier, table string) (int64, error) {
	vars, err := show(ctx, q, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_max_ws_rows', 'wsrep_max_ws_size')")
	if err != nil {
		return 0, err
	}
	rows, _ := strconv.ParseInt(vars["wsrep_max_ws_rows"], 10, 64)
	size, _ := strconv.ParseInt(vars["wsrep_max_ws_size"], 10, 64)
	if size > 0 {
		rowBytes := int64(unknownRowBytes)
		if table != "" {
			var avg sql.NullInt64
			err := q.QueryRowContext(ctx, "SELECT avg_row_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&avg)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, err
			}
			if avg.Valid && avg.Int64 > 0 {
				rowBytes = avg.Int64
			}
		}
		bySize := max(size/(2*rowBytes), 1)
		if rows <= 0 || bySize < rows {
			rows = bySize
		}
	}
	return max(rows, 0), nil
}
