package cli

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Throttling of the batches (data migrations, shadow copies, purges):
// --max-replica-lag with the replicas of [database] slave_connection and
// --replica, and --max-load. See migrate.LagThrottle, migrate.LoadThrottle.

// throttleFlags are the flags' values.
type throttleFlags struct {
	maxLag   string
	replicas []string
	maxLoad  string
	threads  int
}

// register adds the throttling flags to c (withThreads: and --threads).
func (f *throttleFlags) register(c *cobra.Command, withThreads bool) {
	c.Flags().StringVar(&f.maxLag, "max-replica-lag", migrate.DefaultMaxReplicaLag.String(),
		"before each batch, wait while a replica ([database] slave_connection, --replica; on PostgreSQL also every standby of the primary) is further behind than this; 0 turns it off")
	c.Flags().StringArrayVar(&f.replicas, "replica", nil, "a replica to watch for --max-replica-lag, as an SQLAlchemy URL (repeatable)")
	c.Flags().StringVar(&f.maxLoad, "max-load", "",
		"before each batch, wait while the server is busier than this: METRIC=N[,METRIC=N...], e.g. Threads_running=25 (MySQL/MariaDB status variables) or active=25 (PostgreSQL sessions running a statement); off by default")
	if withThreads {
		c.Flags().IntVar(&f.threads, "threads", migrate.DefaultThreads,
			"run the keyed batches of data migrations and shadow copies on N connections, over disjoint key ranges")
	}
}

// pyOptions are the same flags for the commands parsed argparse-style
// (db purge).
func throttlePyOptions() []pyOption {
	return []pyOption{{name: "max-replica-lag"}, {name: "replica", repeat: true}, {name: "max-load"}}
}

// fromPy sets f from a parsed db purge command line.
func (f *throttleFlags) fromPy(p *pyArgs) {
	f.maxLag = migrate.DefaultMaxReplicaLag.String()
	if v, ok := p.values["max-replica-lag"]; ok {
		f.maxLag = v
	}
	f.replicas = p.lists["replica"]
	f.maxLoad = p.values["max-load"]
}

// sessionThrottle returns the session's throttler, building it from
// a.thr the first time.
func (a *app) sessionThrottle(ctx context.Context, s *session) (migrate.Throttler, error) {
	if s.throttleBuilt {
		return s.throttle, nil
	}
	if a.thr.threads < 0 {
		return nil, exit(exitUsage, "glance-manage: error: argument --threads: %d is not a number of connections (give 1 or more)", a.thr.threads)
	}
	if a.thr.threads > 1 && s.url.Backend != dburl.SQLite {
		// The pool's default leaves room for the lock's connection and
		// one batch at a time; each thread needs its own.
		s.mgr.DB.SetMaxOpenConns(4 + a.thr.threads)
		s.mgr.DB.SetMaxIdleConns(4 + a.thr.threads)
	}
	t, closeAll, err := a.throttler(ctx, s, &a.thr)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeAll)
	s.throttle, s.throttleBuilt = t, true
	return t, nil
}

