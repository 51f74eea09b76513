package rolling_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/rolling"
)

var (
	images = flag.Int("rolling.images", 3000, "images seeded by TestRollingUpgrade")
	phase  = flag.Duration("rolling.phase", 2*time.Second, "traffic around each step of TestRollingUpgrade")
)

// TestRollingUpgrade runs old and new writers through expand, migrate
// (in --max-rows chunks) and contract on every backend, and fails on any
// failed write, lost row or wrong visibility. Scale it with
// -rolling.images and -rolling.phase; bench/rolling runs it at 100k and
// 1M images.
func TestRollingUpgrade(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		rep, err := rolling.Run(context.Background(), rolling.Config{
			Backend: string(b), DB: db.SQL, Images: *images, Phase: *phase,
			MigrateChunk: int64(*images / 3),
		})
		if rep != nil {
			t.Logf("\n%s", rep)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatal("the rolling upgrade lost or broke writes (see the report)")
		}
		if rep.Migrated == 0 {
			t.Fatal("the data migration migrated nothing")
		}
		for _, p := range rep.Phases {
			if p.Writes == 0 {
				t.Errorf("phase %s: no writes", p.Name)
			}
		}
	})
}
