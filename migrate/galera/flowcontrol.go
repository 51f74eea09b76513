// Package galera paces the batches of a run on a MariaDB Galera cluster
// by the cluster's flow control (see FlowControl).
package galera

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/migrate"
)

var _ migrate.Throttler = (*FlowControl)(nil)

// Defaults of FlowControl.
const (
	// DefaultMaxQueue is the receive queue a node may have before the
	// next batch waits: a quarter of Galera's default gcs.fc_limit (16),
	// where the node would pause the whole cluster.
	DefaultMaxQueue = 4
	// DefaultPoll is how often the nodes are read while a batch waits.
	DefaultPoll = 50 * time.Millisecond
	// DefaultMaxWait bounds one wait: a cluster paused this long by
	// other work is reported as an error, not waited for forever.
	DefaultMaxWait = 10 * time.Minute
)

// ErrPausedTooLong: the cluster kept pausing (or a node's queue stayed
// long) for FlowControl.MaxWait.
var ErrPausedTooLong = errors.New("galera: the cluster stayed paused by flow control")

// FlowControl is a migrate.Throttler for a Galera cluster: before each
// batch it reads, on every node it was given, the time flow control has
// paused replication (wsrep_flow_control_paused_ns), the node's receive
// queue (wsrep_local_recv_queue) and the last write set it applied
// (wsrep_last_committed). While the pause time grows between two reads
// (a node asked the cluster to stop: writers on every node are held), a
// queue is longer than MaxQueue (a node is about to ask), or a node has
// not yet applied what the connected node had committed when the wait
// began (the previous batch included), the batch waits, reading again
// every Poll; it starts once a read finds none of these. Batches thus
// never pile up on a node that applies them slower than they commit, and
// never add to a queue that is about to stop the cluster's writers.
//
// Nodes[0] is the node the run writes to: an error reading it ends the
// run. The other nodes are read while they answer; one that does not
// (down, restarting) is left out until it does again. Done counts the
// batches that failed certification (a deadlock error at commit, which
// the engine retries). It is safe for concurrent use.
type FlowControl struct {
	Nodes    []*sql.DB
	MaxQueue int64         // 0: DefaultMaxQueue
	Poll     time.Duration // 0: DefaultPoll
	MaxWait  time.Duration // 0: DefaultMaxWait
	// Waited, when set, is told of each wait that ended: how long, and
	// why it began.
	Waited func(d time.Duration, why string)

	mu    sync.Mutex
	last  map[int]int64 // wsrep_flow_control_paused_ns per node, last read
	stats Stats
}

// Stats are what a FlowControl saw.
type Stats struct {
	Waits        int           // batches that waited
	Waited       time.Duration // in all
	CertFailures int           // batches that failed certification (deadlock at commit)
	Batches      int
}

// Stats returns the counts so far.
func (f *FlowControl) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Wait implements migrate.Throttler.
func (f *FlowControl) Wait(ctx context.Context) error {
	poll, maxWait := f.Poll, f.MaxWait
	if poll <= 0 {
		poll = DefaultPoll
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	start := time.Now()
	why := ""
	// The cluster's writes up to now, the last batch's included: the
	// next batch waits until every reachable node has applied them, so
	// that batches never queue up on a node that applies slower.
	upTo, err := lastCommitted(ctx, f.Nodes[0])
	if err != nil {
		return fmt.Errorf("galera: reading wsrep_last_committed: %w", err)
	}
	for {
		busy, err := f.busy(ctx, upTo)
		if err != nil {
			return err
		}
		if busy == "" {
			if why != "" {
				d := time.Since(start)
				f.mu.Lock()
				f.stats.Waits++
				f.stats.Waited += d
				f.mu.Unlock()
				if f.Waited != nil {
					f.Waited(d, why)
				}
			}
			return nil
		}
		if why == "" {
			why = busy
		}
		if time.Since(start) > maxWait {
			return fmt.Errorf("%w for %s (%s)", ErrPausedTooLong, maxWait, busy)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Done implements migrate.Throttler.
func (f *FlowControl) Done(b migrate.Batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Batches++
	var me *mysql.MySQLError
	if errors.As(b.Err, &me) && me.Number == 1213 {
		f.stats.CertFailures++
	}
}

// busy reads every node and says why the next batch should wait ("" when
// it need not).
func (f *FlowControl) busy(ctx context.Context, upTo int64) (string, error) {
	maxQueue := f.MaxQueue
	if maxQueue <= 0 {
		maxQueue = DefaultMaxQueue
	}
	var why []string
	for i, db := range f.Nodes {
		paused, queue, applied, err := read(ctx, db)
		if err != nil {
			if i == 0 {
				return "", fmt.Errorf("galera: reading flow control: %w", err)
			}
			continue // not reachable now: left out
		}
		f.mu.Lock()
		if f.last == nil {
			f.last = map[int]int64{}
		}
		prev, seen := f.last[i]
		f.last[i] = paused
		f.mu.Unlock()
		if seen && paused > prev {
			why = append(why, fmt.Sprintf("node %d: flow control paused the cluster for %s", i+1, time.Duration(paused-prev).Round(time.Millisecond)))
		}
		if queue > maxQueue {
			why = append(why, fmt.Sprintf("node %d: %d write sets waiting to be applied", i+1, queue))
		} else if i > 0 && applied < upTo {
			why = append(why, fmt.Sprintf("node %d: %d write sets behind", i+1, upTo-applied))
		}
	}
	return strings.Join(why, "; "), nil
}

func read(ctx context.Context, db *sql.DB) (paused, queue, applied int64, err error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := db.QueryContext(rctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_flow_control_paused_ns', 'wsrep_local_recv_queue', 'wsrep_last_committed')")
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return 0, 0, 0, err
		}
		v, _ := strconv.ParseInt(value, 10, 64)
		switch strings.ToLower(name) {
		case "wsrep_flow_control_paused_ns":
			paused, n = v, n+1
		case "wsrep_local_recv_queue":
			queue, n = v, n+1
		case "wsrep_last_committed":
			applied, n = v, n+1
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, err
	}
	if n < 3 {
		return 0, 0, 0, errors.New("not a Galera node (no wsrep_flow_control_paused_ns)")
	}
	return paused, queue, applied, nil
}

// lastCommitted reads the node's wsrep_last_committed: the seqno of the
// last write set it committed or applied.
func lastCommitted(ctx context.Context, db *sql.DB) (int64, error) {
	var name string
	var v int64
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := db.QueryRowContext(rctx, "SHOW GLOBAL STATUS LIKE 'wsrep_last_committed'").Scan(&name, &v)
	return v, err
}

// Nodes lists the client addresses of the cluster's nodes as db's node
// announces them (wsrep_incoming_addresses: host:port, comma-separated),
// for opening a pool on each; addresses the nodes did not announce
// (AUTO) are left out.
func Nodes(ctx context.Context, db *sql.DB) ([]string, error) {
	var name, value string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_incoming_addresses'").Scan(&name, &value); err != nil {
		return nil, err
	}
	var out []string
	for _, a := range strings.Split(value, ",") {
		a = strings.TrimSpace(a)
		if a != "" && !strings.EqualFold(a, "AUTO") {
			out = append(out, a)
		}
	}
	return out, nil
}
