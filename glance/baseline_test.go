package glance_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

func dumpOf(t *testing.T, m *glance.Manager) string {
	t.Helper()
	s, err := schemadump.Dump(context.Background(), m.DB, m.Dialect.Name())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameDump(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s: schemas differ at line %d:\n one step: %q\n  walked: %q", what, i+1, g, w)
		}
	}
}

// TestBaselineEqualsWalk: an empty database built in one step (the
// schema the plan leaves, created directly) ends exactly where applying
// every revision in turn ends: same tables, columns in the same order,
// indexes, constraints (MariaDB's check names included), triggers and
// alembic_version rows; for the offline sync, the reference's head, and
// an online expand (with its triggers).
func TestBaselineEqualsWalk(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, tc := range []struct {
			target string
			o      migrate.Options
		}{
			{"heads", migrate.Options{RunData: true}},
			{"wallaby_contract01", migrate.Options{RunData: true}},
			{"expand@head", migrate.Options{Online: true}},
		} {
			var events []migrate.EventKind
			one := manager(t, b)
			one.Migrator.Observe = func(e migrate.Event) error {
				events = append(events, e.Kind)
				return nil
			}
			res := upgrade(t, one, tc.target, tc.o)
			if len(events) == 0 || events[0] != migrate.BaselineStart {
				t.Fatalf("%s: expected a one-step build on an empty database", tc.target)
			}
			walked := manager(t, b)
			o := tc.o
			o.NoBaseline = true
			wres := upgrade(t, walked, tc.target, o)
			sameDump(t, tc.target, dumpOf(t, one), dumpOf(t, walked))
			if strings.Join(res.Heads, ",") != strings.Join(wres.Heads, ",") || strings.Join(res.Applied, ",") != strings.Join(wres.Applied, ",") {
				t.Errorf("%s: result %+v, walked %+v", tc.target, res, wres)
			}
		}
	})
}

// TestBaselineInterrupted stops a one-step build after each of its
// statements in turn; the next upgrade finishes it (on MySQL, where the
// statements commit one by one, by dropping the empty tables it left and
// building again), ending with the schema of an uninterrupted build.
func TestBaselineInterrupted(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		clean := manager(t, b)
		var statements int
		clean.Migrator.Observe = func(e migrate.Event) error {
			if e.Kind == migrate.Statement {
				statements++
			}
			return nil
		}
		upgrade(t, clean, "heads", migrate.Options{RunData: true})
		want := dumpOf(t, clean)
		// Every statement on SQLite (cheap); a spread on the servers.
		step := 1
		if b != testdb.SQLite {
			step = max(1, statements/6)
		}
		stop := errors.New("killed")
		for k := 0; k < statements; k += step {
			m := manager(t, b)
			n := 0
			m.Migrator.Observe = func(e migrate.Event) error {
				if e.Kind == migrate.Statement {
					if n == k {
						return stop
					}
					n++
				}
				return nil
			}
			ids := m.Graph().Heads()
			if _, err := m.Migrator.Upgrade(context.Background(), ids, migrate.Options{RunData: true}); !errors.Is(err, stop) {
				t.Fatalf("stop before statement %d: %v", k, err)
			}
			m.Migrator.Observe = nil
			if p, err := m.PlaceUnderControl(context.Background()); err != nil || p.Revision != "" {
				t.Fatalf("after a stop before statement %d the database is refused: %+v, %v", k, p, err)
			}
			upgrade(t, m, "heads", migrate.Options{RunData: true})
			sameDump(t, "re-run after a stop", dumpOf(t, m), want)
		}
	})
}
