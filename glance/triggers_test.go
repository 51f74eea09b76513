package glance_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestVisibilityTriggers checks upstream's decision tables on every
// backend between an online expand and contract: old services write
// is_public, new ones visibility, and each sees what the other wrote.
func TestVisibilityTriggers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m := manager(t, b)
		upgrade(t, m, "ocata_expand01", migrate.Options{Online: true})
		now := time.Now().UTC()
		insert := func(id string, isPublic, visibility any) error {
			_, err := m.DB.Exec(fmt.Sprintf("INSERT INTO images (id, status, is_public, visibility, created_at, deleted, min_disk, min_ram, protected) VALUES (%s)", ph(m.Dialect, 9)),
				id, "active", isPublic, visibility, now, false, 0, 0, false)
			return err
		}
		read := func(id string) (bool, string) {
			var pub sql.NullBool
			var vis sql.NullString
			if err := m.DB.QueryRow("SELECT is_public, visibility FROM images WHERE id = "+m.Dialect.Placeholder(1), id).Scan(&pub, &vis); err != nil {
				t.Fatalf("read %s: %v", id, err)
			}
			return pub.Bool, vis.String
		}
		for _, tc := range []struct {
			id       string
			isPublic any
			vis      any
			wantPub  bool
			wantVis  string
			wantErr  bool
		}{
			{id: "old_public", isPublic: true, wantPub: true, wantVis: "public"},
			{id: "old_private", isPublic: false, wantVis: "shared"},
			{id: "new_private", vis: "private", wantVis: "private"},
			{id: "new_community", vis: "community", wantVis: "community"},
			{id: "new_public", vis: "public", wantPub: true, wantVis: "public"},
			{id: "new_shared", vis: "shared", wantVis: "shared"},
			{id: "both", isPublic: true, vis: "public", wantErr: true},
			{id: "neither", wantErr: true},
		} {
			err := insert(tc.id, tc.isPublic, tc.vis)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "Invalid visibility value") {
					t.Errorf("insert %s: err = %v, want Invalid visibility value", tc.id, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("insert %s: %v", tc.id, err)
			}
			if pub, vis := read(tc.id); pub != tc.wantPub || vis != tc.wantVis {
				t.Errorf("insert %s: got (%v, %s), want (%v, %s)", tc.id, pub, vis, tc.wantPub, tc.wantVis)
			}
		}
		update := func(set string, args ...any) error {
			_, err := m.DB.Exec("UPDATE images SET "+set, args...)
			return err
		}
		p := m.Dialect.Placeholder
		for _, tc := range []struct {
			name    string
			set     string
			args    []any
			id      string
			wantPub bool
			wantVis string
			wantErr bool
		}{
			{name: "old writer publishes", set: "is_public = " + p(1) + " WHERE id = " + p(2), args: []any{true, "old_private"}, id: "old_private", wantPub: true, wantVis: "public"},
			{name: "old writer unpublishes", set: "is_public = " + p(1) + " WHERE id = " + p(2), args: []any{false, "old_private"}, id: "old_private", wantVis: "shared"},
			{name: "new writer makes community", set: "visibility = " + p(1) + " WHERE id = " + p(2), args: []any{"community", "new_public"}, id: "new_public", wantVis: "community"},
			{name: "new writer publishes", set: "visibility = " + p(1) + " WHERE id = " + p(2), args: []any{"public", "new_private"}, id: "new_private", wantPub: true, wantVis: "public"},
			{name: "unrelated column", set: "name = " + p(1) + " WHERE id = " + p(2), args: []any{"renamed", "new_private"}, id: "new_private", wantPub: true, wantVis: "public"},
			{name: "both columns", set: "is_public = " + p(1) + ", visibility = " + p(2) + " WHERE id = " + p(3), args: []any{false, "private", "new_private"}, wantErr: true},
			{name: "is_public to NULL", set: "is_public = NULL WHERE id = " + p(1), args: []any{"old_public"}, wantErr: true},
			{name: "visibility to NULL", set: "visibility = NULL WHERE id = " + p(1), args: []any{"old_public"}, wantErr: true},
		} {
			err := update(tc.set, tc.args...)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "Invalid visibility value") {
					t.Errorf("%s: err = %v, want Invalid visibility value", tc.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if pub, vis := read(tc.id); pub != tc.wantPub || vis != tc.wantVis {
				t.Errorf("%s: got (%v, %s), want (%v, %s)", tc.name, pub, vis, tc.wantPub, tc.wantVis)
			}
		}
		// Contract removes the triggers; new writers keep working.
		upgrade(t, m, "heads", migrate.Options{Online: true, RunData: true})
		if _, err := m.DB.Exec(fmt.Sprintf("INSERT INTO images (id, status, visibility, created_at, deleted, min_disk, min_ram, protected) VALUES (%s)", ph(m.Dialect, 8)),
			"after_contract", "active", "private", now, false, 0, 0, false); err != nil {
			t.Fatalf("insert after contract: %v", err)
		}
		assertNoTriggers(t, m)
	})
}

func assertNoTriggers(t *testing.T, m *glance.Manager) {
	t.Helper()
	var q string
	switch m.Dialect.Name() {
	case "sqlite":
		q = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
	case "mysql":
		q = "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
	default:
		q = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
	}
	rows, err := m.DB.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		t.Errorf("trigger %s left after contract", n)
	}
}
