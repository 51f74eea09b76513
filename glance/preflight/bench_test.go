package preflight_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// BenchmarkRun: what the checks cost db sync (preflight.Options as db
// sync passes them) on a database at head, where they stop after reading
// the version table, and on one at mitaka02, where every check runs.
//
//	go test ./glance/preflight -run '^$' -bench Run -benchtime 200x
func BenchmarkRun(b *testing.B) {
	for _, backend := range testdb.All {
		for _, rev := range []string{"heads", "mitaka02"} {
			b.Run(string(backend)+"/"+rev, func(b *testing.B) {
				db := testdb.New(b, backend)
				upgradeTB(b, db.URL, rev)
				m := openTB(b, db.URL)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := preflight.Run(ctx, m, preflight.Options{Before: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
