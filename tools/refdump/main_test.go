package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

var goldenDir = filepath.Join("..", "..", "testdata", "schema")

// TestGoldenSetComplete checks that testdata/schema holds exactly the
// reference dumps Generate writes, for every backend (other files there are
// not refdump's business).
func TestGoldenSetComplete(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		want := Files(b)
		all, err := filepath.Glob(filepath.Join(goldenDir, string(b), "*.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range all {
			if generated(filepath.Base(p)) {
				got = append(got, filepath.Base(p))
			}
		}
		for _, f := range want {
			if !generated(f) {
				t.Errorf("Files(%s) lists %s, which writeDir would not recognise as generated", b, f)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: golden files\n  %v\nwant\n  %v", b, got, want)
		}
	})
}

// TestGoldensMatchReference regenerates the goldens with the reference tool
// and compares them with the committed ones. It needs the reference tool and
// takes about half a minute; -short skips it.
func TestGoldensMatchReference(t *testing.T) {
	if testing.Short() && !testdb.CI() {
		t.Skip("runs the reference glance-manage about 20 times per backend") // never under CI=true
	}
	bin := testdb.Reference(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		testdb.Require(t, b)
		t.Parallel()
		files, err := Generate(context.Background(), bin, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range Files(b) {
			want, err := os.ReadFile(filepath.Join(goldenDir, string(b), name))
			if err != nil {
				t.Error(err)
				continue
			}
			if files[name] != string(want) {
				t.Errorf("%s/%s differs from what the reference builds now; regenerate with go run ./tools/refdump", b, name)
			}
		}
	})
}

func TestWriteDirKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"ours_head.txt", "99_stale.txt", "sync_old.txt", "notes.md"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeDir(dir, map[string]string{"01_liberty.txt": "a"}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "01_liberty.txt notes.md ours_head.txt"; got != want {
		t.Errorf("after writeDir: %s, want %s", got, want)
	}
}
