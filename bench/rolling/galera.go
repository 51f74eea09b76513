package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/galera"
	"github.com/glance-manage/glance-manage/rolling"
)

// cluster is one fresh database on the Galera cluster of
// GLANCE_TEST_GALERA_URLS (and HAProxy's GLANCE_TEST_GALERA_PROXY_URL).
type cluster struct {
	name  string
	urls  []string  // SQLAlchemy URLs of the database on each node
	nodes []*sql.DB // pools on each node, reads with wsrep_sync_wait
	proxy *sql.DB   // through HAProxy (nil without it)
}

// withDB returns raw (an SQLAlchemy URL) naming database name.
func withDB(raw, name string) string {
	u, err := url.Parse(raw)
	check(err)
	u.Path = "/" + name
	return u.String()
}

// openDB opens raw's database name, with extra session variables.
func openDB(raw, name string, vars map[string]string) *sql.DB {
	u, err := dburl.Parse(withDB(raw, name))
	check(err)
	cfg, err := mysql.ParseDSN(u.DSN)
	check(err)
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for k, v := range vars {
		cfg.Params[k] = v
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	check(err)
	return db
}

func newCluster(ctx context.Context) (*cluster, error) {
	raw := os.Getenv(testdb.EnvGaleraURLs)
	if raw == "" {
		return nil, fmt.Errorf("%s is unset (tools/galera/cluster.sh start prints it)", testdb.EnvGaleraURLs)
	}
	c := &cluster{name: fmt.Sprintf("bench_galera_%d", time.Now().UnixNano())}
	urls := strings.Split(raw, ",")
	admin := openDB(urls[0], "", nil)
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+c.name); err != nil {
		return nil, err
	}
	for _, u := range urls {
		db := openDB(u, c.name, map[string]string{"wsrep_sync_wait": "1"})
		for db.PingContext(ctx) != nil {
			time.Sleep(50 * time.Millisecond) // until the node has the database
		}
		c.nodes = append(c.nodes, db)
		c.urls = append(c.urls, withDB(u, c.name))
	}
	if p := os.Getenv(testdb.EnvGaleraProxy); p != "" {
		c.proxy = openDB(p, c.name, nil)
	}
	return c, nil
}

func (c *cluster) destroy(ctx context.Context) {
	for _, db := range c.nodes {
		db.Close()
	}
	if c.proxy != nil {
		c.proxy.Close()
	}
	admin := openDB(c.urls[0], "", nil)
	defer admin.Close()
	_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+c.name)
}

// identical compares the nodes' checksums of the image tables and
// alembic_version; it returns one line per node, and whether they agree.
func (c *cluster) identical(ctx context.Context) ([]string, bool) {
	var out []string
	ok := true
	for i, db := range c.nodes {
		var sums []string
		for _, t := range []string{"images", "image_properties", "image_tags", "image_locations", "image_members", "alembic_version"} {
			var name string
			var sum sql.NullInt64
			if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+t).Scan(&name, &sum); err != nil {
				sums = append(sums, t+": "+err.Error())
				ok = false
				continue
			}
			sums = append(sums, fmt.Sprintf("%s %d", t, sum.Int64))
		}
		line := strings.Join(sums, ", ")
		if i > 0 && strings.SplitN(out[0], ": ", 2)[1] != line {
			ok = false
		}
		out = append(out, fmt.Sprintf("node %d: %s", i+1, line))
	}
	return out, ok
}

// runGalera runs the harness on the cluster in each layout, with our
// engine (in process, paced by galera.FlowControl) and, with ref, with
// the upstream tool's commands through node 1; it reports whether our
// runs passed.
func runGalera(ctx context.Context, images int, phase time.Duration, oldW, newW int, pace time.Duration, chunk int64, ref bool) bool {
	ok := true
	modes := []string{"ours"}
	if ref {
		modes = append(modes, "reference")
	}
	for _, layout := range []string{"haproxy", "every node"} {
		for _, mode := range modes {
			c, err := newCluster(ctx)
			check(err)
			cfg := rolling.Config{Backend: "mysql", DB: c.nodes[0], Images: images, Phase: phase,
				OldWriters: oldW, NewWriters: newW, Pace: pace, MigrateChunk: chunk, Status: c.nodes, WriteRetries: 20}
			if layout == "haproxy" {
				if c.proxy == nil {
					fmt.Printf("== galera, %s, %s: skipped (%s unset)\n\n", layout, mode, testdb.EnvGaleraProxy)
					c.destroy(ctx)
					continue
				}
				cfg.Writers = []*sql.DB{c.proxy}
			} else {
				cfg.Writers = c.nodes
			}
			fc := &galera.FlowControl{Nodes: c.nodes}
			if mode == "reference" {
				cfg.Steps = referenceSteps(&testdb.DB{Backend: testdb.MySQL, URL: c.urls[0], SQL: c.nodes[0]})
			} else {
				cfg.Options.Throttle = fc
			}
			fmt.Printf("== galera (%d nodes), writers %s, %s\n", len(c.nodes), layout, mode)
			rep, err := rolling.Run(ctx, cfg)
			if rep != nil {
				fmt.Print(rep)
			}
			if mode == "ours" {
				st := fc.Stats()
				fmt.Printf("flow-control throttler: %d batches, %d waited (%s in all), %d certification failures of batches (retried)\n",
					st.Batches, st.Waits, st.Waited.Round(time.Millisecond), st.CertFailures)
			}
			if err != nil {
				fmt.Printf("error: %v\n", err)
			}
			lines, same := c.identical(ctx)
			fmt.Printf("nodes identical: %v\n  %s\n", same, strings.Join(lines, "\n  "))
			if mode == "ours" && (err != nil || rep == nil || !rep.OK() || !same) {
				ok = false
			}
			fmt.Println()
			c.destroy(ctx)
		}
	}
	return ok
}
