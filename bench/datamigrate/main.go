// Command datamigrate benchmarks the data migrations (ocata visibility,
// train backend->store) at scale: this tool's keyed batches against
// upstream's statements (one table-wide UPDATE per step) on the same
// data, side by side in one run. Each side gets its own freshly seeded
// database (package rolling's seed: -images images, 10 % with a member,
// half the locations with the pre-Train key) after an online expand, so
// the visibility triggers fire for both. It prints rows per second, the
// time ratio, and the longest transaction (the longest any row lock was
// held: one batch for us, the whole statement for upstream), with our
// time per migration and upstream's per statement. -runs N repeats the
// pair and prints the median ratio (upstream's statements vary the most
// from run to run).
//
//	go run ./bench/datamigrate -images 1000000 -backends mysql,postgresql -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/rolling"
)

func main() {
	images := flag.Int("images", 1000000, "images to seed")
	backends := flag.String("backends", "sqlite,mysql,postgresql", "backends to run (disabled ones are skipped)")
	batch := flag.Int("batch", 0, "fixed batch size (0: adaptive)")
	threadList := flag.String("threads", "1", "comma-separated thread counts (Options.Threads) for our side: each runs on its own fresh data, against the one reference run of the pair")
	runs := flag.Int("runs", 1, "pairs of runs per backend (ours, then the reference's, each on fresh data); with more than one, the median ratio is printed too")
	flag.Parse()
	var threads []int
	for _, f := range strings.Split(*threadList, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			check(fmt.Errorf("-threads: %q is not a number of threads", f))
		}
		threads = append(threads, n)
	}
	ctx := context.Background()
	fmt.Printf("%-10s %-9s %10s %10s %10s %12s %12s\n", "backend", "tool", "rows", "time", "rows/s", "longest tx", "time ratio")
	for _, b := range strings.Split(*backends, ",") {
		be := testdb.Backend(strings.TrimSpace(b))
		if err := testdb.Enabled(be); err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		var ratios []float64
		for range *runs {
			ratios = append(ratios, pair(ctx, be, *images, *batch, threads))
		}
		if len(ratios) > 1 {
			sort.Float64s(ratios)
			var list []string
			for _, r := range ratios {
				list = append(list, fmt.Sprintf("%.2fx", r))
			}
			fmt.Printf("%-10s median time ratio over %d runs: %.2fx (%s)\n", be, len(ratios), median(ratios), strings.Join(list, ", "))
		}
	}
}

