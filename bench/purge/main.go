// Command purge benchmarks `db purge` on a large database: this
// glance-manage, the upstream reference tool, and a bare single DELETE of
// the same rows (the floor: what the database itself needs), side by side
// in one run on each enabled backend, and prints the ratios.
//
//	go run ./bench/purge -rows 1000000 -backends mysql
//
// Each measurement starts from a fresh database at wallaby_contract01 (the
// reference's head) holding -rows soft-deleted image_properties rows,
// deleted 60 days ago, laid out as -layout says:
//
//   - interleaved (the default, the hardest case): 1000 live images with
//     -rows/1000 properties each, inserted property by property (every
//     image's first property, then every image's second, ...), so rows
//     next to each other in the table are far apart in the image_id
//     indexes, and any batch smaller than the table touches index pages
//     all over;
//   - clustered (as Glance writes them): -rows/10 live images with random
//     UUIDs and 10 properties each, inserted image by image, so that a
//     run of keys is the properties of a few images.
//
// The tools run as separate
// processes (`db purge --max_rows -1`, start-up included); the bare DELETE
// is one statement over an open connection. Meanwhile a writer inserts a
// live image_properties row every 10 ms and records how long each insert
// waits: the worst wait is how long the purge held locks the writer
// needed.
//
// -batched N adds a fourth measurement, the batched DELETE: the bare
// DELETE split into ranges of N key values, each its own transaction, run
// back to back with no pause and no adaptation, which shows what
// committing every N rows costs by itself. On SQLite, whose commits write
// and sync every page their batch touched and which lets a waiting writer
// in only between them, it is what a purge walking the key pays for its
// commits alone (-batched-sync OFF shows how much of it the syncs are).
//
// -no-yield adds ours with --no-yield (each table's rows in one DELETE,
// no pauses: for a database no service writes to), whose target is 1.25x
// the bare DELETE; its writer's wait is how long that keeps writers out.
// -only keeps some of the tools (e.g. -only 'bare DELETE,ours --no-yield'),
// and -runs N measures each N times, the tools taking turns, and reports
// each one's median (on a busy machine the load moves between samples).
//
// Backends are enabled as in the tests (GLANCE_TEST_MYSQL_URL,
// GLANCE_TEST_POSTGRES_URL); the reference is found as in the interop
// tests (GLANCE_REFERENCE_BIN or the Python glance-manage in PATH).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/google/uuid"
)

var (
	withWriter  bool
	layout      string
	batchedKeys int
	batchedSync string
	noYield     bool
	only        string
	runs        int
)

type result struct {
	Backend, Tool string
	Layout        string
	Rows          int
	Seconds       float64
	WorstWaitMS   float64 // the concurrent writer's longest insert
	Writes        int     // inserts the writer completed meanwhile
	// The batched DELETE's batches and its longest (tool "batched DELETE").
	Batches        int     `json:",omitempty"`
	LongestBatchMS float64 `json:",omitempty"`
}

