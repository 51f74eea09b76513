package migrate_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/migrate"
)

// TestNaming: a Naming's empty fields fall back to DefaultNaming, field
// by field, and its tables are told from the migrations'.
func TestNaming(t *testing.T) {
	for _, c := range []struct {
		name                 string
		n                    migrate.Naming
		table, lock, command string
		ours, theirs         string
	}{
		{"zero", migrate.Naming{}, "schema_engine_lock", "migrate", "migrate", "schema_engine_fence_x", "migrate_version"},
		{"prefix only", migrate.Naming{Prefix: "app_"}, "app_lock", "migrate", "migrate", "app_fence_x", "schema_engine_lock"},
		{"all", migrate.Naming{Prefix: "tool_", Lock: "tool", Program: "tool-cli"}, "tool_lock", "tool", "tool-cli", "tool_lock", "images"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.n.LockTable(); got != c.table {
				t.Errorf("LockTable() = %q, want %q", got, c.table)
			}
			if got := c.n.LockName(); got != c.lock {
				t.Errorf("LockName() = %q, want %q", got, c.lock)
			}
			if got := c.n.Command(); got != c.command {
				t.Errorf("Command() = %q, want %q", got, c.command)
			}
			if !c.n.IsBookkeeping(c.ours) || !c.n.IsBookkeeping(c.n.LockTable()) {
				t.Errorf("IsBookkeeping(%q or the lock table) = false", c.ours)
			}
			if c.n.IsBookkeeping(c.theirs) {
				t.Errorf("IsBookkeeping(%q) = true", c.theirs)
			}
		})
	}
}

// TestHolderString: a holder that names no command is still described.
func TestHolderString(t *testing.T) {
	if got, want := (migrate.Holder{Host: "h", PID: 42, Command: "db sync"}).String(), "db sync, pid 42 on host h"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (migrate.Holder{Host: "h", PID: 42}).String(), "pid 42 on host h"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
