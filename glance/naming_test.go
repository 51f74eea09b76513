package glance_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/glance"
)

// TestNaming pins the names glance-manage has always given its own
// table and lock: databases upgraded by earlier versions hold them.
func TestNaming(t *testing.T) {
	if got := glance.Naming.LockTable(); got != "glance_manage_lock" {
		t.Errorf("lock table %q, want glance_manage_lock", got)
	}
	if got := glance.Naming.LockName(); got != "glance-manage" {
		t.Errorf("lock name %q, want glance-manage", got)
	}
	for _, table := range []string{"images", "alembic_version", "migrate_version"} {
		if glance.Naming.IsBookkeeping(table) {
			t.Errorf("%s taken for glance-manage's own table", table)
		}
	}
}
