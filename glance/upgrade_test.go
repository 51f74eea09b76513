package glance_test

import (
	"context"
	"fmt"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// manager returns a Manager on a fresh database of backend b.
func manager(t *testing.T, b testdb.Backend) *glance.Manager {
	t.Helper()
	m, _ := glancetest.New(t, b)
	return m
}

func upgrade(t *testing.T, m *glance.Manager, target string, o migrate.Options) *migrate.Result {
	t.Helper()
	return glancetest.Upgrade(t, m, target, o)
}

// ph renders n placeholders for the manager's dialect.
func ph(d dialect.Dialect, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = d.Placeholder(i + 1)
	}
	return strings.Join(p, ", ")
}

// legacyImage inserts an image the way a pre-Ocata service did.
func legacyImage(t *testing.T, m *glance.Manager, id string, public bool) {
	t.Helper()
	_, err := m.DB.Exec(fmt.Sprintf("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (%s)", ph(m.Dialect, 9)),
		id, id, "active", public, time.Now().UTC(), false, 0, 0, false)
	if err != nil {
		t.Fatalf("insert image %s: %v", id, err)
	}
}

func member(t *testing.T, m *glance.Manager, image, who string, deleted bool) {
	t.Helper()
	_, err := m.DB.Exec(fmt.Sprintf("INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) VALUES (%s)", ph(m.Dialect, 6)),
		image, who, true, time.Now().UTC(), deleted, "accepted")
	if err != nil {
		t.Fatal(err)
	}
}

func location(t *testing.T, m *glance.Manager, image, meta string) {
	t.Helper()
	_, err := m.DB.Exec(fmt.Sprintf("INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status) VALUES (%s)", ph(m.Dialect, 6)),
		image, "file:///"+image, time.Now().UTC(), false, meta, "active")
	if err != nil {
		t.Fatal(err)
	}
}

// TestOfflineSyncFromMitakaKeepsVisibility is the data-loss case of
// upstream: its sync of a Mitaka-era database drops is_public without
// having filled visibility (its data migrations only run for the current
// release). Ours runs the ocata and train data migrations on the way.
func TestOfflineSyncFromMitakaKeepsVisibility(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m := manager(t, b)
		upgrade(t, m, "mitaka02", migrate.Options{})
		legacyImage(t, m, "public_image", true)
		legacyImage(t, m, "shared_image", false)
		legacyImage(t, m, "private_image", false)
		legacyImage(t, m, "formerly_shared_image", false)
		member(t, m, "shared_image", "tenant_a", false)
		member(t, m, "shared_image", "tenant_b", true)
		member(t, m, "formerly_shared_image", "tenant_c", true)
		location(t, m, "public_image", `{"backend": "fast"}`)
		location(t, m, "shared_image", `{"store": "cheap"}`)
		location(t, m, "private_image", `{"backend": "slow", "nested": {"backend": "x"}}`)

		res := upgrade(t, m, "heads", migrate.Options{RunData: true})
		if got := strings.Join(res.Heads, ","); got != "2024_1_contract01" {
			t.Fatalf("heads after sync: %s", got)
		}
		if res.Data != 4+2 {
			t.Errorf("data migrations changed %d rows, want 6 (4 images, 2 locations)", res.Data)
		}
		want := map[string]string{
			"public_image": "public", "shared_image": "shared",
			"private_image": "private", "formerly_shared_image": "private",
		}
		rows, err := m.DB.Query("SELECT id, visibility FROM images")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var id, vis string
			if err := rows.Scan(&id, &vis); err != nil {
				t.Fatal(err)
			}
			got[id] = vis
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("visibility after sync = %v, want %v", got, want)
		}
		var metas []string
		lrows, err := m.DB.Query("SELECT meta_data FROM image_locations ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer lrows.Close()
		for lrows.Next() {
			var s string
			if err := lrows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			metas = append(metas, s)
		}
		wantMeta := []string{`{"store": "fast"}`, `{"store": "cheap"}`, `{"store": "slow", "nested": {"store": "x"}}`}
		if fmt.Sprint(metas) != fmt.Sprint(wantMeta) {
			t.Errorf("location metadata = %q, want %q", metas, wantMeta)
		}
	})
}

// TestContractRefusesWhileDataPending: an online contract must not drop
// is_public while an image still has no visibility.
func TestContractRefusesWhileDataPending(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m := manager(t, b)
		upgrade(t, m, "mitaka02", migrate.Options{})
		legacyImage(t, m, "img", true)
		upgrade(t, m, "expand@head", migrate.Options{Online: true})
		ids, _ := m.Graph().Resolve("contract@head")
		_, err := m.Migrator.Upgrade(context.Background(), ids, migrate.Options{Online: true})
		var dp *migrate.DataPendingError
		if !asDataPending(err, &dp) || dp.Rows != 1 {
			t.Fatalf("contract with pending data: err = %v", err)
		}
		ok, err := m.Dialect.ColumnExists(context.Background(), m.DB, "images", "is_public")
		if err != nil || !ok {
			t.Fatalf("is_public must survive a refused contract (exists=%v, err=%v)", ok, err)
		}
		n, remaining, err := m.Migrator.RunData(context.Background(), -1, migrate.Options{DataBatch: 1})
		if err != nil || n != 1 || remaining {
			t.Fatalf("RunData = %d, %v, %v", n, remaining, err)
		}
		upgrade(t, m, "contract@head", migrate.Options{Online: true})
	})
}
