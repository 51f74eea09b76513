package metadefs_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/metadefs"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// EnvMetadefs names the directory of upstream's definition files (the
// glance-common package installs them at upstream's default path).
const EnvMetadefs = "GLANCE_METADEFS_DIR"

func shippedDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(EnvMetadefs)
	if dir == "" {
		dir = "/etc/glance/metadefs/"
	}
	if files, err := filepath.Glob(filepath.Join(dir, "*.json")); err != nil || len(files) == 0 {
		msg := "upstream's metadefs files not found in " + dir + ": install glance-common (or unpack it) and set " + EnvMetadefs
		if testdb.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// exactRows dumps every metadef table, ids included, timestamps reduced
// to set or NULL.
func exactRows(t *testing.T, tdb *testdb.DB) map[string][]string {
	t.Helper()
	order := map[string]string{
		"metadef_namespaces":               "id",
		"metadef_resource_types":           "id",
		"metadef_namespace_resource_types": "namespace_id, resource_type_id",
		"metadef_properties":               "id",
		"metadef_objects":                  "id",
		"metadef_tags":                     "id",
	}
	out := map[string][]string{}
	for table, by := range order {
		out[table] = rowsOf(t, tdb.SQL, "SELECT * FROM "+table+" ORDER BY "+by)
	}
	return out
}

func compareExact(t *testing.T, step string, ours, ref *testdb.DB) {
	t.Helper()
	got, want := exactRows(t, ours), exactRows(t, ref)
	for _, table := range metadefs.Tables {
		g, w := got[table], want[table]
		if strings.Join(g, "\n") == strings.Join(w, "\n") {
			continue
		}
		for i := 0; i < max(len(g), len(w)); i++ {
			var a, b string
			if i < len(g) {
				a = g[i]
			}
			if i < len(w) {
				b = w[i]
			}
			if a != b {
				t.Errorf("after %s: %s row %d differs (%d vs %d rows):\n ours: %s\n  ref: %s", step, table, i, len(g), len(w), a, b)
				break
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// changedCopy writes a changed copy of every third of upstream's files
// (keeping the reference runs short) to a new directory: each namespace gets a new description, one changed, one new and one
// dropped property, a changed prefix, a new resource type, a new object
// and a new tag; plus one new namespace file.
func changedCopy(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	files, err := metadefs.Files(src)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *metadefs.Value { return &metadefs.Value{Kind: metadefs.JSONString, Str: s} }
	obj := func(kv ...any) *metadefs.Value {
		v := &metadefs.Value{Kind: metadefs.JSONObject}
		for i := 0; i < len(kv); i += 2 {
			v.Members = append(v.Members, metadefs.Member{Key: kv[i].(string), Value: kv[i+1].(*metadefs.Value)})
		}
		return v
	}
	set := func(v *metadefs.Value, key string, x *metadefs.Value) {
		for i := range v.Members {
			if v.Members[i].Key == key {
				v.Members[i].Value = x
				return
			}
		}
		v.Members = append(v.Members, metadefs.Member{Key: key, Value: x})
	}
	sort.Strings(files)
	for i, f := range files {
		if i%3 != 0 && !strings.Contains(f, "software-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := metadefs.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		set(v, "description", str("changed: "+filepath.Base(f)))
		props := v.Get("properties")
		if props == nil {
			props = obj()
			set(v, "properties", props)
		}
		if n := len(props.Members); n >= 2 {
			props.Members[0].Value = obj("type", str("string"), "title", str("Changed \u00e9"))
			props.Members = props.Members[:n-1]
		}
		props.Members = append(props.Members, metadefs.Member{Key: "zz_new", Value: obj("type", str("integer"))})
		rts := v.Get("resource_type_associations")
		if rts == nil {
			rts = &metadefs.Value{Kind: metadefs.JSONArray}
			set(v, "resource_type_associations", rts)
		}
		if len(rts.Elems) > 0 {
			set(rts.Elems[0], "prefix", str("chg_"))
		}
		rts.Elems = append(rts.Elems, obj("name", str("OS::Test::New"), "properties_target", str("t")))
		objs := v.Get("objects")
		if objs == nil {
			objs = &metadefs.Value{Kind: metadefs.JSONArray}
			set(v, "objects", objs)
		}
		objs.Elems = append(objs.Elems, obj("name", str("NewObject"), "properties", obj("a", obj("type", str("string")))))
		set(v, "tags", &metadefs.Value{Kind: metadefs.JSONArray, Elems: []*metadefs.Value{obj("name", str("tag-one")), obj("name", str("tag-two"))}})
		writeFile(t, filepath.Join(dst, filepath.Base(f)), metadefs.Dump(v))
	}
	writeFile(t, filepath.Join(dst, "zz-new-namespace.json"), `{"namespace": "OS::Test::Added", "display_name": "Added", "owner": "tester", "visibility": "private", "protected": false,
		"resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "added_"}], "properties": {"p": {"type": "string"}}, "tags": [{"name": "x"}]}`)
	return dst
}

// TestAgainstReference runs the same metadefs commands with the
// reference tool on one database and with ours on another, and compares
// every metadef table row by row (ids included) after each step: a load of
// upstream's definition files, loads of a changed copy of some of them
// with each combination of flags, a load of all of them with --merge
// --overwrite, and an unload. After the first load it also exports the
// database with both tools (Zed's export works; upstream's HEAD crashes),
// compares the files, and loads our export into an empty database, which
// must then hold the same content.
func TestAgainstReference(t *testing.T) {
	testdb.Reference(t)
	shipped := shippedDir(t)
	changed := changedCopy(t, shipped)
	steps := []struct {
		name string
		path string
		opts metadefs.LoadOptions
		args []string
	}{
		{"load changed (skips existing)", changed, metadefs.LoadOptions{}, nil},
		{"load changed --merge", changed, metadefs.LoadOptions{Merge: true}, []string{"--merge"}},
		{"load changed --merge --prefer_new", changed, metadefs.LoadOptions{Merge: true, PreferNew: true}, []string{"--merge", "--prefer_new"}},
		{"load --merge --overwrite", shipped, metadefs.LoadOptions{Merge: true, Overwrite: true}, []string{"--merge", "--overwrite"}},
	}
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		t.Parallel()
		ref, d := migrated(t, b, "wallaby_contract01")
		ours, _ := migrated(t, b, "wallaby_contract01")
		reference := func(args ...string) {
			t.Helper()
			if out, errOut, code := testdb.RunReference(t, ref.URL, append([]string{"db"}, args...)...); code != 0 {
				t.Fatalf("reference %v: exit %d\n%s%s", args, code, out, errOut)
			}
		}
		reference("load_metadefs", "--path", shipped)
		load(t, ours.SQL, d, shipped, metadefs.LoadOptions{})
		compareExact(t, "load", ours, ref)
		if n := count(t, ours.SQL, "metadef_namespaces"); n != 33 {
			t.Errorf("%d namespaces, want 33", n)
		}
		compareExport(t, b, ref, reference)

		for _, s := range steps {
			reference(append([]string{"load_metadefs", "--path", s.path}, s.args...)...)
			load(t, ours.SQL, d, s.path, s.opts)
			compareExact(t, s.name, ours, ref)
		}
		if n := count(t, ours.SQL, "metadef_namespaces"); n != 34 {
			t.Errorf("%d namespaces, want 33 shipped + 1 added", n)
		}
		reference("unload_metadefs")
		if err := metadefs.Unload(context.Background(), ours.SQL, nil, nil); err != nil {
			t.Fatal(err)
		}
		compareExact(t, "unload", ours, ref)
	})
}

// compareExport exports tdb with both tools and compares the files, then
// loads ours into an empty database and compares the content.
func compareExport(t *testing.T, b testdb.Backend, tdb *testdb.DB, reference func(args ...string)) {
	t.Helper()
	d, err := glance.DialectFor(string(b))
	if err != nil {
		t.Fatal(err)
	}
	refDir, ourDir := t.TempDir()+"/", t.TempDir()+"/"
	reference("export_metadefs", "--path", refDir)
	if _, err := metadefs.Export(context.Background(), tdb.SQL, d, metadefs.ExportOptions{Path: ourDir}); err != nil {
		t.Fatal(err)
	}
	refFiles, ourFiles := dirFiles(t, refDir), dirFiles(t, ourDir)
	if strings.Join(keys(refFiles), " ") != strings.Join(keys(ourFiles), " ") {
		t.Fatalf("file names differ:\n ours: %v\n  ref: %v", keys(ourFiles), keys(refFiles))
	}
	if len(ourFiles) != 33 {
		t.Fatalf("%d files exported, want 33", len(ourFiles))
	}
	for name, want := range refFiles {
		got := ourFiles[name]
		// Ours lists rows in id order (associations: resource type id);
		// see canonical for the reference's.
		if canonical(t, got) != canonical(t, want) {
			t.Errorf("%s differs:\n ours: %s\n  ref: %s", name, got, want)
		} else if got != want && sameOrder(t, got, want) {
			t.Errorf("%s differs in bytes:\n ours: %s\n  ref: %s", name, got, want)
		}
	}
	fresh, _ := migrated(t, b, "wallaby_contract01")
	load(t, fresh.SQL, d, ourDir, metadefs.LoadOptions{})
	if got, want := content(t, fresh.SQL), content(t, tdb.SQL); got != want {
		t.Fatalf("export then load changed the content:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parse(t *testing.T, s string) *metadefs.Value {
	v, err := metadefs.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// canonical re-renders an exported file in a fixed order: associations,
// properties and objects sorted by name, protected as a boolean. The
// reference selects them without ORDER BY, so their order follows each
// backend's access path (index order on SQLite and MySQL, insertion
// order on PostgreSQL), and MySQL gives protected back as 0 or 1.
func canonical(t *testing.T, s string) string {
	v := parse(t, s)
	byName := func(a *metadefs.Value) {
		sort.SliceStable(a.Elems, func(i, j int) bool { return a.Elems[i].Get("name").Str < a.Elems[j].Get("name").Str })
	}
	byName(v.Get("resource_type_associations"))
	byName(v.Get("objects"))
	p := v.Get("properties")
	sort.SliceStable(p.Members, func(i, j int) bool { return p.Members[i].Key < p.Members[j].Key })
	for i, m := range v.Members {
		if m.Key == "protected" && m.Value.Kind == metadefs.JSONNumber {
			v.Members[i].Value = &metadefs.Value{Kind: metadefs.JSONBool, Bool: m.Value.Num == "1"}
		}
	}
	return metadefs.Dump(v)
}

// sameOrder reports whether two exports of a namespace list its rows in
// the same order (then their bytes must be equal).
func sameOrder(t *testing.T, a, b string) bool {
	order := func(s string) string {
		v := parse(t, s)
		var out []string
		for _, e := range v.Get("resource_type_associations").Elems {
			out = append(out, e.Get("name").Str)
		}
		for _, m := range v.Get("properties").Members {
			out = append(out, m.Key)
		}
		for _, e := range v.Get("objects").Elems {
			out = append(out, e.Get("name").Str)
		}
		if p := v.Get("protected"); p.Kind == metadefs.JSONNumber {
			out = append(out, "protected as a number")
		}
		return strings.Join(out, ",")
	}
	return order(a) == order(b)
}
