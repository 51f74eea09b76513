// Command sync benchmarks `db sync` (empty database to head) and
// `db version` of this glance-manage against the upstream reference tool,
// side by side in one run, on each enabled backend, and prints the ratios.
//
//	go run ./bench/sync -runs 5 -backends sqlite,mysql,postgresql
//
// Backends are enabled as in the tests (GLANCE_TEST_MYSQL_URL,
// GLANCE_TEST_POSTGRES_URL); the reference is found as in the interop
// tests (GLANCE_REFERENCE_BIN or the Python glance-manage in PATH). Each
// sample is a fresh process, so start-up is included on both sides. The
// reference's head is wallaby_contract01 and ours is 2024_1_contract01,
// so "sync" has ours do more work; "sync-same" runs ours as
// `db sync wallaby_contract01`, the reference's whole walk and no more.
//
// "version-first" is the first `db version` after the sync, "version" the
// one after it, on the same database: the first connection to a new
// PostgreSQL database after DDL rebuilds the server's relation cache (a
// few milliseconds, whichever client connects), which a database in
// service has long since done.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

type result struct {
	Backend, Tool, Command string
	MedianMS               float64
	MaxRSSKiB              int64
	Runs                   int
}

func main() {
	runs := flag.Int("runs", 5, "samples per measurement")
	backends := flag.String("backends", "sqlite,mysql,postgresql", "backends to measure (disabled ones are skipped)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	flag.Parse()
	ctx := context.Background()
	work, err := os.MkdirTemp("", "glance-bench-")
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
		fmt.Fprintf(os.Stderr, "reference: %v (measuring ours only)\n", refErr)
	}

	var results []result
	fmt.Printf("%-11s %-13s %12s %12s %12s %12s %8s\n", "backend", "command", "ours ms", "ref ms", "ours RSS MiB", "ref RSS MiB", "speedup")
	for _, name := range strings.Split(*backends, ",") {
		b := testdb.Backend(strings.TrimSpace(name))
		if err := testdb.Enabled(b); err != nil {
			fmt.Fprintf(os.Stderr, "%s: skipped: %v\n", b, err)
			continue
		}
		for _, cmd := range []string{"sync", "sync-same", "version-first", "version"} {
			o := measure(ctx, b, work, ours, ours, cmd, *runs)
			line := fmt.Sprintf("%-11s %-13s %12.1f", b, cmd, ms(o.wall))
			results = append(results, result{string(b), "ours", cmd, ms(o.wall), o.maxRSS, *runs})
			if refErr == nil {
				r := measure(ctx, b, work, ours, ref, cmd, *runs)
				results = append(results, result{string(b), "reference", cmd, ms(r.wall), r.maxRSS, *runs})
				line += fmt.Sprintf(" %12.1f %12.1f %12.1f %7.1fx", ms(r.wall), float64(o.maxRSS)/1024, float64(r.maxRSS)/1024, ms(r.wall)/ms(o.wall))
			} else {
				line += fmt.Sprintf(" %12s %12.1f %12s %8s", "-", float64(o.maxRSS)/1024, "-", "-")
			}
			fmt.Println(line)
		}
	}
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(results, "", "  ")
		check(os.WriteFile(*jsonOut, data, 0o644))
	}
}

// measure runs `bin db <cmd>` on fresh databases (for version: a synced
// one, queried once before for "version") and returns the median wall
// time and the largest resident set.
func measure(ctx context.Context, b testdb.Backend, work, ours, bin, cmd string, runs int) sample {
	var walls []time.Duration
	var rss int64
	for i := 0; i < runs; i++ {
		dir, err := os.MkdirTemp(work, "run-")
		check(err)
		db, err := testdb.Create(ctx, b, dir)
		check(err)
		conf, err := testdb.WriteConfig(dir, db.URL)
		check(err)
		args := []string{cmd}
		switch {
		case cmd == "version-first":
			run(bin, conf, "sync")
			args = []string{"version"}
		case cmd == "version":
			run(bin, conf, "sync")
			run(bin, conf, "version")
		case cmd == "sync-same" && bin == ours:
			args = []string{"sync", "wallaby_contract01"}
		case cmd == "sync-same":
			args = []string{"sync"}
		}
		s := run(bin, conf, args...)
		walls = append(walls, s.wall)
		rss = max(rss, s.maxRSS)
		check(db.Destroy(ctx))
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	return sample{wall: walls[len(walls)/2], maxRSS: rss}
}

func run(bin, conf string, args ...string) sample {
	c := exec.Command(bin, append([]string{"--config-file", conf, "db"}, args...)...)
	var stderr strings.Builder
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s db %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
		os.Exit(1)
	}
	var rss int64
	if u, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = u.Maxrss
	}
	return sample{wall: wall, maxRSS: rss}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
