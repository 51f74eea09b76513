// Package rolling proves a rolling upgrade under live traffic. It builds
// a Glance database at a release from before Ocata (images carry
// is_public and no visibility), fills it with images, properties, tags,
// locations and members, then runs writers of the old release (writing
// is_public) and of the new release (writing visibility) while the
// database goes through db expand, db migrate and db contract. Old
// writers stop before contract, as the upgrade procedure says.
//
// At the end it checks that no write failed, that no row was lost, and
// that every image's visibility is what its last writer meant (and, before
// contract, that is_public and visibility agree); per phase it reports
// writes per second, p50/p99/max write latency and the longest stall (the
// longest time in which no writer completed a write).
//
// The tests run it at small scale on every backend; bench/rolling runs it
// at 100k and 1M images and against the upstream tool.
package rolling

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// From is the revision the database is seeded at: the last one before
// Ocata's expand.
const From = "mitaka02"

// Steps run the three commands of the upgrade. Nil steps run this
// module's engine in process (InProcess).
type Steps struct {
	Expand, Migrate, Contract func(ctx context.Context) error
}

// Config describes one run.
type Config struct {
	Backend string  // "sqlite", "mysql" or "postgresql"
	DB      *sql.DB // the database (empty); the writers and the in-process steps use it
	Images  int     // seeded images (default 2000)

	OldWriters, NewWriters int           // concurrent writers of each release (default 2 and 2)
	Phase                  time.Duration // traffic before and after each step (default 2 s; half before, half after)
	Pace                   time.Duration // pause between one writer's writes (default 2 ms)

	Steps Steps
	// Options for the in-process steps (Online is always set).
	Options migrate.Options
	// MigrateChunk makes the in-process migrate step run `db migrate
	// --max-rows MigrateChunk` until nothing remains, as an operator
	// would who spreads the work out (0: one run).
	MigrateChunk int64
	Log          io.Writer // progress lines (nil: none)

	// Writers, when set, are the pools the writers write through, writer
	// i through Writers[i % len(Writers)] (the nodes of a cluster, each
	// one's traffic reported apart in Phase.Nodes); nil: DB. DB stays
	// where the steps run and what the checks read.
	Writers []*sql.DB
	// Status, when set, are the nodes of a Galera cluster (Status[i] is
	// node i+1) whose wsrep counters are read at each phase's start and
	// end: time paused by flow control and certification failures, per
	// phase and node (Phase.Nodes).
	Status []*sql.DB
	// WriteRetries is how often a write that hit a deadlock (on a
	// cluster: a certification failure, or an abort by a statement in
	// total order), a lock timeout or a busy database is tried again
	// (0: 5). oslo.db's wrap_db_retry retries up to 20 times.
	WriteRetries int
}

// NodePhase is one node's share of a phase: the writes of the writers
// that write through it (Config.Writers) and its Galera counters
// (Config.Status).
type NodePhase struct {
	Node             int // 1-based
	Writes, Failed   int64
	Retries          int64
	P50, P99, Max    time.Duration
	FlowPaused       time.Duration // wsrep_flow_control_paused_ns during the phase
	CertFailures     int64         // wsrep_local_cert_failures during the phase
	BFAborts         int64         // wsrep_local_bf_aborts during the phase
	StatusUnreadable bool          // the node could not be read (down)
}

// Phase is the traffic of one phase.
type Phase struct {
	Name     string
	Step     time.Duration // how long the phase's command took (0: none)
	Writes   int64         // successful writes
	Failed   int64
	Retries  int64 // writes tried again after a deadlock, lock timeout or busy database
	Duration time.Duration
	P50, P99 time.Duration
	Max      time.Duration // the longest write: the longest any writer was blocked
	Stall    time.Duration // the longest time in which no write completed
	// Nodes: per node, when the writers write through several pools or
	// Config.Status is set.
	Nodes []NodePhase
	// StallDuring lists the statements of an in-process step that were
	// running during the longest stall: the one running when it began and
	// those started before it ended (at most a few).
	StallDuring []string
}

// Rate is the successful writes per second.
func (p Phase) Rate() float64 { return float64(p.Writes) / max(p.Duration.Seconds(), 1e-9) }

