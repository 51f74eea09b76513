package cli_test

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/clitest"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// runCLI runs glance-manage with OS_DATABASE__CONNECTION=url and nothing
// else from the environment.
func runCLI(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return clitest.Run(t, url, args...)
}

// mustCLI is runCLI that fails the test unless the exit code is 0.
func mustCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errs, code := runCLI(t, url, args...)
	if code != 0 {
		t.Fatalf("glance-manage %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	glancetest.Golden(t, filepath.Join("testdata", name), "output", got, *update)
}

// firstDiff shows the first differing line and a little context.
func firstDiff(want, got string) string { return glancetest.FirstDiff(want, got) }

func schemaOf(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := schemadump.Dump(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func snapshotOf(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := snapshot.Take(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// splitScript splits the output of --sql into statements, as the backend's
// command-line client would: a statement ends with the delimiter at the
// end of a line followed by a blank line (or the end); DELIMITER lines
// change the delimiter (mysql client); comment lines between statements
// are skipped.
func splitScript(script string) []string {
	lines := strings.Split(script, "\n")
	delim := ";"
	var out, cur []string
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if len(cur) == 0 {
			if t == "" || strings.HasPrefix(t, "--") {
				continue
			}
			if d, ok := strings.CutPrefix(t, "DELIMITER "); ok {
				delim = strings.TrimSpace(d)
				continue
			}
		}
		cur = append(cur, line)
		next := ""
		if i+1 < len(lines) {
			next = strings.TrimSpace(lines[i+1])
		}
		if strings.HasSuffix(t, delim) && (next == "" || strings.HasPrefix(next, "DELIMITER ")) {
			stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), delim)
			out = append(out, stmt)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// feed runs the statements of script on db, on one connection (the
// script's BEGIN and COMMIT must reach the same session).
func feed(t *testing.T, db *testdb.DB, script string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range splitScript(script) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("statement failed: %v\n%s", err, s)
		}
	}
}
