package glance_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance/datamigrations"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// recorder is a Querier that remembers the last query it ran.
type recorder struct {
	dialect.Querier
	query string
	args  []any
}

func (r *recorder) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r.query, r.args = query, args
	return r.Querier.QueryRowContext(ctx, query, args...)
}

// TestVisibilityRangeSeeks: the ocata data migration finds each batch
// (the next rows without a visibility after the cursor) as a range of
// keys, and on MySQL/MariaDB reads it as a range of the visibility index
// starting at the cursor. Left to itself, MariaDB looked up every NULL
// entry from the first and filtered them by key, so each batch's search
// grew with how far the migration had got. A database whose index was
// dropped is still searched.
func TestVisibilityRangeSeeks(t *testing.T) {
	ctx := context.Background()
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m := manager(t, b)
		upgrade(t, m, "mitaka02", migrate.Options{})
		for i := range 6 {
			legacyImage(t, m, fmt.Sprintf("img-%d", i), i%2 == 0)
		}
		if b == testdb.MySQL {
			for i := 0; i < 40000; i += 1000 {
				var vals []string
				for j := i; j < i+1000; j++ {
					vals = append(vals, fmt.Sprintf("('bulk-%05d', 'x', 'active', 0, NOW(), 0, 0, 0, 0)", j))
				}
				if _, err := m.DB.ExecContext(ctx, "INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES "+strings.Join(vals, ", ")); err != nil {
					t.Fatal(err)
				}
			}
		}
		upgrade(t, m, "expand@head", migrate.Options{Online: true})
		var dm *migrate.DataMigration
		for _, d := range datamigrations.All() {
			if d.Name == "ocata_migrate01_community_images" {
				dm = d
			}
		}
		if dm == nil {
			t.Fatal("no data migration ocata_migrate01_community_images")
		}
		rec := &recorder{Querier: m.DB}
		upper, n, err := dm.Range(ctx, rec, m.Dialect, "img-1", 3)
		if err != nil || upper != "img-4" || n != 3 {
			t.Fatalf("Range after img-1, 3 rows = %q, %d, %v; want img-4, 3", upper, n, err)
		}
		if upper, n, err = dm.Range(ctx, rec, m.Dialect, "img-4", 3); err != nil || upper != "img-5" || n != 1 {
			t.Fatalf("Range after img-4, 3 rows = %q, %d, %v; want img-5, 1", upper, n, err)
		}
		if b != testdb.MySQL {
			return
		}
		// The plan as it is on a table of some size, half migrated.
		if _, err := m.DB.ExecContext(ctx, "UPDATE images SET visibility = 'private' WHERE id < 'bulk-20000'"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.DB.ExecContext(ctx, "ANALYZE TABLE images"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := dm.Range(ctx, rec, m.Dialect, "bulk-30000", 100); err != nil {
			t.Fatal(err)
		}
		rows, err := m.DB.QueryContext(ctx, "EXPLAIN "+rec.query, rec.args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		plan := explainRows(t, rows)
		found := false
		for _, row := range plan {
			if row["table"] == "images" {
				found = true
				if row["type"] != "range" || row["key"] != "visibility_image_idx" {
					t.Errorf("the batch search reads images by %s of %s; want a range of visibility_image_idx (plan %v)", row["type"], row["key"], plan)
				}
			}
		}
		if !found {
			t.Errorf("no images row in the plan %v", plan)
		}

		// Without the index, the search goes on unhinted.
		if _, err := m.DB.ExecContext(ctx, "DROP INDEX visibility_image_idx ON images"); err != nil {
			t.Fatal(err)
		}
		if upper, n, err := dm.Range(ctx, rec, m.Dialect, "img-1", 3); err != nil || upper != "img-4" || n != 3 {
			t.Fatalf("without visibility_image_idx, Range after img-1, 3 rows = %q, %d, %v; want img-4, 3", upper, n, err)
		}
	})
}

// explainRows reads an EXPLAIN's rows as maps of column to text.
func explainRows(t *testing.T, rows *sql.Rows) []map[string]string {
	t.Helper()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
