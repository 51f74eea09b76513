package purge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// refDB returns a fresh database of backend b whose schema the reference
// glance-manage created (`db sync`; Zed stops at wallaby_contract01, which
// has every table purge touches).
func refDB(t *testing.T, b testdb.Backend) (*testdb.DB, dialect.Dialect) {
	t.Helper()
	testdb.Reference(t)
	tdb := testdb.New(t, b)
	if out, errOut, code := testdb.RunReference(t, tdb.URL, "db", "sync"); code != 0 {
		t.Fatalf("reference db sync: exit %d\n%s\n%s", code, out, errOut)
	}
	d, err := glance.DialectFor(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return tdb, d
}

// TestScenarioAgainstReference runs each step of the scenario with the
// reference glance-manage on one database and with ours on another,
// both starting from the same fixture, and compares the rows left in every
// table. The only allowed difference is the revived rows (deleted =
// false with an old deleted_at), which upstream purges and we keep.
func TestScenarioAgainstReference(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		ref, d := refDB(t, b)
		ours, _ := refDB(t, b)
		now := time.Now()
		insertFixture(t, ref.SQL, d, now)
		insertFixture(t, ours.SQL, d, now)
		for _, s := range scenario {
			cmd := "purge"
			if s.images {
				cmd = "purge_images_table"
			}
			out, errOut, code := testdb.RunReference(t, ref.URL, append([]string{"db", cmd}, s.args...)...)
			if code != 0 {
				t.Fatalf("reference %s: exit %d\n%s\n%s", s.name, code, out, errOut)
			}
			runStep(t, ours, d, s, nil)
			got, want := remaining(t, ours.SQL), remaining(t, ref.SQL)
			for _, tbl := range purgedTables {
				extra := setDiff(got[tbl], want[tbl])
				if missing := setDiff(want[tbl], got[tbl]); len(missing) > 0 {
					t.Errorf("after %s: %s: we deleted %v, which the reference kept", s.name, tbl, missing)
				}
				if bad := setDiff(extra, revivedRows[tbl]); len(bad) > 0 {
					t.Errorf("after %s: %s: we kept %v, which the reference deleted", s.name, tbl, bad)
				}
			}
			if t.Failed() {
				t.Fatalf("ours:\n%sreference:\n%s", show(got), show(want))
			}
		}
		// The difference was exercised: the reference purged every
		// revived row, we kept them all.
		got, want := remaining(t, ours.SQL), remaining(t, ref.SQL)
		for tbl, ids := range revivedRows {
			if len(setDiff(ids, got[tbl])) > 0 || len(setDiff(ids, want[tbl])) != len(ids) {
				t.Errorf("%s: revived %v: ours %v, reference %v", tbl, ids, got[tbl], want[tbl])
			}
		}
	})
}

// TestReferencedImageAgainstReference pins the case where we deliberately
// differ: an old deleted image that a live tag still references. The
// reference fails the whole batch (exit 1, nothing deleted); we delete the
// other images and keep that one. On MySQL and PostgreSQL only: Zed's
// engine does not turn SQLite's foreign keys on (upstream's HEAD does), so
// on SQLite it deletes the referenced image and leaves the tag dangling.
func TestReferencedImageAgainstReference(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			ref, d := refDB(t, b)
			ours, _ := refDB(t, b)
			now := time.Now()
			for _, tdb := range []*testdb.DB{ref, ours} {
				insertFixture(t, tdb.SQL, d, now)
				exec(t, tdb, d, "INSERT INTO image_tags (id, image_id, value, created_at, deleted) VALUES (?, ?, ?, ?, ?)", 100, "i-185", "keep", ts(now, 300), false)
			}
			// Children of i-200 and i-190 go first, as an operator would do.
			testdb.RunReference(t, ref.URL, "db", "purge", "--max_rows", "-1")
			runStep(t, ours, d, step{age: 30, rows: -1}, nil)

			_, errOut, code := testdb.RunReference(t, ref.URL, "db", "purge_images_table")
			if code != 1 || !strings.Contains(errOut, purge.MsgFailed) {
				t.Fatalf("reference: exit %d, stderr:\n%s", code, errOut)
			}
			if got := strings.Join(remaining(t, ref.SQL)["images"], " "); got != "i-10 i-100 i-185 i-190 i-200 i-40 i-50 i-live i-revived" {
				t.Fatalf("reference deleted images despite failing: %s", got)
			}
			res := runStep(t, ours, d, step{images: true, age: 180, rows: 100}, nil)
			if got := strings.Join(remaining(t, ours.SQL)["images"], " "); got != "i-10 i-100 i-185 i-40 i-50 i-live i-revived" {
				t.Fatalf("ours left %s", got)
			}
			if tr := res.Tables[0]; tr.Deleted != 2 || tr.Kept != 1 || tr.KeptBy["image_tags"] != 1 {
				t.Fatalf("result %+v", tr)
			}
		})
	}
}

// setDiff returns the elements of a not in b.
func setDiff(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