func main() {
	rows := flag.Int("rows", 1000000, "soft-deleted rows to purge (a multiple of 1000)")
	backends := flag.String("backends", "sqlite,mysql,postgresql", "backends to measure (disabled ones are skipped)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	flag.BoolVar(&withWriter, "writer", true, "run the concurrent writer")
	flag.StringVar(&layout, "layout", "interleaved", "how the rows lie: interleaved or clustered (see the package doc)")
	flag.IntVar(&batchedKeys, "batched", 0, "also measure the batched DELETE: the bare DELETE split into ranges of this many keys, each its own transaction, no pauses (0: skip)")
	flag.BoolVar(&noYield, "no-yield", false, "also measure ours with --no-yield (one DELETE per table, no pauses for writers)")
	flag.StringVar(&only, "only", "", "measure only these tools, comma-separated (ours, reference, bare DELETE, batched DELETE, ours --no-yield)")
	flag.IntVar(&runs, "runs", 1, "measure each tool this many times, taking turns, and report the medians")
	flag.StringVar(&batchedSync, "batched-sync", "", "SQLite only: PRAGMA synchronous for the batched DELETE (e.g. OFF, to see what the commits' syncs cost; never what the tool does)")
	flag.Parse()
	if layout != "interleaved" && layout != "clustered" {
		fail(fmt.Errorf("-layout must be interleaved or clustered"))
	}
	if *rows < 1000 || *rows%1000 != 0 {
		fail(fmt.Errorf("-rows must be a positive multiple of 1000"))
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "glance-bench-purge-")
	check(err)
	defer os.RemoveAll(work)
	ours := filepath.Join(work, "glance-manage")
	build := exec.Command("go", "build", "-o", ours, "./cmd/glance-manage")
	// The build the README recommends: pure Go, static (CGO_ENABLED=0).
	// With cgo, user and host lookups go through the C library and each
	// start costs a few milliseconds more.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	check(build.Run())
	ref, refErr := testdb.FindReference()
	if refErr != nil {
		fmt.Fprintf(os.Stderr, "reference: %v (measuring ours and the bare DELETE only)\n", refErr)
	}

	var results []result
	for _, name := range strings.Split(*backends, ",") {
		b := testdb.Backend(strings.TrimSpace(name))
		if err := testdb.Enabled(b); err != nil {
			fmt.Fprintf(os.Stderr, "%s: skipped: %v\n", b, err)
			continue
		}
		tools := []string{"ours", "reference", "bare DELETE"}
		if batchedKeys > 0 {
			tools = append(tools, "batched DELETE")
		}
		if noYield {
			tools = append(tools, noYieldTool)
		}
		if only != "" {
			keep := map[string]bool{}
			for _, t := range strings.Split(only, ",") {
				keep[strings.TrimSpace(t)] = true
			}
			var kept []string
			for _, t := range tools {
				if keep[t] {
					kept = append(kept, t)
				}
			}
			tools = kept
		}
		samples := map[string][]result{}
		for run := 0; run < max(runs, 1); run++ {
			for _, tool := range tools {
				if tool == "reference" && refErr != nil {
					continue
				}
				bin := ours
				if tool == "reference" {
					bin = ref
				}
				r := measure(ctx, b, work, tool, bin, *rows)
				samples[tool] = append(samples[tool], r)
				results = append(results, r)
				fmt.Fprintf(os.Stderr, "%s %s: %.2f s, writer's worst wait %.0f ms\n", b, tool, r.Seconds, r.WorstWaitMS)
			}
		}
		byTool := map[string]result{}
		for tool, rs := range samples {
			byTool[tool] = median(rs)
		}
		report(b, *rows, byTool)
	}
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(results, "", "  ")
		check(os.WriteFile(*jsonOut, data, 0o644))
	}
}

func report(b testdb.Backend, rows int, r map[string]result) {
	if _, ok := r["bare DELETE"]; !ok {
		fmt.Printf("\n%s: no bare DELETE measured, no ratios\n", b)
		return
	}
	bare, ours := r["bare DELETE"], r["ours"]
	fmt.Printf("\n%s, %d soft-deleted rows, %s, median of %d run(s)\n", b, rows, layout, max(runs, 1))
	fmt.Printf("%-16s %9s %12s %18s\n", "tool", "seconds", "vs bare", "writer worst wait")
	for _, tool := range []string{"bare DELETE", "batched DELETE", "reference", "ours", noYieldTool} {
		x, ok := r[tool]
		if !ok {
			continue
		}
		fmt.Printf("%-16s %9.2f %11.2fx %15.0f ms", tool, x.Seconds, x.Seconds/bare.Seconds, x.WorstWaitMS)
		if x.Batches > 0 {
			fmt.Printf("   (%d batches of %d keys, longest %.0f ms)", x.Batches, batchedKeys, x.LongestBatchMS)
		}
		fmt.Println()
	}
	_, haveOurs := r["ours"]
	if refr, ok := r["reference"]; ok && haveOurs {
		fmt.Printf("ours is %.2fx faster than the reference; %.2fx the bare DELETE (target <= 1.25x); worst writer wait %.0f ms (target < 200 ms)\n",
			refr.Seconds/ours.Seconds, ours.Seconds/bare.Seconds, ours.WorstWaitMS)
	}
	if ny, ok := r[noYieldTool]; ok {
		fmt.Printf("ours --no-yield is %.2fx the bare DELETE (target <= 1.25x)", ny.Seconds/bare.Seconds)
		if refr, ok := r["reference"]; ok {
			fmt.Printf(", %.2fx faster than the reference", refr.Seconds/ny.Seconds)
		}
		if haveOurs {
			fmt.Printf(", %.2fx faster than ours without it", ours.Seconds/ny.Seconds)
		}
		fmt.Println()
	}
}