// Report is the outcome of a run.
type Report struct {
	Backend  string
	Images   int
	Seed     time.Duration
	Phases   []Phase
	Failures []string // the first failed writes, with their errors
	Lost     []string // rows lost: tables whose row count is short, images missing
	Wrong    []string // images whose visibility is not what their last writer meant
	// Inconsistent counts the images whose is_public and visibility
	// disagreed (or visibility was NULL) after migrate, before contract.
	Inconsistent int64
	// MaxBatch is the longest data-migration batch (transaction) of an
	// in-process migrate step.
	MaxBatch time.Duration
	Migrated int64
	// TotalOrder lists the DDL statements of the in-process steps that a
	// Galera cluster ran in total order, with how long each held back
	// every node's writes.
	TotalOrder []TotalOrderStall
}

// TotalOrderStall is one DDL statement run in total order on a cluster.
type TotalOrderStall struct {
	Phase, SQL string
	Took       time.Duration
}

// OK reports whether the run proved the upgrade safe.
func (r *Report) OK() bool {
	var failed int64
	for _, p := range r.Phases {
		failed += p.Failed
	}
	return failed == 0 && len(r.Lost) == 0 && len(r.Wrong) == 0 && r.Inconsistent == 0
}

// String renders the report as a table.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %d images (seeded in %s)\n", r.Backend, r.Images, r.Seed.Round(time.Millisecond))
	fmt.Fprintf(&b, "%-12s %10s %8s %9s %9s %9s %9s %9s %7s %7s\n", "phase", "step", "writes", "writes/s", "p50", "p99", "max", "stall", "failed", "retried")
	for _, p := range r.Phases {
		step := "-"
		if p.Step > 0 {
			step = p.Step.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%-12s %10s %8d %9.0f %9s %9s %9s %9s %7d %7d\n", p.Name, step, p.Writes, p.Rate(),
			ms(p.P50), ms(p.P99), ms(p.Max), ms(p.Stall), p.Failed, p.Retries)
	}
	for _, p := range r.Phases {
		for _, n := range p.Nodes {
			fc := ms(n.FlowPaused)
			if n.StatusUnreadable {
				fc = "?"
			}
			fmt.Fprintf(&b, "  %-10s node %d %8d %9.0f %9s %9s %9s fc-paused %s (%.2f%%) cert-failures %d bf-aborts %d failed %d retried %d\n",
				p.Name, n.Node, n.Writes, float64(n.Writes)/max(p.Duration.Seconds(), 1e-9), ms(n.P50), ms(n.P99), ms(n.Max),
				fc, 100*n.FlowPaused.Seconds()/max(p.Duration.Seconds(), 1e-9), n.CertFailures, n.BFAborts, n.Failed, n.Retries)
		}
	}
	var longest TotalOrderStall
	for _, t := range r.TotalOrder {
		if t.Took > longest.Took {
			longest = t
		}
	}
	if len(r.TotalOrder) > 0 {
		fmt.Fprintf(&b, "DDL in total order: %d statements, the longest %s (%s: %s)\n", len(r.TotalOrder), ms(longest.Took), longest.Phase, longest.SQL)
	}
	for _, p := range r.Phases {
		if len(p.StallDuring) > 0 && p.Step > 0 {
			fmt.Fprintf(&b, "%s: longest stall (%s) during: %s\n", p.Name, ms(p.Stall), strings.Join(p.StallDuring, " | "))
		}
	}
	if r.MaxBatch > 0 {
		fmt.Fprintf(&b, "data migration: %d rows, longest batch %s\n", r.Migrated, ms(r.MaxBatch))
	}
	fmt.Fprintf(&b, "lost rows: %d, wrong visibility: %d, inconsistent before contract: %d\n", len(r.Lost), len(r.Wrong), r.Inconsistent)
	for _, list := range [][]string{r.Failures, r.Lost, r.Wrong} {
		for i, s := range list {
			if i == 10 {
				fmt.Fprintf(&b, "  ... %d more\n", len(list)-10)
				break
			}
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	return b.String()
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// phase collects the writes that started in it.
type phase struct {
	name     string
	mu       sync.Mutex
	lat      []time.Duration
	failed   int64
	retries  int64
	failures []string
	stall    time.Duration
	stallAt  time.Time // when the longest stall began
	stmts    []stamped // statements of the in-process step, in order
	start    time.Time
	end      time.Time
	step     time.Duration
	nodes    map[int]*nodeWrites // by writer pool (Config.Writers)
	status   [2][]wsrepCounters  // Config.Status at the start and the end
}

// nodeWrites are the writes of one pool's writers in a phase.
type nodeWrites struct {
	lat             []time.Duration
	failed, retries int64
}

// wsrepCounters are a node's Galera counters at one moment (ok: read).
type wsrepCounters struct {
	ok                     bool
	pausedNS, cert, aborts int64
}

// settle waits until every node of a cluster (Config.Status) has applied
// what node 1 had committed when it was called: the seed's big write
// sets are applied on the other nodes after they commit, and the phases
// must not start (their first DDL waits in total order) while they are.
func settle(ctx context.Context, nodes []*sql.DB) error {
	if len(nodes) < 2 {
		return nil
	}
	seqno := func(db *sql.DB) (int64, error) {
		var name string
		var v int64
		err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_last_committed'").Scan(&name, &v)
		return v, err
	}
	want, err := seqno(nodes[0])
	if err != nil {
		return fmt.Errorf("rolling: wsrep_last_committed: %w", err)
	}
	for i, db := range nodes[1:] {
		for {
			got, err := seqno(db)
			if err != nil {
				return fmt.Errorf("rolling: node %d: wsrep_last_committed: %w", i+2, err)
			}
			if got >= want {
				break
			}
			sleep(ctx, 50*time.Millisecond)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// readCounters reads the wsrep counters of each node.
func readCounters(ctx context.Context, dbs []*sql.DB) []wsrepCounters {
	out := make([]wsrepCounters, len(dbs))
	for i, db := range dbs {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rows, err := db.QueryContext(rctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_flow_control_paused_ns', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts')")
		if err == nil {
			c := wsrepCounters{ok: true}
			for rows.Next() {
				var name string
				var v int64
				if rows.Scan(&name, &v) != nil {
					c.ok = false
					continue
				}
				switch strings.ToLower(name) {
				case "wsrep_flow_control_paused_ns":
					c.pausedNS = v
				case "wsrep_local_cert_failures":
					c.cert = v
				case "wsrep_local_bf_aborts":
					c.aborts = v
				}
			}
			if rows.Err() != nil {
				c.ok = false
			}
			rows.Close()
			out[i] = c
		}
		cancel()
	}
	return out
}

// stamped is a statement and when it started.
type stamped struct {
	at  time.Time
	sql string
}

// during returns the statements running in [from, to]: the last one
// started before from and those started up to to.
func during(stmts []stamped, from, to time.Time) []string {
	var out []string
	for i, st := range stmts {
		if st.at.After(to) {
			break
		}
		if st.at.After(from) || i == len(stmts)-1 || stmts[i+1].at.After(from) {
			out = append(out, st.sql)
		}
	}
	if len(out) > 4 {
		out = append(out[:4], fmt.Sprintf("... %d more", len(out)-4))
	}
	return out
}

func (p *phase) record(node int, d time.Duration, retries int, err error, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries += int64(retries)
	if p.nodes != nil {
		nw := p.nodes[node]
		if nw == nil {
			nw = &nodeWrites{}
			p.nodes[node] = nw
		}
		nw.retries += int64(retries)
		if err != nil {
			nw.failed++
		} else {
			nw.lat = append(nw.lat, d)
		}
	}
	if err != nil {
		p.failed++
		if len(p.failures) < 20 {
			p.failures = append(p.failures, fmt.Sprintf("%s: %s: %v", p.name, what, err))
		}
		return
	}
	p.lat = append(p.lat, d)
}

func (p *phase) result() Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Phase{Name: p.name, Step: p.step, Writes: int64(len(p.lat)), Failed: p.failed, Retries: p.retries, Duration: p.end.Sub(p.start), Stall: p.stall}
	if p.stall > 0 {
		out.StallDuring = during(p.stmts, p.stallAt, p.stallAt.Add(p.stall))
	}
	out.P50, out.P99, out.Max = quantiles(p.lat)
	n := max(len(p.status[0]), len(p.status[1]))
	for node := range p.nodes {
		n = max(n, node+1)
	}
	for i := 0; i < n && (p.nodes != nil || len(p.status[0]) > 0); i++ {
		np := NodePhase{Node: i + 1}
		if nw := p.nodes[i]; nw != nil {
			np.Writes, np.Failed, np.Retries = int64(len(nw.lat)), nw.failed, nw.retries
			np.P50, np.P99, np.Max = quantiles(nw.lat)
		}
		if i < len(p.status[0]) && i < len(p.status[1]) && p.status[0][i].ok && p.status[1][i].ok {
			a, b := p.status[0][i], p.status[1][i]
			np.FlowPaused = time.Duration(b.pausedNS - a.pausedNS)
			np.CertFailures, np.BFAborts = b.cert-a.cert, b.aborts-a.aborts
		} else if len(p.status[0]) > 0 {
			np.StatusUnreadable = true
		}
		out.Nodes = append(out.Nodes, np)
	}
	return out
}

// quantiles returns the p50, p99 and largest of lat.
func quantiles(lat []time.Duration) (p50, p99, top time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	l := append([]time.Duration(nil), lat...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)/2], l[min(len(l)-1, len(l)*99/100)], l[len(l)-1]
}

type harness struct {
	cfg       Config
	db        *sql.DB
	mgr       *glance.Manager
	ph        func(int) string
	phs       func(int) string
	retryable func(error) bool

	mu      sync.Mutex
	phases  []*phase
	toi     []TotalOrderStall
	cur     atomic.Pointer[phase]
	lastEnd atomic.Int64 // unix nanos of the last completed write
}

func (h *harness) current() *phase { return h.cur.Load() }

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, format+"\n", args...)
	}
}

