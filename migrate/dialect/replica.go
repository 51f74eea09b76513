package dialect

import (
	"context"
	"errors"
	"time"
)

// ErrNotReplica: the server asked for its replication lag replicates
// from no primary (no replica status, not in recovery).
var ErrNotReplica = errors.New("dialect: the server is not a replica")

// ReplicaLag is implemented by dialects whose servers can say how far a
// replica is behind its primary. The engine's replica-lag throttler
// (migrate.LagThrottle) asks it before batches; each method is one cheap
// read of the server's own status, taking no lock.
//
//   - Lag runs on a connection to a replica and returns how far behind the
//     primary it applies changes. It returns ok false (and no error) when
//     the replica applies nothing and so cannot say (MySQL/MariaDB with a
//     stopped replication thread: Seconds_Behind_Master NULL), and
//     ErrNotReplica when the server is no replica.
//   - Standbys runs on the primary and lists the replicas the primary
//     itself knows of, with their lag, without connecting to them
//     (PostgreSQL's pg_stat_replication); nil where the primary does not
//     know its replicas' lag (MySQL/MariaDB).
type ReplicaLag interface {
	Lag(ctx context.Context, q Querier) (lag time.Duration, ok bool, err error)
	Standbys(ctx context.Context, q Querier) ([]Standby, error)
}

// Standby is one replica as its primary sees it.
type Standby struct {
	// Name says which standby: its application_name and address.
	Name string
	// Lag is how far behind the primary it has replayed (0 when it
	// has replayed all it was sent).
	Lag time.Duration
}

// Load is implemented by dialects whose servers report how busy they are,
// for the load throttler (migrate.LoadThrottle, --max-load):
//
//   - LoadMetric returns the current value of the named metric (a global
//     status variable on MySQL/MariaDB such as Threads_running; on
//     PostgreSQL "active": the client sessions running a statement, the
//     caller's own left out), or an error wrapping ErrUnknownMetric.
//   - DefaultLoadMetric is the metric a bare number (--max-load 25)
//     stands for.
type Load interface {
	LoadMetric(ctx context.Context, q Querier, metric string) (float64, error)
	DefaultLoadMetric() string
}

// ErrUnknownMetric: the server has no load metric of that name.
var ErrUnknownMetric = errors.New("dialect: unknown load metric")
