package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// ErrNodeNotSynced: the run's node of a Galera cluster is not synced
// with the cluster (a donor of a state transfer, joining, joined but
// catching up): no phase runs there.
var ErrNodeNotSynced = errors.New("migrate: the cluster node is not synced")

// NodeNotSyncedError names the node's state; it unwraps to
// ErrNodeNotSynced.
type NodeNotSyncedError struct {
	State string // wsrep_local_state_comment: "Donor/Desynced", "Joining", ...
}

func (e *NodeNotSyncedError) Error() string {
	return fmt.Sprintf("migrate: the cluster node is %s, not Synced", e.State)
}

func (e *NodeNotSyncedError) Unwrap() error { return ErrNodeNotSynced }

// cluster reports whether q's server is a node of a cluster that runs
// DDL in total order (dialect.TotalOrderCluster), and refuses a node that
// is not synced with it.
func (m *Migrator) cluster(ctx context.Context, q dialect.Querier) (bool, error) {
	cl, ok := m.Dialect.(dialect.TotalOrderCluster)
	if !ok {
		return false, nil
	}
	toi, err := cl.TotalOrder(ctx, q)
	if err != nil || !toi {
		return false, err
	}
	state, synced, err := cl.NodeState(ctx, q)
	if err != nil {
		return true, err
	}
	if !synced {
		return true, &NodeNotSyncedError{State: state}
	}
	return true, nil
}

// DefaultClusterBatchTarget is the batch target (Options.DataBatchTarget)
// on a cluster that runs DDL in total order, unless set: every other node
// applies a batch's write set after it commits, in order, while the
// services' write sets queue behind it; a node whose queue passes
// gcs.fc_limit (16 by default) pauses the whole cluster.
const DefaultClusterBatchTarget = 20 * time.Millisecond

// clusterBatches returns, for batches on table, the most rows one batch
// may change on a cluster that limits its write sets
// (dialect.TotalOrderCluster), less the lease row a batch renews and one
// of margin (0 when nothing limits it), and the batch target: o's, or on
// such a cluster DefaultClusterBatchTarget.
func (m *Migrator) clusterBatches(ctx context.Context, q dialect.Querier, table string, o Options) (int, time.Duration, error) {
	target := o.DataBatchTarget
	if target <= 0 {
		target = DefaultDataBatchTarget
	}
	cl, ok := m.Dialect.(dialect.TotalOrderCluster)
	if !ok {
		return 0, target, nil
	}
	toi, err := cl.TotalOrder(ctx, q)
	if err != nil || !toi {
		return 0, target, err
	}
	if o.DataBatchTarget <= 0 {
		target = DefaultClusterBatchTarget
	}
	n, err := cl.WriteSetRows(ctx, q, table)
	if err != nil || n <= 0 {
		return 0, target, err
	}
	return int(max(n-2, 1)), target, nil
}

// capBatch returns n within cap (cap 0: no cap).
func capBatch(n, cap int) int {
	if cap > 0 && n > cap {
		return cap
	}
	return n
}
