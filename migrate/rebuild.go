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
	rows, plan, err := m.plan(ctx, targets)
	if err != nil {
		return nil, err
	}
	sizer, _ := m.Dialect.(dialect.Sizer)
	sh, _ := m.Dialect.(dialect.Shadow)
	if !shadowWanted(o, m.online(o)) {
		sh = nil
	}
	sized := map[string]Rebuild{} // each table's Size and Cache, read once
	var out []Rebuild
	for _, rev := range plan {
		seen := map[string]bool{}
		for _, op := range rev.OpsFor(m.env(o, rows)) {
			var table string
			switch o := op.(type) {
			case schema.AlterColumn:
				if o.ChangeDefault && !o.ChangeNullable {
					continue // a default alone is a change of metadata
				}
				table = o.Table
			case schema.RebuildTable:
				table = o.Table.Name
			}
			if table == "" || seen[table] {
				continue
			}
			seen[table] = true
			r, ok := sized[table]
			if !ok {
				r.Table = table
				if sizer != nil {
					if r.Size, r.Cache, err = sizer.TableSize(ctx, m.DB, table); err != nil {
						return nil, err
					}
				}
				if _, alter := op.(schema.AlterColumn); alter && sh != nil {
					// The table's own triggers may be gone by then (a
					// contract drops them first): only the server and
					// the table's shape decide here.
					st, err := sh.ShadowState(ctx, m.DB, table)
					if err != nil {
						return nil, err
					}
					r.Shadow = st.Unsupported == ""
				}
				sized[table] = r
			}
			r.Revision = rev.ID
			out = append(out, r)
		}
		rows = m.Graph.ApplyStep(rows, rev.ID)
	}
	return out, nil
}
