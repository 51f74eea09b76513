package interop

import (
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/clitest"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// ours runs this glance-manage (in process) against url.
func ours(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return clitest.Run(t, url, args...)
}

// TestLivingBesideAnOlderRelease: the reference is an older release (Zed,
// whose tool ends at wallaby_contract01). Our full sync takes the database
// past what it knows; `db sync wallaby_contract01` or `db upgrade
// --version` keep the database where that release expects it, and then
// the reference works on it, and its db check and ours with --release
// <the reference's version> agree. The reference's own check refuses
// PostgreSQL, so there only db version is compared.
func TestLivingBesideAnOlderRelease(t *testing.T) {
	testdb.Reference(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		out, _, code := testdb.RunReference(t, "sqlite://", "--version")
		refVersion := strings.TrimSpace(out)
		if code != 0 || refVersion == "" {
			t.Fatalf("reference --version: exit %d, %q", code, out)
		}
		// What a new user runs into: after our sync, the reference's
		// check asks for an expand it cannot run.
		db := testdb.New(t, b)
		mustOurs(t, db.URL, "db", "sync")
		if out, _, code := testdb.RunReference(t, db.URL, "db", "version"); code != 0 || strings.TrimSpace(out) != "2024_1_contract01" {
			t.Fatalf("reference db version after our sync: exit %d, %q", code, out)
		}
		if _, stderr, code := testdb.RunReference(t, db.URL, "db", "sync"); code == 0 || !strings.Contains(stderr, "Can't locate revision identified by '2024_1_contract01'") {
			t.Errorf("reference db sync after our sync: exit %d, want a failure with \"Can't locate revision\"\n%s", code, lastLines(stderr))
		}
		if b != testdb.PostgreSQL {
			if out, _, code := testdb.RunReference(t, db.URL, "db", "check"); code != 3 {
				t.Errorf("reference db check after our sync: exit %d, %q; want 3 (it asks for an expand)", code, out)
			}
		}
		if out, _, code := ours(t, db.URL, "db", "check", "--release", refVersion); code != 6 || !strings.HasPrefix(out, "The database is newer than release zed") {
			t.Errorf("our db check --release %s after our sync: exit %d, %q; want 6", refVersion, code, out)
		}

		// Each way of staying at the reference's level, then both
		// tools' answers.
		for _, tc := range []struct {
			name     string
			steps    [][]string // ours
			rows     string     // the reference's db version
			check    int        // the exit code of both checks
			refSteps [][]string // then the reference, which must succeed
			after    int        // both checks after the reference's steps
		}{
			{"db sync wallaby_contract01", [][]string{{"db", "sync", "wallaby_contract01"}}, "wallaby_contract01", 0,
				[][]string{{"db", "sync"}}, 0},
			{"db upgrade --version wallaby_contract01", [][]string{{"db", "upgrade", "--version", "wallaby_contract01"}}, "wallaby_contract01", 0,
				[][]string{{"db", "expand"}, {"db", "contract"}}, 0},
			// Halfway: the reference finishes the rolling upgrade.
			{"db upgrade --version wallaby_expand01", [][]string{{"db", "upgrade", "--version", "wallaby_expand01"}}, "wallaby_expand01", 5,
				[][]string{{"db", "migrate"}, {"db", "contract"}}, 0},
			// Expanded for 2024.1 beside Zed's services: both say up
			// to date (ours notes the expansion on stderr).
			{"db sync wallaby_contract01, db expand", [][]string{{"db", "sync", "wallaby_contract01"}, {"db", "expand"}}, "2024_1_expand01 wallaby_contract01", 0,
				nil, 0},
		} {
			db := testdb.New(t, b)
			for _, s := range tc.steps {
				mustOurs(t, db.URL, s...)
			}
			out, stderr, code := testdb.RunReference(t, db.URL, "db", "version")
			if rows := strings.Fields(out); code != 0 || !sameSet(rows, strings.Fields(tc.rows)) {
				t.Errorf("%s: reference db version: exit %d, %q; want %s\n%s", tc.name, code, out, tc.rows, lastLines(stderr))
			}
			agree := func(when string, want int) {
				t.Helper()
				ourOut, _, ourCode := ours(t, db.URL, "db", "check", "--release", refVersion)
				if ourCode != want {
					t.Errorf("%s, %s: our db check --release %s: exit %d, want %d: %q", tc.name, when, refVersion, ourCode, want, ourOut)
				}
				if b == testdb.PostgreSQL {
					return
				}
				refOut, stderr, refCode := testdb.RunReference(t, db.URL, "db", "check")
				if refCode != ourCode {
					t.Errorf("%s, %s: reference db check: exit %d, ours %d\nreference: %q\nours:      %q\n%s", tc.name, when, refCode, ourCode, refOut, ourOut, lastLines(stderr))
				}
				// Up to date is said in upstream's words by both.
				if want == 0 && refOut != ourOut {
					t.Errorf("%s, %s: db check says %q, the reference %q", tc.name, when, ourOut, refOut)
				}
			}
			agree("after ours", tc.check)
			for _, s := range tc.refSteps {
				if b == testdb.PostgreSQL && s[1] != "sync" {
					continue // the reference refuses rolling upgrades there
				}
				if out, stderr, code := testdb.RunReference(t, db.URL, s...); code != 0 {
					t.Errorf("%s: reference %s: exit %d\n%s%s", tc.name, strings.Join(s, " "), code, out, lastLines(stderr))
				}
			}
			if len(tc.refSteps) > 0 && b != testdb.PostgreSQL {
				agree("after the reference's "+tc.refSteps[len(tc.refSteps)-1][1], tc.after)
			}
		}
	})
}

func mustOurs(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, stderr, code := ours(t, url, args...)
	if code != 0 {
		t.Fatalf("our %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// lastLines is the end of a Python traceback, where the error is.
func lastLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	return strings.Join(lines, "\n") + "\n"
}
