package glance_test

import (
	"context"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestRebuilds: before an online run, the engine lists the tables whose
// columns the run changes in place, with their size and the server's
// buffer cache where the dialect reports them (MySQL/MariaDB: InnoDB's
// statistics and innodb_buffer_pool_size), so that the CLI can warn when
// a rebuild will outgrow the cache, and whether MariaDB will copy the
// table into a shadow instead (no warning then). From Mitaka, expand changes images
// (is_public becomes nullable) and contract changes it again (visibility
// becomes NOT NULL).
func TestRebuilds(t *testing.T) {
	ctx := context.Background()
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m := manager(t, b)
		upgrade(t, m, "mitaka02", migrate.Options{})
		var pool int64
		if b == testdb.MySQL {
			if err := m.DB.QueryRow("SELECT @@innodb_buffer_pool_size").Scan(&pool); err != nil {
				t.Fatal(err)
			}
		}
		check := func(target, rev string) {
			t.Helper()
			ids, _ := m.Graph().Resolve(target)
			for _, inPlace := range []bool{false, true} {
				got, err := m.Migrator.Rebuilds(ctx, ids, migrate.Options{Online: true, InPlaceRebuild: inPlace})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s (in place %v): %+v", target, inPlace, got)
				found := false
				for _, r := range got {
					if r.Revision != rev || r.Table != "images" {
						continue
					}
					found = true
					// MariaDB copies images into a shadow table
					// (unless told to rebuild in place): no warning.
					if want := b == testdb.MySQL && !inPlace; r.Shadow != want {
						t.Errorf("%s (in place %v): Shadow %v; want %v", rev, inPlace, r.Shadow, want)
					}
					if b == testdb.MySQL && (r.Size <= 0 || r.Cache != pool) {
						t.Errorf("%s: size %d, cache %d; want a size and the buffer pool, %d", rev, r.Size, r.Cache, pool)
					}
					if b != testdb.MySQL && (r.Size != 0 || r.Cache != 0) {
						t.Errorf("%s: size %d, cache %d; want 0, 0 (no Sizer)", rev, r.Size, r.Cache)
					}
				}
				if !found {
					t.Errorf("%s: %+v does not list images at %s", target, got, rev)
				}
			}
		}
		check("expand@head", "ocata_expand01")
		upgrade(t, m, "expand@head", migrate.Options{Online: true})
		check("contract@head", "ocata_contract01")
	})
}