// begin closes the current phase and opens the next.
func (h *harness) begin(name string) *phase {
	var counters []wsrepCounters
	if len(h.cfg.Status) > 0 {
		counters = readCounters(context.Background(), h.cfg.Status)
	}
	t := time.Now()
	if old := h.cur.Load(); old != nil {
		old.end = t
		old.status[1] = counters
	}
	p := &phase{name: name, start: t}
	p.status[0] = counters
	if len(h.cfg.Writers) > 1 {
		p.nodes = map[int]*nodeWrites{}
	}
	h.mu.Lock()
	h.phases = append(h.phases, p)
	h.mu.Unlock()
	h.cur.Store(p)
	h.logf("rolling: phase %s", name)
	return p
}

// watch measures stalls: the longest time without a completed write,
// sampled every millisecond and charged to the current phase.
func (h *harness) watch(ctx context.Context) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-tick.C:
			last := h.lastEnd.Load()
			p := h.cur.Load()
			if last == 0 || p == nil {
				continue
			}
			gap := t.Sub(time.Unix(0, last))
			p.mu.Lock()
			if gap > p.stall {
				p.stall, p.stallAt = gap, time.Unix(0, last)
			}
			p.mu.Unlock()
		}
	}
}

// observe records the statements of in-process steps in the current
// phase, to name what ran during its longest stall. Data-migration
// batches are recorded as "batch of <migration>".
func (h *harness) observe(e migrate.Event) error {
	var sql string
	switch e.Kind {
	case migrate.Statement:
		sql = strings.Join(strings.Fields(e.SQL), " ")
		if len(sql) > 160 {
			sql = sql[:157] + "..."
		}
	case migrate.DataBatch:
		sql = "batch of " + e.SQL
	case migrate.TotalOrder:
		sql = strings.Join(strings.Fields(e.SQL), " ")
		if len(sql) > 100 {
			sql = sql[:97] + "..."
		}
		h.mu.Lock()
		name := ""
		if p := h.cur.Load(); p != nil {
			name = p.name
		}
		h.toi = append(h.toi, TotalOrderStall{Phase: name, SQL: sql, Took: e.Took})
		h.mu.Unlock()
		return nil
	default:
		return nil
	}
	if p := h.cur.Load(); p != nil {
		p.mu.Lock()
		p.stmts = append(p.stmts, stamped{time.Now(), sql})
		p.mu.Unlock()
	}
	return nil
}

