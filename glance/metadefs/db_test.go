package metadefs_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/metadefs"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// migrated returns a fresh database of backend b at revision target
// ("" means our heads).
func migrated(t testing.TB, b testdb.Backend, target string) (*testdb.DB, dialect.Dialect) {
	t.Helper()
	tdb := testdb.New(t, b)
	m, err := glance.New(tdb.SQL, string(b))
	if err != nil {
		t.Fatal(err)
	}
	targets := m.Graph().Heads()
	if target != "" {
		targets = []string{target}
	}
	if _, err := m.Migrator.Upgrade(context.Background(), targets, migrate.Options{RunData: true}); err != nil {
		t.Fatal(err)
	}
	return tdb, m.Dialect
}

func load(t testing.TB, db *sql.DB, d dialect.Dialect, path string, o metadefs.LoadOptions) *metadefs.LoadResult {
	t.Helper()
	defs, err := metadefs.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := metadefs.Load(context.Background(), db, d, defs, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// contentQueries read the metadef tables by natural keys (no ids, no
// timestamps): what an export/load round trip must keep.
var contentQueries = []string{
	"SELECT namespace, display_name, description, visibility, protected, owner FROM metadef_namespaces ORDER BY namespace",
	"SELECT name, protected FROM metadef_resource_types ORDER BY name",
	"SELECT n.namespace, r.name, a.prefix, a.properties_target FROM metadef_namespace_resource_types a JOIN metadef_namespaces n ON n.id = a.namespace_id JOIN metadef_resource_types r ON r.id = a.resource_type_id ORDER BY n.namespace, r.name",
	"SELECT n.namespace, p.name, p.json_schema FROM metadef_properties p JOIN metadef_namespaces n ON n.id = p.namespace_id ORDER BY n.namespace, p.name",
	"SELECT n.namespace, o.name, o.description, o.required, o.json_schema FROM metadef_objects o JOIN metadef_namespaces n ON n.id = o.namespace_id ORDER BY n.namespace, o.name",
	"SELECT n.namespace, t.name FROM metadef_tags t JOIN metadef_namespaces n ON n.id = t.namespace_id ORDER BY n.namespace, t.name",
}

// rowsOf runs q and renders each row as one line; non-NULL timestamp
// columns (created_at, updated_at) become "<ts>".
func rowsOf(t testing.TB, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, v := range vals {
			s := v.String
			switch {
			case !v.Valid:
				s = "NULL"
			case strings.HasSuffix(cols[i], "_at"):
				s = "<ts>"
			}
			parts = append(parts, cols[i]+"="+s)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func content(t testing.TB, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range contentQueries {
		for _, r := range rowsOf(t, db, q) {
			fmt.Fprintln(&b, r)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

func count(t testing.TB, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRules checks upstream's rules for an existing namespace on every
// backend: skip, merge (add what is missing), prefer_new (also update)
// and overwrite (delete and load again).
func TestLoadRules(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := migrated(t, b, "")
		var logs []string
		load(t, tdb.SQL, d, "testdata/load", metadefs.LoadOptions{Log: func(s string) { logs = append(logs, s) }})
		for table, want := range map[string]int{"metadef_namespaces": 2, "metadef_resource_types": 3, "metadef_namespace_resource_types": 4, "metadef_properties": 3, "metadef_objects": 2, "metadef_tags": 2} {
			if got := count(t, tdb.SQL, table); got != want {
				t.Errorf("%s: %d rows, want %d", table, got, want)
			}
		}
		if last := logs[len(logs)-1]; last != "Metadata loading finished" {
			t.Errorf("last log line %q", last)
		}
		want := rowsOf(t, tdb.SQL, "SELECT namespace, owner, protected, visibility, created_at, updated_at FROM metadef_namespaces ORDER BY namespace")
		if len(want) != 2 || !strings.Contains(want[0], "owner=admin") || !strings.Contains(want[0], "updated_at=NULL") || !strings.Contains(want[1], "owner=someone") || !strings.Contains(want[1], "protected=NULL") {
			t.Fatalf("namespaces: %v", want)
		}
		before := content(t, tdb.SQL)

		// A changed alpha: new description, a changed and a new
		// property, a new tag, a changed prefix.
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "alpha.json"), `{"namespace": "Test::Alpha", "display_name": "Alpha", "description": "changed",
			"resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "new_"}],
			"properties": {"speed": {"type": "string"}, "extra": {"type": "integer"}},
			"tags": [{"name": "green"}]}`)

		res := load(t, tdb.SQL, d, dir, metadefs.LoadOptions{})
		if res.Skipped != 1 || content(t, tdb.SQL) != before {
			t.Fatalf("plain load of an existing namespace changed something (%+v)", res)
		}

		load(t, tdb.SQL, d, dir, metadefs.LoadOptions{Merge: true})
		merged := content(t, tdb.SQL)
		for _, s := range []string{"description=First test namespace", `name=speed | json_schema={"title": "Speed"`, `name=extra | json_schema={"type": "integer"}`, "name=green", "prefix=alpha_"} {
			if !strings.Contains(merged, s) {
				t.Errorf("after --merge: missing %q in\n%s", s, merged)
			}
		}

		load(t, tdb.SQL, d, dir, metadefs.LoadOptions{Merge: true, PreferNew: true})
		newer := content(t, tdb.SQL)
		for _, s := range []string{"description=changed", `name=speed | json_schema={"type": "string"}`, "prefix=new_", "name=mode", "display_name=Alpha |"} {
			if !strings.Contains(newer, s) {
				t.Errorf("after --merge --prefer_new: missing %q in\n%s", s, newer)
			}
		}
		if ns := rowsOf(t, tdb.SQL, "SELECT updated_at FROM metadef_namespaces WHERE namespace = 'Test::Alpha'"); ns[0] != "updated_at=<ts>" {
			t.Errorf("prefer_new left updated_at %v", ns)
		}

		load(t, tdb.SQL, d, dir, metadefs.LoadOptions{Merge: true, Overwrite: true})
		over := content(t, tdb.SQL)
		for _, s := range []string{"name=mode", "name=red", "name=Limits", "OS::Nova::Flavor | prefix"} {
			if strings.Contains(over, s) {
				t.Errorf("after --merge --overwrite: %q is still there:\n%s", s, over)
			}
		}
		if got := count(t, tdb.SQL, "metadef_properties"); got != 3 { // extra, speed + beta's x
			t.Errorf("after overwrite: %d properties", got)
		}
	})
}

func TestLoadOptionsChecked(t *testing.T) {
	for _, c := range []struct {
		o    metadefs.LoadOptions
		want string
	}{
		{metadefs.LoadOptions{PreferNew: true}, metadefs.MsgNeedMerge},
		{metadefs.LoadOptions{Overwrite: true}, metadefs.MsgNeedMerge},
		{metadefs.LoadOptions{Merge: true, PreferNew: true, Overwrite: true}, metadefs.MsgOneOption},
		{metadefs.LoadOptions{Merge: true, PreferNew: true}, ""},
	} {
		err := c.o.Check()
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%+v: %v", c.o, err)
		}
	}
}

// TestLoadIsAllOrNothing makes the database refuse the second file's rows
// (its metadef_tags table is gone) and checks that the first file's rows
// were rolled back too.
func TestLoadIsAllOrNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := migrated(t, b, "")
		if _, err := tdb.SQL.Exec("DROP TABLE metadef_tags"); err != nil {
			t.Fatal(err)
		}
		first, err := metadefs.ReadFile("testdata/load/beta.json")
		if err != nil {
			t.Fatal(err)
		}
		second, err := metadefs.ReadFile("testdata/load/alpha.json")
		if err != nil {
			t.Fatal(err)
		}
		_, err = metadefs.Load(context.Background(), tdb.SQL, d, []*metadefs.Namespace{first, second}, metadefs.LoadOptions{})
		var de *metadefs.DBError
		if err == nil || !strings.Contains(err.Error(), "alpha.json") || !errorsAs(err, &de) || de.Namespace != "Test::Alpha" {
			t.Fatalf("err = %v", err)
		}
		for _, table := range []string{"metadef_namespaces", "metadef_resource_types", "metadef_namespace_resource_types", "metadef_properties", "metadef_objects"} {
			if n := count(t, tdb.SQL, table); n != 0 {
				t.Errorf("%s: %d rows left after a failed load", table, n)
			}
		}
	})
}

