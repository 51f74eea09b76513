package metadefs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/metadefs"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestFencedLoadAndUnload: a load or unload that runs under a migration
// lock that was broken changes nothing and says the lock is lost; under a
// lock still held, they run.
func TestFencedLoadAndUnload(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := migrated(t, b, "")
		ctx := context.Background()
		l := &migrate.Locker{DB: tdb.SQL, Dialect: d, Naming: glance.Naming}
		lease, err := l.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		load(t, tdb.SQL, d, "testdata/load", metadefs.LoadOptions{Fence: lease})
		loaded := content(t, tdb.SQL)
		if count(t, tdb.SQL, "metadef_namespaces") == 0 {
			t.Fatal("nothing loaded under a held lock")
		}
		if _, err := l.Break(ctx, lease.Owner()); err != nil {
			t.Fatal(err)
		}
		if err := metadefs.Unload(ctx, tdb.SQL, nil, lease); !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("unload after the break: %v; want ErrLockLost", err)
		}
		defs, err := metadefs.ReadAll("testdata/load")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := metadefs.Load(ctx, tdb.SQL, d, defs, metadefs.LoadOptions{Merge: true, Overwrite: true, Fence: lease}); !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("load after the break: %v; want ErrLockLost", err)
		}
		if got := content(t, tdb.SQL); got != loaded {
			t.Errorf("the metadefs changed after the break")
		}
		_ = lease.Release(ctx)
	})
}