// Run runs the whole scenario.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Images == 0 {
		cfg.Images = 2000
	}
	if cfg.OldWriters == 0 && cfg.NewWriters == 0 {
		cfg.OldWriters, cfg.NewWriters = 2, 2
	}
	if cfg.Phase == 0 {
		cfg.Phase = 2 * time.Second
	}
	if cfg.Pace == 0 {
		cfg.Pace = 2 * time.Millisecond
	}
	mgr, err := glance.New(cfg.DB, cfg.Backend)
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, db: cfg.DB, mgr: mgr}
	mgr.Migrator.Observe = h.observe
	h.ph, h.phs = placeholders(mgr.Dialect)
	if on, ok := mgr.Dialect.(dialect.Online); ok {
		h.retryable = on.Retryable
	}
	rep := &Report{Backend: cfg.Backend, Images: cfg.Images}
	steps := cfg.Steps
	in := h.inProcess(rep)
	if steps.Expand == nil {
		steps.Expand = in.Expand
	}
	if steps.Migrate == nil {
		steps.Migrate = in.Migrate
	}
	if steps.Contract == nil {
		steps.Contract = in.Contract
	}

	// The database at the old release, with data.
	t0 := time.Now()
	ids, err := mgr.Graph().Resolve(From)
	if err != nil {
		return nil, err
	}
	if _, err := mgr.Migrator.Upgrade(ctx, ids, migrate.Options{}); err != nil {
		return nil, fmt.Errorf("rolling: schema at %s: %w", From, err)
	}
	if err := Seed(ctx, h.db, cfg.Backend, cfg.Images); err != nil {
		return nil, err
	}
	if err := settle(ctx, cfg.Status); err != nil {
		return nil, err
	}
	rep.Seed = time.Since(t0)
	h.logf("rolling: seeded %d images in %s", cfg.Images, rep.Seed.Round(time.Millisecond))

	// Writers own disjoint images: seeded image n belongs to writer
	// n % (writers+1); the last share is left untouched.
	nw := cfg.OldWriters + cfg.NewWriters
	writers := make([]*writer, nw)
	for i := range writers {
		rel := Old
		if i >= cfg.OldWriters {
			rel = New
		}
		writers[i] = &writer{h: h, id: i, release: rel, rng: rand.New(rand.NewPCG(uint64(i), 42)), want: map[string]*intent{}, isPublic: rel == Old, db: cfg.DB}
		if len(cfg.Writers) > 0 {
			writers[i].node = i % len(cfg.Writers)
			writers[i].db = cfg.Writers[writers[i].node]
		}
	}
	for n := 0; n < cfg.Images; n++ {
		if k := n % (nw + 1); k < nw && !seedDeleted(n) {
			writers[k].pool = append(writers[k].pool, SeedID(n))
		}
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go h.watch(watchCtx)
	start := func(rel Release) (stop func()) {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, w := range writers {
			if w.release == rel {
				wg.Add(1)
				go func() { defer wg.Done(); w.run(wctx) }()
			}
		}
		return func() { cancel(); wg.Wait() }
	}
	step := func(p *phase, name string, fn func(context.Context) error) error {
		sleep(ctx, cfg.Phase/2)
		t := time.Now()
		err := fn(ctx)
		p.step = time.Since(t)
		h.logf("rolling: %s took %s (err: %v)", name, p.step.Round(time.Millisecond), err)
		sleep(ctx, cfg.Phase/2)
		if err != nil {
			return fmt.Errorf("rolling: %s: %w", name, err)
		}
		return nil
	}

	h.begin("old release")
	stopOld := start(Old)
	sleep(ctx, cfg.Phase)
	var stepErr error
	if stepErr = step(h.begin("expand"), "expand", steps.Expand); stepErr == nil {
		// The new release is deployed once expand is done.
		stopNew := start(New)
		defer stopNew()
		if stepErr = step(h.begin("migrate"), "migrate", steps.Migrate); stepErr == nil {
			h.begin("old stopped")
			stopOld()
			stopOld = func() {}
			rep.Inconsistent, err = h.inconsistent(ctx)
			if err != nil {
				return nil, err
			}
			if stepErr = step(h.begin("contract"), "contract", steps.Contract); stepErr == nil {
				h.begin("new release")
				sleep(ctx, cfg.Phase)
			}
		}
		stopNew()
	}
	stopOld()
	h.cur.Load().end = time.Now()
	if len(cfg.Status) > 0 {
		h.cur.Load().status[1] = readCounters(ctx, cfg.Status)
	}
	stopWatch()
	for _, p := range h.phases {
		r := p.result()
		if r.Name == "old stopped" {
			continue
		}
		rep.Phases = append(rep.Phases, r)
		rep.Failures = append(rep.Failures, p.failures...)
	}
	h.mu.Lock()
	rep.TotalOrder = append(rep.TotalOrder, h.toi...)
	h.mu.Unlock()
	if stepErr != nil {
		return rep, stepErr
	}
	if err := h.verify(ctx, writers, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// inProcess runs the steps with this module's engine, online, as `db
// expand`, `db migrate [--max-rows N]` and `db contract` do.
func (h *harness) inProcess(rep *Report) Steps {
	o := h.cfg.Options
	o.Online = true
	up := func(target string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := h.mgr.Migrator.Upgrade(ctx, []string{target}, o)
			return err
		}
	}
	return Steps{
		Expand: up(h.mgr.ExpandHead()),
		Migrate: func(ctx context.Context) error {
			d := o
			d.DataProgress = func(p migrate.DataProgress) { rep.MaxBatch = max(rep.MaxBatch, p.MaxBatch) }
			limit := h.cfg.MigrateChunk
			if limit <= 0 {
				limit = -1
			}
			for {
				n, remaining, err := h.mgr.Migrator.RunData(ctx, limit, d)
				rep.Migrated += n
				if err != nil || !remaining {
					return err
				}
			}
		},
		Contract: up(h.mgr.ContractHead()),
	}
}

// inconsistent counts images whose columns disagree before contract.
func (h *harness) inconsistent(ctx context.Context) (int64, error) {
	isPub := h.mgr.Dialect.IsTrue("is_public")
	var n int64
	err := h.db.QueryRowContext(ctx, fmt.Sprintf(
		"SELECT COUNT(*) FROM images WHERE visibility IS NULL OR is_public IS NULL OR (CASE WHEN %s THEN 1 ELSE 0 END) <> (CASE WHEN visibility = 'public' THEN 1 ELSE 0 END)", isPub)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("rolling: consistency check: %w", err)
	}
	return n, nil
}

func count(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// verify checks row counts and every image's visibility.
func (h *harness) verify(ctx context.Context, writers []*writer, rep *Report) error {
	want := map[string]*intent{}
	var created, members int64
	for _, w := range writers {
		for id, in := range w.want {
			want[id] = in
			if in.created {
				created++
			}
			members += int64(in.members)
		}
	}
	n := int64(h.cfg.Images)
	for _, c := range []struct {
		table string
		want  int64
	}{
		{"images", n + created}, {"image_properties", n + created}, {"image_tags", n + created},
		{"image_locations", n + created}, {"image_members", seedMembers(h.cfg.Images) + members},
	} {
		got, err := count(ctx, h.db, c.table)
		if err != nil {
			return err
		}
		if got != c.want {
			rep.Lost = append(rep.Lost, fmt.Sprintf("%s: %d rows, want %d", c.table, got, c.want))
		}
	}
	rows, err := h.db.QueryContext(ctx, "SELECT id, visibility, deleted FROM images")
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id string
		var vis sql.NullString
		var deleted bool
		if err := rows.Scan(&id, &vis, &deleted); err != nil {
			return err
		}
		seen++
		in := want[id]
		var num int
		seeded := strings.HasPrefix(id, "img-")
		if seeded {
			fmt.Sscanf(id[4:], "%d", &num)
		}
		ok, why := true, ""
		switch {
		case in != nil && in.vis != "":
			ok, why = vis.String == in.vis, "new writer set "+in.vis
		case in != nil && in.public != nil && *in.public:
			ok, why = vis.String == "public", "old writer set is_public"
		case in != nil && in.public != nil:
			ok, why = vis.String == "private" || vis.String == "shared", "old writer cleared is_public"
		case seeded && seedPublic(num):
			ok, why = vis.String == "public", "seeded public"
		case seeded && in != nil && in.members > 0:
			ok, why = vis.String == "private" || vis.String == "shared", "seeded private, shared by an old or new writer"
		case seeded && seedMemberLive(num):
			ok, why = vis.String == "shared", "seeded private with a member"
		case seeded:
			ok, why = vis.String == "private", "seeded private"
		}
		if !ok {
			rep.Wrong = append(rep.Wrong, fmt.Sprintf("%s: visibility %q (%s)", id, vis.String, why))
		}
		wantDeleted := (seeded && seedDeleted(num)) || (in != nil && in.deleted)
		if deleted != wantDeleted {
			rep.Wrong = append(rep.Wrong, fmt.Sprintf("%s: deleted=%v, want %v", id, deleted, wantDeleted))
		}
		delete(want, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, in := range want {
		if in.created {
			rep.Lost = append(rep.Lost, "image "+id+" missing")
		}
	}
	h.logf("rolling: checked %d images", seen)
	return nil
}