// median of sorted values.
func median(v []float64) float64 {
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// pair runs our data migrations and then upstream's statements, each on
// a freshly seeded database, prints both, and returns the time ratio.
func pair(ctx context.Context, be testdb.Backend, images, batch int, threads []int) float64 {
	type result struct {
		threads  int
		n        int64
		took     time.Duration
		maxBatch time.Duration
		batches  int64
		runs     []batchRun
		phases   []string
	}
	var results []result
	for _, th := range threads {
		n, took, maxBatch, batches, runs, phases := ours(ctx, be, images, batch, th)
		results = append(results, result{th, n, took, maxBatch, batches, runs, phases})
	}

	// Upstream's statements.
	db, _ := prepare(ctx, be, images)
	var refRows int64
	var longest time.Duration
	var stmts []string
	t := time.Now()
	for i, q := range rolling.ReferenceStatements(string(be)) {
		ts := time.Now()
		res, err := db.SQL.ExecContext(ctx, q)
		check(err)
		longest = max(longest, time.Since(ts))
		stmts = append(stmts, fmt.Sprintf("#%d %s", i+1, time.Since(ts).Round(time.Millisecond)))
		c, _ := res.RowsAffected()
		refRows += c
	}
	ref := time.Since(t)
	check(db.Destroy(ctx))

	ratio := 0.0
	for i, r := range results {
		rr := r.took.Seconds() / ref.Seconds()
		if i == 0 {
			ratio = rr
		}
		fmt.Printf("%-10s %-9s %10d %10s %10.0f %12s %12s\n", be, fmt.Sprintf("ours x%d", r.threads), r.n, r.took.Round(time.Millisecond), float64(r.n)/r.took.Seconds(), r.maxBatch.Round(time.Millisecond),
			fmt.Sprintf("%.2fx", rr))
		fmt.Printf("%-10s %d batches; %s; by migration: %s\n", "", r.batches, batchStats(r.runs), strings.Join(r.phases, ", "))
	}
	fmt.Printf("%-10s %-9s %10d %10s %10.0f %12s %12s\n", be, "reference", refRows, ref.Round(time.Millisecond), float64(refRows)/ref.Seconds(), longest.Round(time.Millisecond), "1.00x")
	fmt.Printf("%-10s reference by statement: %s\n", "", strings.Join(stmts, ", "))
	return ratio
}

// ours runs our data migrations on threads connections on freshly seeded
// data.
func ours(ctx context.Context, be testdb.Backend, images, batch, threads int) (int64, time.Duration, time.Duration, int64, []batchRun, []string) {
	db, m := prepare(ctx, be, images)
	db.SQL.SetMaxOpenConns(threads + 4)
	db.SQL.SetMaxIdleConns(threads + 4)
	var maxBatch time.Duration
	var batches int64
	var runs []batchRun
	var phases []string
	t := time.Now()
	last := t
	n, _, err := m.Migrator.RunData(ctx, -1, migrate.Options{DataBatch: batch, Threads: threads, DataProgress: func(p migrate.DataProgress) {
		maxBatch = max(maxBatch, p.MaxBatch)
		if p.Finished {
			batches += p.Batches
			phases = append(phases, fmt.Sprintf("%s %s", p.Migration, time.Since(last).Round(time.Millisecond)))
			last = time.Now()
			return
		}
		runs = append(runs, batchRun{p.Migration, p.Batches, p.BatchSize, p.LastBatch})
	}})
	check(err)
	took := time.Since(t)
	check(db.Destroy(ctx))
	return n, took, maxBatch, batches, runs, phases
}

// prepare seeds a fresh database at the pre-Ocata revision and expands it
// online.
func prepare(ctx context.Context, be testdb.Backend, images int) (*testdb.DB, *glance.Manager) {
	dir, err := os.MkdirTemp("", "glance-datamigrate-")
	check(err)
	db, err := testdb.Create(ctx, be, dir)
	check(err)
	m, err := glance.New(db.SQL, string(be))
	check(err)
	ids, err := m.Graph().Resolve(rolling.From)
	check(err)
	_, err = m.Migrator.Upgrade(ctx, ids, migrate.Options{})
	check(err)
	t := time.Now()
	check(rolling.Seed(ctx, db.SQL, string(be), images))
	fmt.Fprintf(os.Stderr, "%s: seeded %d images in %s\n", be, images, time.Since(t).Round(time.Millisecond))
	_, err = m.Migrator.Upgrade(ctx, []string{m.ExpandHead()}, migrate.Options{Online: true})
	check(err)
	return db, m
}

// batchRun is one batch of our side: which, its size and how long its
// transaction lasted.
type batchRun struct {
	migration string
	n         int64
	size      int
	took      time.Duration
}

// batchStats summarizes the batches' durations: median, p99, how many
// took over 100 and 200 ms, and the three longest (which batch of which
// migration, its size).
func batchStats(runs []batchRun) string {
	if len(runs) == 0 {
		return "no batches"
	}
	sorted := append([]batchRun(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].took > sorted[j].took })
	over := func(d time.Duration) int {
		c := 0
		for _, r := range runs {
			if r.took > d {
				c++
			}
		}
		return c
	}
	p := func(q float64) time.Duration { return sorted[int(float64(len(sorted)-1)*(1-q))].took }
	var top []string
	for _, r := range sorted[:min(3, len(sorted))] {
		top = append(top, fmt.Sprintf("%s (#%d of %s, %d rows)", r.took.Round(time.Millisecond), r.n, r.migration, r.size))
	}
	return fmt.Sprintf("median %s, p99 %s, over 100 ms: %d, over 200 ms: %d; longest: %s",
		p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), over(100*time.Millisecond), over(200*time.Millisecond), strings.Join(top, ", "))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "datamigrate:", err)
		os.Exit(1)
	}
}
