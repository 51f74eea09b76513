package mysql

import (
	"context"
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
