package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Galera is one fresh database on a Galera cluster (GLANCE_TEST_GALERA_URLS),
// as seen on each of its nodes.
type Galera struct {
	// Name is the database's name.
	Name string
	// URLs[i] is the database on node i+1, an SQLAlchemy-style URL for our
	// CLI and the reference tool.
	URLs []string
	// SQL[i] is a pool on node i+1 whose sessions read with
	// wsrep_sync_wait=1: a read waits until the node has applied every
	// commit the cluster had when the read began, so a check on node 2
	// sees what node 1 committed.
	SQL []*sql.DB
	// ProxyURL is the database through HAProxy, or "" when
	// GLANCE_TEST_GALERA_PROXY_URL is unset (GaleraProxyURL skips or fails
	// a test that needs it).
	ProxyURL string

	ports []string // each node's port, for NodeOf
	proxy *server
}

// NewGalera creates an empty database on node 1 of the cluster, waits until
// every node has it, and drops it when t ends. It skips t (fails it under
// CI=true) when GLANCE_TEST_GALERA_URLS is unset, and holds the cluster for
// t.
func NewGalera(t testing.TB) *Galera {
	t.Helper()
	raw := GaleraURLs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []*server
	for _, r := range raw {
		s, err := parseServerURL(MySQL, EnvGaleraURLs, r)
		if err != nil {
			t.Fatalf("testdb: %v", err)
		}
		nodes = append(nodes, s)
	}
	db, err := nodes[0].create(ctx)
	if err != nil {
		t.Fatalf("testdb: galera node 1: %v", err)
	}
	db.SQL.Close()
	g := &Galera{Name: db.Name}
	t.Cleanup(func() {
		for _, p := range g.SQL {
			p.Close()
		}
		if keep() {
			t.Logf("testdb: %s=1, keeping Galera database %s", EnvKeep, g.Name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.Destroy(ctx); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	for i, s := range nodes {
		p, err := openOnceThere(ctx, s, g.Name, map[string]string{"wsrep_sync_wait": "1"})
		if err != nil {
			t.Fatalf("testdb: galera node %d: %v", i+1, err)
		}
		g.SQL = append(g.SQL, p)
		g.URLs = append(g.URLs, s.sqlalchemyURL(g.Name))
		g.ports = append(g.ports, s.port)
	}
	if v, err := lookupEnv(EnvGaleraProxy); err == nil {
		s, err := parseServerURL(MySQL, EnvGaleraProxy, v)
		if err != nil {
			t.Fatalf("testdb: %v", err)
		}
		g.ProxyURL, g.proxy = s.sqlalchemyURL(g.Name), s
	}
	return g
}

// openOnceThere opens database name on s once s has it: a replica or
// another Galera node creates it a moment after the server that ran
// CREATE DATABASE.
func openOnceThere(ctx context.Context, s *server, name string, vars map[string]string) (*sql.DB, error) {
	for {
		p, err := s.openWith(name, vars)
		if err == nil {
			err = p.PingContext(ctx)
			if err == nil {
				return p, nil
			}
			p.Close()
		}
		if !unknownDatabase(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("database %s did not appear on %s: %w", name, s.original, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func unknownDatabase(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1049
	}
	// PostgreSQL: 3D000 invalid_catalog_name.
	return err != nil && strings.Contains(err.Error(), "3D000")
}

// NodeOf returns which node (1-based) serves db's connections, from the
// port the server listens on: through HAProxy, the node HAProxy chose.
func (g *Galera) NodeOf(ctx context.Context, db *sql.DB) (int, error) {
	var port int
	if err := db.QueryRowContext(ctx, "SELECT @@port").Scan(&port); err != nil {
		return 0, err
	}
	for i, p := range g.ports {
		if p == strconv.Itoa(port) {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("port %d is none of the cluster's nodes (%s)", port, strings.Join(g.ports, ", "))
}

// OpenProxy opens the database through HAProxy, skipping t (failing it
// under CI=true) when GLANCE_TEST_GALERA_PROXY_URL is unset; the pool is
// closed when t ends.
func (g *Galera) OpenProxy(t testing.TB) *sql.DB {
	t.Helper()
	GaleraProxyURL(t)
	if g.proxy == nil {
		t.Fatalf("testdb: %s was set after NewGalera", EnvGaleraProxy)
	}
	p, err := g.proxy.open(g.Name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// GaleraKill kills node n (1-based) of the cluster with SIGKILL
// (tools/galera/cluster.sh kill). If the node is still down when t ends it
// is restarted then, so that the next test finds every node. HAProxy takes
// a killed node 1 out after about 10 s (five failed checks 2 s apart).
func GaleraKill(t testing.TB, n int) {
	t.Helper()
	dir := GaleraDir(t)
	if _, err := runScript(context.Background(), "tools/galera/cluster.sh", "kill", strconv.Itoa(n), dir); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		// restart leaves a running node as it is (once it is Synced).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := runScript(ctx, "tools/galera/cluster.sh", "restart", strconv.Itoa(n), dir); err != nil {
			t.Errorf("testdb: restarting node %d after the test: %v", n, err)
		}
	})
}

// GaleraRestart starts node n again (tools/galera/cluster.sh restart): it
// rejoins the cluster by IST (or SST) and is Synced, and back in HAProxy's
// rotation when the cluster has HAProxy, when GaleraRestart returns.
func GaleraRestart(t testing.TB, n int) {
	t.Helper()
	dir := GaleraDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := runScript(ctx, "tools/galera/cluster.sh", "restart", strconv.Itoa(n), dir); err != nil {
		t.Fatalf("testdb: %v", err)
	}
}

// GaleraStatus returns tools/galera/cluster.sh status's report (one line
// per node: state, cluster size; HAProxy's view of its servers), and
// whether every node is Synced in a cluster of all of them.
func GaleraStatus(t testing.TB) (string, bool) {
	t.Helper()
	dir := GaleraDir(t)
	out, err := runScript(context.Background(), "tools/galera/cluster.sh", "status", dir)
	var ee interface{ ExitCode() int }
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("testdb: %v", err)
	}
	return out, err == nil
}

// ProxyNode opens a new connection through HAProxy and returns the node
// (1-based) it landed on: node 1 while it is up, a backup once HAProxy has
// taken node 1 out.
func (g *Galera) ProxyNode(ctx context.Context) (int, error) {
	if g.proxy == nil {
		return 0, fmt.Errorf("%s is unset", EnvGaleraProxy)
	}
	p, err := g.proxy.open(g.Name)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	return g.NodeOf(ctx, p)
}
