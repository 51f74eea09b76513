package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Replica lag. A LagThrottle holds the batches (of data migrations,
// shadow copies and purges) back while any watched replica is more than
// Max behind its primary: the batches write as fast as the primary
// allows, and an asynchronous replica that applies them one at a time can
// otherwise fall minutes behind.

// DefaultMaxReplicaLag is the lag beyond which the batches wait by
// default: well above what a healthy replica shows under the batches'
// load (a second or two; Seconds_Behind_Master counts whole seconds) and
// well below what reads from a replica (oslo.db's slave_connection) can
// bear.
const DefaultMaxReplicaLag = 10 * time.Second

// DefaultThrottleReport is how often a throttler that holds the batches
// back says so again.
const DefaultThrottleReport = 10 * time.Second

// ErrReplicaUnreachable: a watched replica could not be asked for its lag
// (it is down, refuses the credentials, or is no replica). The run stops:
// it must not write on while it cannot see the replica.
var ErrReplicaUnreachable = errors.New("migrate: cannot read a replica's lag")

// ReplicaError names the replica whose lag could not be read.
type ReplicaError struct {
	Replica string // its URL without the password
	Err     error
}

func (e *ReplicaError) Error() string {
	return fmt.Sprintf("migrate: cannot read the replication lag of %s: %v", e.Replica, e.Err)
}

// Unwrap returns ErrReplicaUnreachable and the cause.
func (e *ReplicaError) Unwrap() []error { return []error{ErrReplicaUnreachable, e.Err} }

// Replica is one replica to watch: a connection to it and how to name it.
type Replica struct {
	// Name is its URL without the password (dburl.URL.Redacted).
	Name string
	DB   dialect.Querier
	// Open, when DB is nil, connects to the replica the first time its
	// lag is needed (before the first batch), so that a run with no
	// batches never needs it. Its error is a *ReplicaError of Wait.
	Open func(ctx context.Context) (dialect.Querier, error)
}

// LagOptions configure NewLagThrottle.
type LagOptions struct {
	// Max is the most a replica may be behind; it must be positive.
	Max time.Duration
	// Dialect is the backend's; it must implement dialect.ReplicaLag.
	Dialect dialect.Dialect
	// Primary, when set, is asked for the standbys it knows of
	// (PostgreSQL's pg_stat_replication), each watched too.
	Primary dialect.Querier
	// Replicas are asked for their own lag.
	Replicas []Replica
	// Report is how often a wait is reported again (0:
	// DefaultThrottleReport); Notify receives the reports.
	Report time.Duration
	Notify func(ThrottleWait)
}

// NewLagThrottle returns a Throttler whose Wait returns once no watched
// replica is more than o.Max behind. The replicas are asked at most once
// per quarter of Max (and at least once a second while a batch waits), so
// that a batch starts with the lag at most a quarter of Max older than
// it. A replica that cannot be asked ends Wait with a *ReplicaError; a
// MySQL/MariaDB replica whose replication is stopped (it cannot say how
// far behind it is) counts as over the limit, and the batches wait for it.
func NewLagThrottle(o LagOptions) (Throttler, error) {
	rl, ok := o.Dialect.(dialect.ReplicaLag)
	switch {
	case o.Max <= 0:
		return nil, errors.New("migrate: the maximum replica lag must be positive")
	case !ok:
		return nil, fmt.Errorf("migrate: the %s backend has no replicas to watch", o.Dialect.Name())
	}
	limit := o.Max.String()
	replicas := append([]Replica(nil), o.Replicas...) // the gate's lock guards their DB
	check := func(ctx context.Context) ([]Over, error) {
		var over []Over
		if o.Primary != nil {
			standbys, err := rl.Standbys(ctx, o.Primary)
			if err != nil {
				return nil, &ReplicaError{Replica: "the primary's standbys", Err: err}
			}
			for _, s := range standbys {
				if s.Lag > o.Max {
					over = append(over, Over{What: s.Name, Value: round(s.Lag) + " behind", Limit: limit, Lag: s.Lag})
				}
			}
		}
		for i := range replicas {
			r := &replicas[i]
			if r.DB == nil {
				q, err := r.Open(ctx)
				if err != nil {
					return nil, &ReplicaError{Replica: r.Name, Err: err}
				}
				r.DB = q
			}
			lag, known, err := rl.Lag(ctx, r.DB)
			switch {
			case err != nil:
				return nil, &ReplicaError{Replica: r.Name, Err: err}
			case !known:
				over = append(over, Over{What: r.Name, Value: "replication stopped (no lag reported)", Limit: limit})
			case lag > o.Max:
				over = append(over, Over{What: r.Name, Value: round(lag) + " behind", Limit: limit, Lag: lag})
			}
		}
		return over, nil
	}
	return newGate("replica lag", check, min(max(o.Max/4, 10*time.Millisecond), time.Second), o.Report, o.Notify), nil
}

func newGate(kind string, check func(context.Context) ([]Over, error), cache, report time.Duration, notify func(ThrottleWait)) *gate {
	if report <= 0 {
		report = DefaultThrottleReport
	}
	return &gate{kind: kind, check: check, cache: cache, report: report, notify: notify, now: time.Now}
}

func round(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