// median is the sample with the median time (the lower middle one of an
// even number), its writer's wait the worst of all samples.
func median(rs []result) result {
	sorted := append([]result(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Seconds < sorted[j].Seconds })
	m := sorted[(len(sorted)-1)/2]
	for _, r := range rs {
		m.WorstWaitMS = max(m.WorstWaitMS, r.WorstWaitMS)
	}
	return m
}

// noYieldTool is ours run with --no-yield.
const noYieldTool = "ours --no-yield"

// measure builds a fresh database with rows soft-deleted rows, purges it
// with tool while a writer inserts, and checks that every old row went.
func measure(ctx context.Context, b testdb.Backend, work, tool, bin string, rows int) result {
	dir, err := os.MkdirTemp(work, "run-")
	check(err)
	db, err := testdb.Create(ctx, b, dir)
	check(err)
	defer func() { check(db.Destroy(ctx)) }()
	m, err := glance.New(db.SQL, string(b))
	check(err)
	_, err = m.Migrator.Upgrade(ctx, []string{"wallaby_contract01"}, migrate.Options{RunData: true})
	check(err)
	cutoff, image := populate(ctx, db.SQL, m.Dialect, rows)
	settle(ctx, db.SQL, m.Dialect)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var worst, longest time.Duration
	var writes, batches int
	if withWriter {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worst, writes = writer(ctx, db.SQL, m.Dialect, image, stop)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	switch tool {
	case "bare DELETE":
		bare(ctx, db.SQL, m.Dialect, cutoff)
	case "batched DELETE":
		batches, longest = batched(ctx, db.SQL, m.Dialect, cutoff)
	default:
		conf, err := testdb.WriteConfig(dir, db.URL)
		check(err)
		args := []string{"--config-file", conf, "db", "purge", "--max_rows", "-1"}
		if tool == noYieldTool {
			args = append(args, "--no-yield")
		}
		c := exec.Command(bin, args...)
		var stderr strings.Builder
		c.Stderr = &stderr
		if os.Getenv("BENCH_VERBOSE") != "" {
			c.Stderr = os.Stderr
		}
		if err := c.Run(); err != nil {
			fail(fmt.Errorf("%s db purge: %v\n%s", tool, err, stderr.String()))
		}
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()
	var left int
	check(db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM image_properties WHERE deleted_at IS NOT NULL").Scan(&left))
	if left != 0 {
		fail(fmt.Errorf("%s on %s left %d soft-deleted rows", tool, b, left))
	}
	return result{Backend: string(b), Tool: tool, Layout: layout, Rows: rows, Seconds: took.Seconds(), WorstWaitMS: float64(worst.Microseconds()) / 1000, Writes: writes,
		Batches: batches, LongestBatchMS: float64(longest.Microseconds()) / 1000}
}

// sqliteCache is the page cache the tool gives its purge connection on
// SQLite (glance/purge); the bare and batched DELETEs get it too, so that
// they are measured in the same conditions (with SQLite's default 2 MiB a
// 1M-row DELETE spills pages: 2.6 times as long on the interleaved
// layout).
const sqliteCache = "PRAGMA cache_size = -65536"

// bare deletes the rows in one statement.
func bare(ctx context.Context, db *sql.DB, d dialect.Dialect, cutoff string) {
	conn, err := db.Conn(ctx)
	check(err)
	defer conn.Close()
	if d.Name() == "sqlite" {
		_, err := conn.ExecContext(ctx, sqliteCache)
		check(err)
	}
	_, err = conn.ExecContext(ctx, "DELETE FROM image_properties WHERE deleted_at < "+d.Placeholder(1), cutoff)
	check(err)
}

// batched deletes the rows as the bare DELETE does, split into ranges of
// batchedKeys key values, each its own transaction (on SQLite taken with
// BEGIN IMMEDIATE, as the tool does), one after the other with no pause,
// and returns the number of batches and the longest.
func batched(ctx context.Context, db *sql.DB, d dialect.Dialect, cutoff string) (int, time.Duration) {
	conn, err := db.Conn(ctx)
	check(err)
	defer conn.Close()
	exec := func(q string, args ...any) {
		_, err := conn.ExecContext(ctx, q, args...)
		check(err)
	}
	if d.Name() == "sqlite" {
		exec(sqliteCache)
		if batchedSync != "" {
			var was int
			check(conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&was))
			exec("PRAGMA synchronous = " + batchedSync)
			defer exec(fmt.Sprintf("PRAGMA synchronous = %d", was))
		}
	}
	var lo, hi int64
	check(conn.QueryRowContext(ctx, "SELECT (SELECT MIN(id) FROM image_properties), (SELECT MAX(id) FROM image_properties)").Scan(&lo, &hi))
	q := fmt.Sprintf("DELETE FROM image_properties WHERE id > %s AND id <= %s AND deleted_at < %s",
		d.Placeholder(1), d.Placeholder(2), d.Placeholder(3))
	n := 0
	var longest time.Duration
	for last := lo - 1; last < hi; last += int64(batchedKeys) {
		began := time.Now()
		if d.Name() == "sqlite" {
			exec("BEGIN IMMEDIATE")
			exec(q, last, last+int64(batchedKeys), cutoff)
			exec("COMMIT")
		} else {
			exec(q, last, last+int64(batchedKeys), cutoff)
		}
		longest = max(longest, time.Since(began))
		n++
	}
	return n, longest
}

// populate inserts live images and rows soft-deleted properties, deleted
// 60 days ago, laid out as -layout says, and returns the cutoff of a
// 30-day purge and the id of one image.
func populate(ctx context.Context, db *sql.DB, d dialect.Dialect, rows int) (cutoff, image string) {
	now := time.Now().UTC()
	created := now.AddDate(0, 0, -400).Format("2006-01-02 15:04:05")
	deleted := now.AddDate(0, 0, -60).Format("2006-01-02 15:04:05")
	cutoff = now.AddDate(0, 0, -30).Format("2006-01-02 15:04:05")
	exec := func(q string) {
		_, err := db.ExecContext(ctx, q)
		check(err)
	}
	exec("CREATE TABLE bench_seq (n INTEGER NOT NULL PRIMARY KEY)")
	var vals []string
	for i := 0; i < 1000; i++ {
		vals = append(vals, fmt.Sprintf("(%d)", i))
	}
	exec("INSERT INTO bench_seq (n) VALUES " + strings.Join(vals, ", "))
	concat := func(parts ...string) string {
		if d.Name() == "mysql" {
			return "CONCAT(" + strings.Join(parts, ", ") + ")"
		}
		return "(" + strings.Join(parts, " || ") + ")"
	}
	str := func(col string) string {
		if d.Name() == "mysql" {
			return col
		}
		return "CAST(" + col + " AS TEXT)"
	}
	tru, fals := "TRUE", "FALSE"
	if d.Name() == "sqlite" {
		tru, fals = "1", "0"
	}
	if layout == "interleaved" {
		exec(fmt.Sprintf("INSERT INTO images (id, name, status, created_at, deleted, min_disk, min_ram, protected, visibility) SELECT %s, 'bench', 'active', '%s', %s, 0, 0, %s, 'private' FROM bench_seq",
			concat("'img-'", str("n")), created, fals, fals))
		exec(fmt.Sprintf("INSERT INTO image_properties (image_id, name, value, created_at, deleted, deleted_at) SELECT %s, %s, 'v', '%s', %s, '%s' FROM bench_seq a CROSS JOIN bench_seq b WHERE b.n < %d ORDER BY b.n, a.n",
			concat("'img-'", str("a.n")), concat("'p'", str("b.n")), created, tru, deleted, rows/1000))
		image = "img-0"
	} else {
		// rows/10 images with random UUIDs, numbered in creation order.
		exec("CREATE TABLE bench_img (n INTEGER NOT NULL PRIMARY KEY, id VARCHAR(36) NOT NULL)")
		for start := 0; start < rows/10; start += 1000 {
			vals = vals[:0]
			for n := start; n < min(start+1000, rows/10); n++ {
				id := uuid.NewString()
				if n == 0 {
					image = id
				}
				vals = append(vals, fmt.Sprintf("(%d, '%s')", n, id))
			}
			exec("INSERT INTO bench_img (n, id) VALUES " + strings.Join(vals, ", "))
		}
		exec(fmt.Sprintf("INSERT INTO images (id, name, status, created_at, deleted, min_disk, min_ram, protected, visibility) SELECT id, 'bench', 'active', '%s', %s, 0, 0, %s, 'private' FROM bench_img ORDER BY n",
			created, fals, fals))
		exec(fmt.Sprintf("INSERT INTO image_properties (image_id, name, value, created_at, deleted, deleted_at) SELECT a.id, %s, 'v', '%s', %s, '%s' FROM bench_img a CROSS JOIN bench_seq b WHERE b.n < 10 ORDER BY a.n, b.n",
			concat("'p'", str("b.n")), created, tru, deleted))
		exec("DROP TABLE bench_img")
	}
	exec("DROP TABLE bench_seq")
	switch d.Name() {
	case "postgresql":
		exec("VACUUM ANALYZE image_properties")
	case "mysql":
		exec("ANALYZE TABLE image_properties")
	default:
		exec("ANALYZE")
	}
	return cutoff, image
}

// settle waits until the server has written out the population's dirty
// pages and purged its undo history, so that no measurement pays for the
// previous step's background work.
func settle(ctx context.Context, db *sql.DB, d dialect.Dialect) {
	switch d.Name() {
	case "postgresql":
		_, err := db.ExecContext(ctx, "CHECKPOINT")
		check(err)
	case "mysql":
		status := func(name string) int64 {
			var k string
			var v int64
			if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
				return 0
			}
			return v
		}
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if status("Innodb_buffer_pool_pages_dirty") < 1000 && status("Innodb_history_list_length") < 1000 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	default:
		_, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		check(err)
	}
}

// writer inserts a live property every 10 ms until stop closes, and
// returns its longest insert and how many it made.
func writer(ctx context.Context, db *sql.DB, d dialect.Dialect, image string, stop chan struct{}) (time.Duration, int) {
	q := fmt.Sprintf("INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES (%s, %s, 'v', %s, %s)",
		d.Placeholder(1), d.Placeholder(2), d.Placeholder(3), d.Placeholder(4))
	var worst time.Duration
	n := 0
	for {
		select {
		case <-stop:
			return worst, n
		case <-time.After(10 * time.Millisecond):
		}
		start := time.Now()
		for {
			_, err := db.ExecContext(ctx, q, image, fmt.Sprintf("w%d", n), time.Now().UTC().Format("2006-01-02 15:04:05"), false)
			// SQLite gives up after its busy timeout: try again, the
			// wait goes on.
			if err != nil && strings.Contains(err.Error(), "SQLITE_BUSY") {
				continue
			}
			check(err)
			break
		}
		worst = max(worst, time.Since(start))
		n++
	}
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
