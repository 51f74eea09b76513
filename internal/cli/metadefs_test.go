package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance/metadefs"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

const (
	nsAlpha = `{"namespace": "CLI::Alpha", "display_name": "Alpha One", "properties": {"a": {"type": "string"}}, "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "a_"}]}`
	nsBeta  = `{"namespace": "CLI::Beta", "display_name": "Beta", "objects": [{"name": "o", "properties": {"x": {"type": "integer"}}}], "tags": [{"name": "t"}]}`
)

func mdDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func namespaces(t *testing.T, db *testdb.DB) string {
	t.Helper()
	return ids(t, db.SQL, "SELECT namespace FROM metadef_namespaces")
}

func TestMetadefsCLI(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	opsMust(t, db.URL, "", "db", "sync")
	dir := mdDir(t, map[string]string{"alpha.json": nsAlpha, "beta.json": nsBeta, "notes.txt": "ignored"})

	// The default path is [DEFAULT] metadata_source_path.
	out, errOut := opsMust(t, db.URL, dir, "db", "load_metadefs")
	if out != "" || !strings.Contains(errOut, "File "+filepath.Join(dir, "alpha.json")+" loaded to database.") || !strings.HasSuffix(errOut, "Metadata loading finished\n") {
		t.Fatalf("load: stdout %q, stderr:\n%s", out, errOut)
	}
	if got := namespaces(t, db); got != "CLI::Alpha CLI::Beta" {
		t.Fatalf("namespaces: %s", got)
	}
	_, errOut = opsMust(t, db.URL, "", "db", "load_metadefs", dir) // positional path
	if !strings.Contains(errOut, "Skipping namespace CLI::Alpha. It already exists in the database.") {
		t.Fatalf("second load:\n%s", errOut)
	}

	// Export, with --path, positionally and with the legacy spelling.
	for i, args := range [][]string{{"db", "export_metadefs", "--path"}, {"db", "export_metadefs"}, {"db_export_metadefs"}} {
		outDir := t.TempDir() + "/"
		_, errOut := opsMust(t, db.URL, "", append(args, outDir)...)
		data, err := os.ReadFile(outDir + "AlphaOne.json")
		if err != nil || !strings.HasPrefix(string(data), `{"namespace": "CLI::Alpha", "display_name": "Alpha One", "description": null,`) {
			t.Fatalf("export %d: %v %s\n%s", i, err, data, errOut)
		}
		if !strings.Contains(errOut, "Namespace Beta saved in "+outDir+"Beta.json") {
			t.Fatalf("export %d stderr:\n%s", i, errOut)
		}
	}

	_, errOut = opsMust(t, db.URL, "", "db", "unload_metadefs")
	for _, table := range metadefs.Tables {
		if !strings.Contains(errOut, "Table "+table+" has been cleared") {
			t.Errorf("unload stderr lacks %s:\n%s", table, errOut)
		}
	}
	if got := namespaces(t, db); got != "" {
		t.Fatalf("after unload: %s", got)
	}

	// Legacy positional flags: "False" is false here (upstream: true).
	opsMust(t, db.URL, "", "db_load_metadefs", filepath.Join(dir, "alpha.json"))
	changed := mdDir(t, map[string]string{"alpha.json": strings.Replace(nsAlpha, `"string"`, `"boolean"`, 1)})
	opsMust(t, db.URL, "", "db_load_metadefs", changed, "True", "False")
	if got := ids(t, db.SQL, "SELECT json_schema FROM metadef_properties"); got != `{"type": "string"}` {
		t.Fatalf("merge without prefer_new changed a property: %s", got)
	}
	opsMust(t, db.URL, "", "db_load_metadefs", changed, "1", "1")
	if got := ids(t, db.SQL, "SELECT json_schema FROM metadef_properties"); got != `{"type": "boolean"}` {
		t.Fatalf("merge with prefer_new did not update: %s", got)
	}
	opsMust(t, db.URL, "", "db", "load_metadefs", "--path", dir, "--merge", "--overwrite")
	if got := ids(t, db.SQL, "SELECT json_schema FROM metadef_properties"); got != `{"type": "string"}` {
		t.Fatalf("overwrite: %s", got)
	}
}

// TestMetadefsCLIRefusals: each refusal is one line on stderr, exit 1
// (2 for usage errors), and leaves the database as it was.
func TestMetadefsCLIRefusals(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	opsMust(t, db.URL, "", "db", "sync")
	good := mdDir(t, map[string]string{"alpha.json": nsAlpha})
	opsMust(t, db.URL, "", "db", "load_metadefs", "--path", good)
	bad := mdDir(t, map[string]string{"beta.json": nsBeta, "bad.json": "{\n  \"namespace\": \"CLI::Bad\",\n  \"properties\": {\"a\": 1,}\n}\n"})
	empty := t.TempDir()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"db", "load_metadefs", "--path", bad}, 1, "ERROR: " + filepath.Join(bad, "bad.json") + ":3:25: invalid JSON: expecting a property name enclosed in double quotes. Nothing was loaded; fix the file and run the command again."},
		{[]string{"db", "load_metadefs", "--path", empty}, 1, "ERROR: Json schema files not found in " + empty + ". Aborting."},
		{[]string{"db", "load_metadefs", "--path", filepath.Join(empty, "missing")}, 1, "no such file or directory"},
		{[]string{"db", "load_metadefs", "--path", good, "--prefer_new"}, 1, "ERROR: " + metadefs.MsgNeedMerge},
		{[]string{"db", "load_metadefs", "--path", good, "--merge", "--prefer_new", "--overwrite"}, 1, "ERROR: " + metadefs.MsgOneOption},
		{[]string{"db", "load_metadefs", "a", "b"}, 1, "takes one argument (the path)"},
		{[]string{"db", "load_metadefs", "--path", "a", "b"}, 1, "path was given twice"},
		{[]string{"db", "load_metadefs", "--merge=yes"}, 2, "argument --merge: ignored explicit argument 'yes'"},
		{[]string{"db", "unload_metadefs", "x"}, 1, "db unload_metadefs takes no arguments"},
		{[]string{"db", "export_metadefs", "a", "b"}, 1, "db export_metadefs takes at most 1 argument(s)"},
		{[]string{"db_load_metadefs", "a", "b", "c", "d", "e"}, 2, "unrecognized arguments: e"},
	}
	for _, c := range cases {
		out, errOut, code := opsRun(t, db.URL, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.stderr) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("%v: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", c.args, code, c.code, c.stderr, out, errOut)
		}
		if got := namespaces(t, db); got != "CLI::Alpha" {
			t.Fatalf("%v changed the database: %s", c.args, got)
		}
	}

	// A database without the schema.
	fresh := testdb.New(t, testdb.SQLite)
	_, errOut, code := opsRun(t, fresh.URL, "", "db", "load_metadefs", "--path", good)
	if code != 1 || !strings.Contains(errOut, "Run `glance-manage db sync` first") {
		t.Fatalf("unmigrated: exit %d\n%s", code, errOut)
	}
}