// throttler builds the run's throttler from f and the configuration. The
// returned close releases the replicas' connections. With nothing to
// watch it returns nil.
func (a *app) throttler(ctx context.Context, s *session, f *throttleFlags) (migrate.Throttler, func(), error) {
	var ts []migrate.Throttler
	var pools []*sql.DB
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	maxLag, err := parseMaxLag(f.maxLag)
	if err != nil {
		return nil, nil, err
	}
	if maxLag > 0 && s.url.Backend != dburl.SQLite {
		var urls []string
		var from []string
		if v, src, ok := s.cfg.Lookup("database", "slave_connection"); ok && strings.TrimSpace(v) != "" {
			urls, from = append(urls, v), append(from, "[database] slave_connection (from "+src+")")
		}
		for _, r := range f.replicas {
			urls, from = append(urls, r), append(from, "--replica")
		}
		var replicas []migrate.Replica
		for i, raw := range urls {
			u, err := dburl.Parse(raw)
			if err != nil {
				closeAll()
				return nil, nil, exit(exitUsage, "ERROR: invalid replica URL in %s: %v", from[i], err)
			}
			if u.Backend != s.url.Backend {
				closeAll()
				return nil, nil, exit(exitUsage, "ERROR: the replica %s in %s is a %s database, the database a %s one: name a replica of [database] connection.", u.Redacted(), from[i], u.Backend, s.url.Backend)
			}
			src := from[i]
			replicas = append(replicas, migrate.Replica{Name: u.Redacted(), Open: func(ctx context.Context) (dialect.Querier, error) {
				db, err := dburl.Open(ctx, u)
				if err != nil {
					return nil, fmt.Errorf("cannot connect (%s): %w", src, err)
				}
				db.SetMaxOpenConns(1)
				pools = append(pools, db)
				return db, nil
			}})
		}
		o := migrate.LagOptions{Max: maxLag, Dialect: s.mgr.Dialect, Replicas: replicas, Notify: a.throttleNotice}
		if s.url.Backend == dburl.Postgres {
			o.Primary = s.mgr.DB
		}
		if len(o.Replicas) > 0 || o.Primary != nil {
			t, err := migrate.NewLagThrottle(o)
			if err != nil {
				closeAll()
				return nil, nil, exit(exitError, "ERROR: %v", err)
			}
			ts = append(ts, t)
		}
	}
	if f.maxLoad != "" {
		limits, err := migrate.ParseLoad(f.maxLoad)
		if err != nil {
			closeAll()
			return nil, nil, exit(exitUsage, "glance-manage: error: argument --max-load: %v", err)
		}
		if s.url.Backend == dburl.SQLite {
			closeAll()
			return nil, nil, exit(exitUsage, "glance-manage: error: argument --max-load: SQLite reports no load; leave --max-load out")
		}
		t, err := migrate.NewLoadThrottle(ctx, migrate.LoadOptions{Limits: limits, Dialect: s.mgr.Dialect, DB: s.mgr.DB, Notify: a.throttleNotice})
		if err != nil {
			closeAll()
			return nil, nil, exit(exitUsage, "glance-manage: error: argument --max-load: %v", err)
		}
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return nil, closeAll, nil
	}
	return migrate.Throttlers(ts...), closeAll, nil
}

func parseMaxLag(v string) (time.Duration, error) {
	if v == "0" || v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, exit(exitUsage, "glance-manage: error: argument --max-replica-lag: %q is no duration (write e.g. 10s, 1500ms or 0 to turn it off)", v)
	}
	return d, nil
}

// throttleNotice says why the batches wait (and when they go on).
func (a *app) throttleNotice(w migrate.ThrottleWait) {
	if w.Resumed {
		a.logf("INFO  [glance-manage] %s back under its limit after %s: batches go on", w.Kind, w.Waited.Round(time.Millisecond))
		return
	}
	for _, o := range w.Over {
		switch w.Kind {
		case "replica lag":
			a.logf("WARNING [glance-manage] waiting for replica %s: %s (limit %s) since %s; the batches go on by themselves once it catches up (--max-replica-lag)",
				o.What, o.Value, o.Limit, o.Since.UTC().Format("15:04:05 UTC"))
		default:
			a.logf("WARNING [glance-manage] waiting for the load: %s=%s (limit %s) since %s; the batches go on by themselves once it is lower (--max-load)",
				o.What, o.Value, o.Limit, o.Since.UTC().Format("15:04:05 UTC"))
		}
	}
}

// replicaError is the CLI's line for a replica whose lag cannot be read.
func replicaError(e *migrate.ReplicaError) error {
	return exit(exitError, "ERROR: cannot read the replication lag of %s: %v. Fix the replica (or its URL in [database] slave_connection / --replica), or run with --max-replica-lag 0 to not wait for replicas; the rows migrated so far stay migrated, run the same command again to go on.",
		e.Replica, e.Err)
}
