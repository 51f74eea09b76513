// Command rolling runs the rolling-upgrade harness (package rolling) at
// benchmark scale: a database at a pre-Ocata revision with -images images,
// old- and new-release writers through expand, migrate and contract. It
// prints, per phase, writes per second, p50/p99/max write latency and the
// longest stall, and fails when a write failed or a row was lost.
//
//	go run ./bench/rolling -images 100000 -backends mysql,postgresql
//	go run ./bench/rolling -images 1000000 -backends mysql -in-place -plain -reference
//
// -in-place runs it again with online DDL but without shadow copies
// (tables rebuilt in place, ALGORITHM=INPLACE). -plain runs the same
// scenario again with online DDL turned off (plain
// ALTERs, no lock timeouts); -reference runs it with the upstream tool's
// commands (GLANCE_REFERENCE_BIN or the Python glance-manage in PATH):
// `db expand` and `db contract` (on PostgreSQL, which it refuses for
// rolling upgrades, `db upgrade` to its expand and contract heads), and
// for the data migration upstream's own statements (its Zed package's
// `db migrate` runs none), one UPDATE per step. Backends are enabled as
// in the tests (GLANCE_TEST_MYSQL_URL, GLANCE_TEST_POSTGRES_URL).
//
// Backend galera runs it on the Galera cluster of GLANCE_TEST_GALERA_URLS
// (tools/galera/cluster.sh --haproxy start), the steps through node 1, in
// two layouts: the writers through HAProxy (GLANCE_TEST_GALERA_PROXY_URL)
// and the writers on every node; it adds per phase and node the writes,
// latencies, flow-control pause and certification failures, and
// compares the nodes' checksums at the end:
//
//	go run ./bench/rolling -images 1000000 -backends galera -reference
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/rolling"
)

func main() {
	images := flag.Int("images", 100000, "images to seed")
	backends := flag.String("backends", "sqlite,mysql,postgresql", "backends to run (disabled ones are skipped)")
	phase := flag.Duration("phase", 5*time.Second, "traffic around each step (half before, half after)")
	oldW := flag.Int("old", 2, "old-release writers")
	newW := flag.Int("new", 2, "new-release writers")
	pace := flag.Duration("pace", 2*time.Millisecond, "pause between one writer's writes")
	chunk := flag.Int64("max-rows", 0, "run the data migration as db migrate --max-rows N until done (0: one run)")
	plain := flag.Bool("plain", false, "also run with online DDL turned off")
	inPlace := flag.Bool("in-place", false, "also run with online DDL, rebuilding tables in place instead of copying them into shadows (MariaDB)")
	ref := flag.Bool("reference", false, "also run with the upstream tool's commands")
	flag.Parse()
	ctx := context.Background()
	failed := false
	for _, b := range strings.Split(*backends, ",") {
		if strings.TrimSpace(b) == "galera" {
			if !runGalera(ctx, *images, *phase, *oldW, *newW, *pace, *chunk, *ref) {
				failed = true
			}
			continue
		}
		be := testdb.Backend(strings.TrimSpace(b))
		if err := testdb.Enabled(be); err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		modes := []string{"ours"}
		if *inPlace {
			modes = append(modes, "ours, in-place rebuild")
		}
		if *plain {
			modes = append(modes, "ours, plain DDL")
		}
		if *ref {
			modes = append(modes, "reference")
		}
		for _, mode := range modes {
			dir, err := os.MkdirTemp("", "glance-rolling-")
			check(err)
			db, err := testdb.Create(ctx, be, dir)
			check(err)
			cfg := rolling.Config{Backend: string(be), DB: db.SQL, Images: *images, Phase: *phase,
				OldWriters: *oldW, NewWriters: *newW, Pace: *pace, MigrateChunk: *chunk}
			cfg.Options.PlainDDL = mode == "ours, plain DDL"
			cfg.Options.InPlaceRebuild = mode == "ours, in-place rebuild"
			if mode == "reference" {
				cfg.Steps = referenceSteps(db)
			}
			fmt.Printf("== %s, %s\n", be, mode)
			rep, err := rolling.Run(ctx, cfg)
			if rep != nil {
				fmt.Print(rep)
			}
			if err != nil {
				fmt.Printf("error: %v\n", err)
			}
			if mode != "reference" && (err != nil || rep == nil || !rep.OK()) {
				failed = true
			}
			fmt.Println()
			check(db.Destroy(ctx))
			os.RemoveAll(dir)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// referenceSteps runs the upstream tool.
func referenceSteps(db *testdb.DB) rolling.Steps {
	bin, err := testdb.FindReference()
	check(err)
	run := func(args ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			dir, err := os.MkdirTemp("", "glance-ref-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			out, errs, code, err := testdb.ExecReference(ctx, bin, dir, db.URL, args...)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit %d: %s%s", code, out, lastLines(errs, 3))
			}
			return err
		}
	}
	steps := rolling.Steps{Expand: run("db", "expand"), Contract: run("db", "contract")}
	if db.Backend == testdb.PostgreSQL {
		steps.Expand, steps.Contract = run("db", "upgrade", "wallaby_expand01"), run("db", "upgrade", "wallaby_contract01")
	}
	steps.Migrate = func(ctx context.Context) error {
		for _, q := range rolling.ReferenceStatements(string(db.Backend)) {
			if _, err := db.SQL.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	return steps
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolling:", err)
		os.Exit(1)
	}
}
