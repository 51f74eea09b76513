// Package interop checks this glance-manage against the upstream tool
// (the Debian python3-glance 25.1.0 "Zed" package, head
// wallaby_contract01): the schema at every revision, on every backend, and
// databases handed from one tool to the other.
//
// The reference's schemas are kept as golden files in testdata/schema
// (produced by tools/refdump); when the reference itself is installed
// (always in CI) it is run live as well.
package interop

import (
	"context"
	"flag"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

var update = flag.Bool("update", false, "rewrite the golden files of our own schema (testdata/schema/<backend>/ours_*.txt)")

// referenceWalk is the reference's revisions in the order it applies them.
var referenceWalk = strings.Fields(`liberty mitaka01 mitaka02 ocata_expand01 pike_expand01 queens_expand01
rocky_expand01 rocky_expand02 train_expand01 ussuri_expand01 wallaby_expand01 ocata_contract01 pike_contract01
queens_contract01 rocky_contract01 rocky_contract02 train_contract01 ussuri_contract01 wallaby_contract01`)

func root() string { return filepath.Join("..", "testdata", "schema") }

func manager(t *testing.T, db *testdb.DB) *glance.Manager {
	t.Helper()
	return glancetest.Manager(t, db)
}

func upgradeTo(t *testing.T, m *glance.Manager, target string, o migrate.Options) {
	t.Helper()
	glancetest.Upgrade(t, m, target, o)
}

func dump(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := schemadump.Dump(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	triggerBody = regexp.MustCompile(`(?m)^(trigger [^\n]*\n)((?:  [^\n]*\n)*)`)
	anyTrigger  = regexp.MustCompile(`(?m)^trigger [^\n]*\n(?:  [^\n]*\n)*\n?`)
	sqliteSize  = regexp.MustCompile(`(?m)^(  column (?:size|virtual_size)) BIGINT\b`)
)

// comparable removes the differences between the two tools that are
// deliberate, each for a reason:
//
//   - trigger bodies: ours are our own code with upstream's decision table
//     (tested by behaviour in package glance), so only their names, tables,
//     timing and events are compared;
//   - triggers on SQLite and PostgreSQL: upstream has none there and so no
//     rolling upgrade; ours keeps old and new columns in step everywhere;
//   - images.size and virtual_size on SQLite: Zed creates BIGINT, upstream's
//     current liberty revision INTEGER (commit e3571b293); we follow
//     upstream's current revision.
func comparable(dump, backend string) string {
	if backend == "mysql" {
		return triggerBody.ReplaceAllString(dump, "$1")
	}
	dump = anyTrigger.ReplaceAllString(dump, "")
	if backend == "sqlite" {
		dump = sqliteSize.ReplaceAllString(dump, "$1 INTEGER")
	}
	return dump
}

func golden(t *testing.T, backend, rev string) (string, bool) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(root(), backend, "*_"+rev+".txt"))
	for _, m := range matches {
		base := filepath.Base(m)
		if strings.HasPrefix(base, "ours_") || strings.HasPrefix(base, "sync_") || strings.HasPrefix(base, "expand_") {
			continue
		}
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(data), true
	}
	return "", false
}

func diff(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s: schemas differ from line %d:\n ours: %q\n  ref: %q", what, i+1, g, w)
			return
		}
	}
}

// TestSchemaAtEveryRevision walks both tools up the reference's revisions
// one `db upgrade --version <rev>` at a time, as upstream's walk test does,
// and compares the schemas after each step: with the golden dumps always,
// and with the live reference when it is installed.
func TestSchemaAtEveryRevision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		ours := testdb.New(t, b)
		m := manager(t, ours)
		var ref *testdb.DB
		if _, err := testdb.FindReference(); err == nil || testdb.CI() {
			ref = testdb.New(t, b)
		}
		for _, rev := range referenceWalk {
			upgradeTo(t, m, rev, migrate.Options{Online: true, RunData: true})
			got := comparable(dump(t, ours), string(b))
			want, ok := golden(t, string(b), rev)
			if !ok {
				t.Fatalf("no golden dump for %s on %s in %s (regenerate with tools/refdump)", rev, b, root())
			}
			diff(t, rev+" (golden)", got, comparable(want, string(b)))
			if ref != nil {
				if _, stderr, code := testdb.RunReference(t, ref.URL, "db", "upgrade", "--version", rev); code != 0 {
					t.Fatalf("reference upgrade to %s: exit %d\n%s", rev, code, stderr)
				}
				diff(t, rev+" (live reference)", got, comparable(dump(t, ref), string(b)))
			}
		}
	})
}

// TestSyncSchema compares an offline sync (no triggers) with the
// reference's, and pins our own head schema in a golden file.
func TestSyncSchema(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		ours := testdb.New(t, b)
		m := manager(t, ours)
		upgradeTo(t, m, "wallaby_contract01", migrate.Options{RunData: true})
		want, err := os.ReadFile(filepath.Join(root(), string(b), "sync_wallaby_contract01.txt"))
		if err != nil {
			t.Fatal(err)
		}
		diff(t, "sync to wallaby_contract01", comparable(dump(t, ours), string(b)), comparable(string(want), string(b)))

		upgradeTo(t, m, "heads", migrate.Options{RunData: true})
		head := dump(t, ours)
		path := filepath.Join(root(), string(b), "ours_head.txt")
		if *update {
			if err := os.WriteFile(path, []byte(head), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pinned, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (create it with go test ./interop -run TestSyncSchema -update)", err)
		}
		diff(t, "head schema (ours_head.txt)", head, string(pinned))
	})
}
