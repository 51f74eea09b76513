package cli

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/galera"
)

// clusterThrottle returns, when the session's server is a node of a
// Galera cluster, a throttler that paces batches by the cluster's flow
// control (galera.FlowControl) on the connected node and every other node
// it announces and this host can reach with the same credentials, and a
// function closing the pools it opened; nil elsewhere.
func (a *app) clusterThrottle(ctx context.Context, s *session) (*galera.FlowControl, func()) {
	cl, ok := s.mgr.Dialect.(dialect.TotalOrderCluster)
	if !ok {
		return nil, func() {}
	}
	if toi, err := cl.TotalOrder(ctx, s.mgr.DB); err != nil || !toi {
		return nil, func() {}
	}
	fc := &galera.FlowControl{Nodes: []*sql.DB{s.mgr.DB}}
	fc.Waited = func(d time.Duration, why string) {
		if d >= 100*time.Millisecond {
			a.logf("INFO  [glance-manage] galera: batches waited %s for the cluster (%s)", d.Round(time.Millisecond), why)
		}
	}
	var opened []*sql.DB
	closeAll := func() {
		for _, db := range opened {
			db.Close()
		}
	}
	addrs, err := galera.Nodes(ctx, s.mgr.DB)
	if err != nil {
		return fc, closeAll
	}
	var self string
	_ = s.mgr.DB.QueryRowContext(ctx, "SELECT @@wsrep_node_incoming_address").Scan(&self)
	raw, err := url.Parse(s.cfg.Connection)
	if err != nil || raw.Host == "" {
		return fc, closeAll
	}
	opts, err := a.openOptions()
	if err != nil {
		return fc, closeAll
	}
	for _, addr := range addrs {
		if strings.EqualFold(addr, self) {
			continue
		}
		other := *raw
		other.Host = addr
		u, err := dburl.Parse(other.String())
		if err != nil {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		db, err := dburl.Open(octx, u, opts...)
		cancel()
		if err != nil {
			continue // not reachable from here: only the reachable nodes are read
		}
		opened = append(opened, db)
		fc.Nodes = append(fc.Nodes, db)
	}
	return fc, closeAll
}

// clusterStats reports what the cluster throttler saw, when it saw
// anything worth a line.
func (a *app) clusterStats(fc *galera.FlowControl) {
	if fc == nil {
		return
	}
	st := fc.Stats()
	if st.Batches == 0 {
		return
	}
	a.logf("INFO  [glance-manage] galera: %d batch(es) on %d node(s) read; %d waited for flow control (%s in all); %d failed certification and were retried",
		st.Batches, len(fc.Nodes), st.Waits, st.Waited.Round(time.Millisecond), st.CertFailures)
}

var _ migrate.Throttler = (*galera.FlowControl)(nil)
