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

// TestGoldenSetComplete checks that testdata/schema holds exactly the files
// Generate writes, for every backend.
func TestGoldenSetComplete(t *testing.T) {
	for _, b := range testdb.All {
		want := Files(b)
		got, err := filepath.Glob(filepath.Join(goldenDir, string(b), "*.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = filepath.Base(got[i])
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: golden files\n  %v\nwant\n  %v", b, got, want)
		}
	}
}

// TestGoldensMatchReference regenerates the goldens with the reference tool
// and compares them with the committed ones. It needs the reference tool and
// takes about half a minute; -short skips it.
func TestGoldensMatchReference(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reference glance-manage about 20 times per backend")
	}
	bin := testdb.Reference(t)
	for _, b := range testdb.All {
		t.Run(string(b), func(t *testing.T) {
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
}
