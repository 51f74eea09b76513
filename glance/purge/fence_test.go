package purge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestFencedPurgeStops: a purge whose migration lock is broken between
// two batches deletes nothing more and says the lock is lost.
func TestFencedPurgeStops(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := headDB(t, b)
		now := time.Now()
		liveImage(t, tdb, d, now)
		const rows = 1000
		var vals []string
		var args []any
		for i := 1; i <= rows; i++ {
			vals = append(vals, "(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, i, "img", fmt.Sprint("p", i), "v", ts(now, 300), ts(now, 40), true)
		}
		exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES "+strings.Join(vals, ", "), args...)
		ctx := context.Background()
		l := &migrate.Locker{DB: tdb.SQL, Dialect: d, Naming: glance.Naming}
		lease, err := l.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var deleted int64 // when the lock was broken
		o := purge.Options{AgeInDays: 30, MaxRows: -1, BatchSize: 100, FixedBatch: true, Fence: lease,
			Progress: func(p purge.Progress) {
				if p.Table == "image_properties" && p.Deleted > 0 && deleted == 0 {
					deleted = p.Deleted
					if _, err := l.Break(ctx, lease.Owner()); err != nil {
						t.Error(err)
					}
				}
			}}
		_, err = purge.Rows(ctx, tdb.SQL, d, o)
		if !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("purge after the break: %v; want ErrLockLost", err)
		}
		if left := len(remaining(t, tdb.SQL)["image_properties"]); int64(left) != rows-deleted || deleted != 100 {
			t.Fatalf("%d rows left, %d deleted before the break; want one batch (100) deleted and no more", left, deleted)
		}
		_ = lease.Release(ctx)
	})
}
