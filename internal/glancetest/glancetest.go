// Package glancetest holds the helpers the test suites of several
// packages share: a Manager on a fresh test database, upgrades to a
// target, golden files with their diffs, and the tool built with its
// crash points. It is imported by tests only.
package glancetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// Manager returns a Manager on db.
func Manager(t testing.TB, db *testdb.DB) *glance.Manager {
	t.Helper()
	m, err := glance.New(db.SQL, string(db.Backend))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// New returns a Manager on a fresh database of backend b, and the
// database (testdb.New: skipped or failed as it decides).
func New(t testing.TB, b testdb.Backend) (*glance.Manager, *testdb.DB) {
	t.Helper()
	db := testdb.New(t, b)
	return Manager(t, db), db
}

// UpgradeErr upgrades m to target (a revision, a label or "heads") with
// o.
func UpgradeErr(ctx context.Context, m *glance.Manager, target string, o migrate.Options) (*migrate.Result, error) {
	ids, err := m.Graph().Resolve(target)
	if err != nil {
		return nil, err
	}
	return m.Migrator.Upgrade(ctx, ids, o)
}

// Upgrade is UpgradeErr that fails t on an error.
func Upgrade(t testing.TB, m *glance.Manager, target string, o migrate.Options) *migrate.Result {
	t.Helper()
	res, err := UpgradeErr(context.Background(), m, target, o)
	if err != nil {
		t.Fatalf("upgrade to %s: %v", target, err)
	}
	return res
}

// CrashBinary builds glance-manage with its crash points (build tag
// crashtest) into a temporary directory of t and returns its path.
func CrashBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "glance-manage")
	out, err := exec.Command("go", "build", "-tags", "crashtest", "-o", bin,
		"github.com/glance-manage/glance-manage/cmd/glance-manage").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags crashtest: %v\n%s", err, out)
	}
	return bin
}

// Golden compares got with the file at path, or, when update is set
// (each package's -update flag), writes got there. what names the
// content in the failure ("dump", "output").
func Golden(t testing.TB, path, what, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test -update to accept):\n%s", what, path, LineDiff(string(want), got))
	}
}

// FirstDiff shows the first line where want and got differ, "" when
// none does.
func FirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return ""
}

// LineDiff lists the lines of want missing from got ("- ") and of got
// missing from want ("+ "), along their longest common subsequence (fine
// for golden-sized inputs).
func LineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	l := make([][]int, len(w)+1)
	for i := range l {
		l[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i++
			j++
		case j < len(g) && (i == len(w) || l[i][j+1] >= l[i+1][j]):
			b.WriteString("+ " + g[j] + "\n")
			j++
		default:
			b.WriteString("- " + w[i] + "\n")
			i++
		}
	}
	return b.String()
}
