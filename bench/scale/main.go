// Command scale measures this tool at several database sizes: a database
// at the pre-Ocata revision seeded with -images images by the servers'
// bulk path (package rolling's Seed: multi-row INSERT ... SELECT over a
// generated series), expanded online, then, each a fresh process of the
// static build: `db migrate` (its wall time and peak RSS: the tool's
// memory must not grow with the database), and `db version` and
// `db check` on the migrated database (median of -runs), for each size
// in turn.
//
//	go run ./bench/scale -sizes 100000,1000000,10000000 -backends mysql,postgresql
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/rolling"
)

func main() {
	sizes := flag.String("sizes", "100000,1000000", "comma-separated numbers of images")
	backends := flag.String("backends", "mysql,postgresql", "backends to run (disabled ones are skipped)")
	runs := flag.Int("runs", 7, "db version and db check runs per size (the median is printed)")
	flag.Parse()
	ctx := context.Background()
	work, err := os.MkdirTemp("", "glance-scale-")
	check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "glance-manage")
	build := exec.Command("go", "build", "-o", bin, "./cmd/glance-manage")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	check(build.Run())
	fmt.Printf("%-10s %10s %10s %12s %12s %14s %12s %12s\n", "backend", "images", "seed", "migrate", "rows/s", "migrate RSS", "db version", "db check")
	for _, b := range strings.Split(*backends, ",") {
		be := testdb.Backend(strings.TrimSpace(b))
		if err := testdb.Enabled(be); err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		for _, f := range strings.Split(*sizes, ",") {
			var n int
			_, err := fmt.Sscan(strings.TrimSpace(f), &n)
			check(err)
			size(ctx, be, bin, work, n, *runs)
		}
	}
}

func size(ctx context.Context, be testdb.Backend, bin, work string, images, runs int) {
	dir, err := os.MkdirTemp(work, "db-")
	check(err)
	db, err := testdb.Create(ctx, be, dir)
	check(err)
	defer func() { check(db.Destroy(ctx)) }()
	m, err := glance.New(db.SQL, string(be))
	check(err)
	ids, err := m.Graph().Resolve(rolling.From)
	check(err)
	_, err = m.Migrator.Upgrade(ctx, ids, migrate.Options{})
	check(err)
	t := time.Now()
	check(rolling.Seed(ctx, db.SQL, string(be), images))
	seed := time.Since(t)
	conf := filepath.Join(dir, "glance-api.conf")
	check(os.WriteFile(conf, []byte("[database]\nconnection = "+db.URL+"\n"), 0o600))
	// Expanded by the tool itself (online: shadow copies on MariaDB).
	run(bin, conf, "expand")
	mig := run(bin, conf, "migrate")
	var version, chk []time.Duration
	for range runs {
		version = append(version, run(bin, conf, "version").wall)
		chk = append(chk, run(bin, conf, "check").wall)
	}
	rows := float64(images) * 1.5 // every image and half as many locations
	fmt.Printf("%-10s %10d %10s %12s %12.0f %11.1f MiB %12s %12s\n", be, images, seed.Round(time.Second), mig.wall.Round(time.Millisecond),
		rows/mig.wall.Seconds(), float64(mig.maxRSS)/1024, median(version), median(chk))
}

func median(d []time.Duration) string {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return fmt.Sprintf("%.1f ms", float64(d[len(d)/2].Microseconds())/1000)
}

type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
}

func run(bin, conf string, args ...string) sample {
	c := exec.Command(bin, append([]string{"--config-file", conf, "db"}, args...)...)
	var stderr strings.Builder
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if args[0] == "check" && errors.As(err, &ee) && ee.ExitCode() > 1 {
		err = nil // db check's answers: 3 after migrate means "run db contract"
	}
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

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}
