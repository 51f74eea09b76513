package cli

import (
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/migrate"
)

// TestRebuildWarning: an online run warns about a table it will rebuild
// in place only when the server reports a buffer cache smaller than the
// table (a shadow copy is not warned about), and
// the warning names the revision, the table, both sizes and what to do.
func TestRebuildWarning(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		r    migrate.Rebuild
		want []string // "" entries: no warning
	}{
		{migrate.Rebuild{Revision: "ocata_contract01", Table: "images", Size: 900 * mib, Cache: 128 * mib},
			[]string{"WARNING: ocata_contract01 rebuilds table images online", "(900.0 MiB of data and indexes)", "InnoDB buffer pool (128.0 MiB)", "Raise innodb_buffer_pool_size"}},
		{migrate.Rebuild{Revision: "ocata_contract01", Table: "images", Size: 100 * mib, Cache: 128 * mib}, nil},
		{migrate.Rebuild{Revision: "ocata_expand01", Table: "images", Size: 128 * mib, Cache: 128 * mib}, nil},
		{migrate.Rebuild{Revision: "ocata_expand01", Table: "images"}, nil}, // no Sizer (PostgreSQL, SQLite)
		// MariaDB copies into a shadow table: no rebuild replay to wait for.
		{migrate.Rebuild{Revision: "ocata_contract01", Table: "images", Size: 900 * mib, Cache: 128 * mib, Shadow: true}, nil},
	} {
		got := rebuildWarning(c.r)
		if len(c.want) == 0 {
			if got != "" {
				t.Errorf("%+v: warned %q; want no warning", c.r, got)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: warning %q lacks %q", c.r, got, w)
			}
		}
		if strings.Contains(got, "\n") {
			t.Errorf("warning spans lines: %q", got)
		}
	}
}
