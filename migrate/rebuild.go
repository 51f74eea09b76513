package migrate

import (
	"context"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Rebuild is a table that a revision of a plan changes a column of in
// place (schema.AlterColumn other than a change of default alone: on
// MySQL and MariaDB such a change may rebuild the table, see
// dialect.Sizer) or rebuilds outright (schema.RebuildTable, SQLite's way
// to change columns).
type Rebuild struct {
	Revision string
	Table    string
	// Size is the table's data and indexes in bytes and Cache the
	// server's buffer cache, when the dialect can tell (dialect.Sizer);
	// both are 0 otherwise.
	Size, Cache int64
	// Shadow: the table will be copied into a shadow table and swapped
	// in (dialect.Shadow) instead of rebuilt in place, so its size
	// against the cache does not make writers wait.
	Shadow bool
}

// Rebuilds lists, in plan order, the tables that the revisions from the
// database's current rows to targets change columns of or rebuild, with
// their sizes where the dialect reports them. It reads the version table
// and, with a dialect.Sizer, the server's statistics (once per table, as
// they are before the run); it changes nothing.
func (m *Migrator) Rebuilds(ctx context.Context, targets []string, o Options) ([]Rebuild, error) {
	rows, err := m.Heads(ctx)
	if err != nil {
		return nil, err
	}
	return m.RebuildsFrom(ctx, rows, targets, o)
}

// RebuildsFrom is Rebuilds for an upgrade from the version-table rows
// given (as the caller will stamp them first) instead of those read.
func (m *Migrator) RebuildsFrom(ctx context.Context, rows, targets []string, o Options) ([]Rebuild, error) {
	plan, err := m.Graph.Plan(rows, targets)
	if err != nil {
		return nil, err
	}
	sizer, _ := m.Dialect.(dialect.Sizer)
	sh, _ := m.Dialect.(dialect.Shadow)
	if !shadowWanted(o, m.online(o)) {
		sh = nil
	}
	// What the server says of each table, read once: its size and cache,
	// and whether it can be copied into a shadow.
	type table struct {
		size, cache int64
		copyable    bool
	}
	tables := map[string]table{}
	var out []Rebuild
	for _, rev := range plan {
		seen := map[string]bool{}
		for _, op := range rev.OpsFor(m.env(o, rows)) {
			var name string
			alter := false
			switch o := op.(type) {
			case schema.AlterColumn:
				if o.ChangeDefault && !o.ChangeNullable {
					continue // a default alone is a change of metadata
				}
				name, alter = o.Table, true
			case schema.RebuildTable:
				name = o.Table.Name
			}
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			t, ok := tables[name]
			if !ok {
				if sizer != nil {
					if t.size, t.cache, err = sizer.TableSize(ctx, m.DB, name); err != nil {
						return nil, err
					}
				}
				if sh != nil {
					// The table's own triggers may be gone by then (a
					// contract drops them first): only the server and
					// the table's shape decide here.
					st, err := sh.ShadowState(ctx, m.DB, name)
					if err != nil {
						return nil, err
					}
					t.copyable = st.Unsupported == ""
				}
				tables[name] = t
			}
			// Only a change of column is copied (shadowRun.alter).
			out = append(out, Rebuild{Revision: rev.ID, Table: name, Size: t.size, Cache: t.cache, Shadow: alter && t.copyable})
		}
		rows = m.Graph.ApplyStep(rows, rev.ID)
	}
	return out, nil
}