// TestExportRoundTrip exports, checks upstream's file layout, unloads,
// loads the export and compares the content.
func TestExportRoundTrip(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := migrated(t, b, "")
		load(t, tdb.SQL, d, "testdata/load", metadefs.LoadOptions{})
		// The export does not carry owner (upstream's layout): make it
		// the default so that the round trip is exact.
		if _, err := tdb.SQL.Exec("UPDATE metadef_namespaces SET owner = 'admin'"); err != nil {
			t.Fatal(err)
		}
		before := content(t, tdb.SQL)
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "Beta.json"), "old")
		var logs []string
		files, err := metadefs.Export(context.Background(), tdb.SQL, d, metadefs.ExportOptions{Path: dir + "/", Log: func(s string) { logs = append(logs, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 2 || files[0].Path != dir+"/AlphaTestNamespace.json" || files[1].Path != dir+"/Beta.json" {
			t.Fatalf("files: %+v", files)
		}
		if !strings.Contains(strings.Join(logs, "\n"), "Overwriting: "+dir+"/Beta.json\nNamespace Beta saved in "+dir+"/Beta.json") {
			t.Errorf("logs: %q", logs)
		}
		got, _ := os.ReadFile(files[1].Path)
		want := `{"namespace": "Test::Beta", "display_name": "Beta", "description": null, "visibility": null, "protected": null, "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": null, "properties_target": null}, {"name": "OS::Cinder::Volume", "prefix": null, "properties_target": "image"}], "properties": {"x": {"type": "boolean"}}, "objects": [], "tags": []}`
		if string(got) != want {
			t.Errorf("Beta.json:\n got %s\nwant %s", got, want)
		}
		if err := metadefs.Unload(context.Background(), tdb.SQL, nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, table := range metadefs.Tables {
			if n := count(t, tdb.SQL, table); n != 0 {
				t.Fatalf("%s: %d rows after unload", table, n)
			}
		}
		load(t, tdb.SQL, d, dir, metadefs.LoadOptions{})
		if after := content(t, tdb.SQL); after != before {
			t.Fatalf("round trip changed the content:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

func TestExportRefusesClashingFileNames(t *testing.T) {
	tdb, d := migrated(t, testdb.SQLite, "")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.json"), `{"namespace": "A", "display_name": "Same Name"}`)
	writeFile(t, filepath.Join(dir, "b.json"), `{"namespace": "B", "display_name": "Same_Name"}`)
	load(t, tdb.SQL, d, dir, metadefs.LoadOptions{})
	out := t.TempDir() + "/"
	_, err := metadefs.Export(context.Background(), tdb.SQL, d, metadefs.ExportOptions{Path: out})
	var ce *metadefs.ClashError
	if !errorsAs(err, &ce) || ce.File != out+"SameName.json" {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("files written despite the clash: %v", entries)
	}
}
