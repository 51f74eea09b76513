// Command refdump records the schema that the upstream (reference)
// glance-manage builds at every revision, on every enabled backend, as golden
// dumps for comparing our migrations against.
//
//	go run ./tools/refdump -out testdata/schema
//
// For each backend enabled the way internal/testdb enables it for tests
// (SQLite always; MySQL with GLANCE_TEST_MYSQL_URL; PostgreSQL with
// GLANCE_TEST_POSTGRES_URL) it writes, under <out>/<backend>/:
//
//   - NN_<rev>.txt: a fresh database upgraded by the reference tool with
//     `db upgrade --version <rev>` one revision at a time, in alembic's walk
//     order, on the same database (as upstream's walk test does), dumped
//     after each step;
//   - sync_<contract head>.txt: a fresh database after `db sync` (which
//     never creates the MySQL visibility triggers);
//   - expand_<expand head>.txt: a fresh database after `db expand` alone
//     (not on PostgreSQL: upstream refuses rolling upgrades there).
//
// The reference tool is found like internal/testdb.FindReference finds it
// (GLANCE_REFERENCE_BIN, else the Python glance-manage in PATH).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// Walk is the order in which alembic applies the reference tool's revisions
// (python3-glance 25.1.0, Zed) when upgrading an empty database to heads.
var Walk = []string{
	"liberty", "mitaka01", "mitaka02",
	"ocata_expand01", "pike_expand01", "queens_expand01", "rocky_expand01", "rocky_expand02",
	"train_expand01", "ussuri_expand01", "wallaby_expand01",
	"ocata_contract01", "pike_contract01", "queens_contract01", "rocky_contract01", "rocky_contract02",
	"train_contract01", "ussuri_contract01", "wallaby_contract01",
}

// The reference tool's branch heads.
const (
	ExpandHead   = "wallaby_expand01"
	ContractHead = "wallaby_contract01"
)

// WalkFile is the golden file name of step i (0-based) of the walk.
func WalkFile(i int) string { return fmt.Sprintf("%02d_%s.txt", i+1, Walk[i]) }

// Files lists the golden files generated for backend b.
func Files(b testdb.Backend) []string {
	var f []string
	for i := range Walk {
		f = append(f, WalkFile(i))
	}
	f = append(f, "sync_"+ContractHead+".txt")
	if b != testdb.PostgreSQL {
		f = append(f, "expand_"+ExpandHead+".txt")
	}
	return f
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("refdump: ")
	out := flag.String("out", filepath.Join("testdata", "schema"), "directory to write <backend>/*.txt into")
	backends := flag.String("backends", "", "comma-separated backends to generate (default: every enabled one; naming a disabled one is an error)")
	flag.Parse()

	var list []testdb.Backend
	if *backends == "" {
		for _, b := range testdb.All {
			if err := testdb.Enabled(b); err != nil {
				log.Printf("skipping %s: %v", b, err)
				continue
			}
			list = append(list, b)
		}
	} else {
		for _, name := range strings.Split(*backends, ",") {
			b := testdb.Backend(strings.TrimSpace(name))
			if err := testdb.Enabled(b); err != nil {
				log.Fatal(err)
			}
			list = append(list, b)
		}
	}
	bin, err := testdb.FindReference()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, b := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(*out, string(b))
			files, err := Generate(ctx, bin, b)
			if err == nil {
				err = writeDir(dir, files)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", b, err)
				return
			}
			log.Printf("%s: wrote %d files to %s", b, len(files), dir)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		log.Fatal(err)
	}
}

// Generate runs the reference tool bin on fresh databases of backend b and
// returns the golden dumps by file name.
func Generate(ctx context.Context, bin string, b testdb.Backend) (map[string]string, error) {
	tmp, err := os.MkdirTemp("", "refdump-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	files := map[string]string{}

	// The walk, one revision at a time on one database.
	err = withDB(ctx, b, tmp, func(db *testdb.DB) error {
		for i, rev := range Walk {
			if err := runRef(ctx, bin, tmp, db, "db", "upgrade", "--version", rev); err != nil {
				return err
			}
			d, err := schemadump.Dump(ctx, db.SQL, b)
			if err != nil {
				return err
			}
			files[WalkFile(i)] = d
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	paths := []struct{ file, cmd string }{{"sync_" + ContractHead + ".txt", "sync"}}
	if b != testdb.PostgreSQL {
		paths = append(paths, struct{ file, cmd string }{"expand_" + ExpandHead + ".txt", "expand"})
	}
	for _, p := range paths {
		err = withDB(ctx, b, tmp, func(db *testdb.DB) error {
			if err := runRef(ctx, bin, tmp, db, "db", p.cmd); err != nil {
				return err
			}
			d, err := schemadump.Dump(ctx, db.SQL, b)
			files[p.file] = d
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

func withDB(ctx context.Context, b testdb.Backend, tmp string, fn func(*testdb.DB) error) error {
	dir, err := os.MkdirTemp(tmp, "db-")
	if err != nil {
		return err
	}
	db, err := testdb.Create(ctx, b, dir)
	if err != nil {
		return err
	}
	err = fn(db)
	return errors.Join(err, db.Destroy(ctx))
}

func runRef(ctx context.Context, bin, tmp string, db *testdb.DB, args ...string) error {
	stdout, stderr, code, err := testdb.ExecReference(ctx, bin, tmp, db.URL, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	if err != nil {
		return fmt.Errorf("reference glance-manage %s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return nil
}

// generated reports whether a file name is of the kind Generate writes
// (NN_<rev>.txt, sync_*.txt, expand_*.txt). Other files in the backend
// directories (such as other tests' goldens of our own schema) are left
// alone.
func generated(name string) bool {
	if !strings.HasSuffix(name, ".txt") {
		return false
	}
	if strings.HasPrefix(name, "sync_") || strings.HasPrefix(name, "expand_") {
		return true
	}
	return len(name) > 3 && isDigit(name[0]) && isDigit(name[1]) && name[2] == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// writeDir writes files into dir and removes stale generated files there, so
// that the directory holds exactly the current set of reference dumps.
func writeDir(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(files[n]), 0o644); err != nil {
			return err
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok && generated(filepath.Base(p)) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
