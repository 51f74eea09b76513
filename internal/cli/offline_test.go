package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/rolling"
)

// offlineURLs name a database of each backend that does not exist: --sql
// must not connect.
var offlineURLs = map[string]string{
	"sqlite":     "sqlite:////nonexistent-dir/glance.db",
	"mysql":      "mysql+pymysql://glance:s3cret@db.invalid:3306/glance?charset=utf8",
	"postgresql": "postgresql+psycopg2://glance:s3cret@db.invalid/glance",
}

// TestOfflineSQLGolden pins the statements --sql prints for a sync and an
// (online) expand from an empty database, per backend, and checks that
// nothing was connected to.
func TestOfflineSQLGolden(t *testing.T) {
	for backend, url := range offlineURLs {
		for _, cmd := range []string{"sync", "expand"} {
			out := mustCLI(t, url, "db", cmd, "--sql")
			if strings.Contains(out, "s3cret") {
				t.Errorf("%s %s --sql printed the password", backend, cmd)
			}
			golden(t, filepath.Join("offline", backend+"_"+cmd+".sql"), out)
		}
	}
	if _, err := os.Stat("/nonexistent-dir"); err == nil {
		t.Error("--sql created the SQLite database's directory")
	}
}

func TestOfflineSQLStartAndErrors(t *testing.T) {
	url := offlineURLs["postgresql"]
	// alembic's START:END, and --from, give the same script.
	a := mustCLI(t, url, "db", "upgrade", "--sql", "mitaka02:heads")
	b := mustCLI(t, url, "db", "upgrade", "--sql", "--from", "mitaka02")
	if a != b {
		t.Error("upgrade --sql mitaka02:heads and --sql --from mitaka02 differ")
	}
	for _, want := range []string{
		"-- Starting revision(s): mitaka02.",
		"-- Running upgrade mitaka02 -> ocata_expand01, add visibility to images [ocata]",
		"BEGIN;\n",
		"UPDATE alembic_version SET version_num='ocata_expand01' WHERE alembic_version.version_num = 'mitaka02';",
		"-- Data migration ocata_migrate01_community_images (release ocata) must be complete here, before ocata_contract01.",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("upgrade --sql mitaka02:heads lacks %q", want)
		}
	}
	if strings.Contains(a, "CREATE TABLE images") {
		t.Error("a script starting at mitaka02 creates the liberty tables again")
	}
	// Contract from the expand head only: the data migrations' statements
	// come first.
	c := mustCLI(t, url, "db", "contract", "--sql", "--from", "expand@head")
	if i, j := strings.Index(c, "UPDATE images SET visibility = "), strings.Index(c, "ALTER TABLE images DROP COLUMN is_public"); i < 0 || j < 0 || i > j {
		t.Errorf("contract --sql does not migrate the visibilities before dropping is_public:\n%s", c)
	}
	up := mustCLI(t, url, "db", "sync", "--sql", "heads:")
	if !strings.Contains(up, "Database is up to date. No migrations needed.") {
		t.Errorf("sync --sql from heads:\n%s", up)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"db", "contract", "--sql"}, 1, "Database contraction did not run"},
		{[]string{"db", "upgrade", "--sql", "nosuch:heads"}, 1, "unknown revision"},
		{[]string{"db", "upgrade", "--sql", "--dry-run"}, 2, "exclude each other"},
		{[]string{"db", "upgrade", "--from", "liberty"}, 2, "--from only applies to --sql"},
		{[]string{"db", "upgrade", "--sql", "--from", "liberty", "mitaka01:heads"}, 2, "given twice"},
		{[]string{"db", "sync", "--sql", "--backup-to", "x"}, 2, "--backup-to makes no sense"},
		{[]string{"db", "upgrade", "--sql", "2024_1_contract01:liberty"}, 1, "does not downgrade"},
	} {
		out, errs, code := runCLI(t, url, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q (stdout %q)", c.args, code, errs, c.code, c.msg, out)
		}
	}
}

// TestOfflineSQLIsExact feeds the SQL --sql prints into a fresh database
// and compares its schema (and alembic_version) with the one the online
// commands build: for a whole sync, and for expand then contract (which
// install and drop the visibility triggers), on every backend.
func TestOfflineSQLIsExact(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		offline, online := testdb.New(t, b), testdb.New(t, b)
		feed(t, offline, mustCLI(t, offline.URL, "db", "sync", "--sql"))
		mustCLI(t, online.URL, "db", "sync")
		if got, want := schemaOf(t, offline), schemaOf(t, online); got != want {
			t.Errorf("sync: schema from --sql differs from db sync:\n%s", firstDiff(want, got))
		}

		offline, online = testdb.New(t, b), testdb.New(t, b)
		feed(t, offline, mustCLI(t, offline.URL, "db", "expand", "--sql"))
		mustCLI(t, online.URL, "db", "expand")
		got, want := schemaOf(t, offline), schemaOf(t, online)
		if got != want {
			t.Errorf("expand: schema from --sql differs from db expand:\n%s", firstDiff(want, got))
		}
		if !strings.Contains(want, "trigger ") {
			t.Errorf("an online expand on %s installs no trigger; the comparison proves less than it should", b)
		}
		feed(t, offline, mustCLI(t, offline.URL, "db", "contract", "--sql", "--from", "expand@head"))
		mustCLI(t, online.URL, "db", "contract")
		if got, want := schemaOf(t, offline), schemaOf(t, online); got != want {
			t.Errorf("contract: schema from --sql differs from db contract:\n%s", firstDiff(want, got))
		}
	})
}

// TestDryRunChangesNothing: --dry-run reads the database, prints the plan
// and the statements, and leaves schema, alembic_version and rows as they
// were.
func TestDryRunChangesNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
		if _, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ('img1', 'one', 'active', " + boolLit(b, true) + ", '2016-04-01 12:00:00', " + boolLit(b, false) + ", 0, 0, " + boolLit(b, false) + ")"); err != nil {
			t.Fatal(err)
		}
		before := snapshotOf(t, db)
		sync := mustCLI(t, db.URL, "db", "sync", "--dry-run")
		for _, want := range []string{
			"-- Dry run: nothing was changed. Current revision(s): mitaka02",
			"-- Running upgrade mitaka02 -> ocata_expand01",
			"-- Resulting revision(s): 2024_1_contract01",
			"-- Data migration ocata_migrate01_community_images (release ocata) must be complete here, before ocata_contract01.",
		} {
			if !strings.Contains(sync, want) {
				t.Errorf("sync --dry-run lacks %q:\n%s", want, sync)
			}
		}
		up := mustCLI(t, db.URL, "db", "upgrade", "--dry-run", "ocata_expand01")
		if !strings.Contains(up, "Revisions to apply (1): ocata_expand01") {
			t.Errorf("upgrade --dry-run ocata_expand01:\n%s", up)
		}
		mustCLI(t, db.URL, "db", "expand", "--dry-run")
		if _, errs, code := runCLI(t, db.URL, "db", "contract", "--dry-run"); code != 1 || !strings.Contains(errs, "Database contraction did not run") {
			t.Errorf("contract --dry-run before expand: exit %d, %q", code, errs)
		}
		if after := snapshotOf(t, db); after != before {
			t.Errorf("--dry-run changed the database:\n%s", firstDiff(before, after))
		}

		// After an expand the pending rows are counted, and contract
		// refuses as the real one would.
		mustCLI(t, db.URL, "db", "expand")
		before = snapshotOf(t, db)
		sync = mustCLI(t, db.URL, "db", "sync", "--dry-run")
		if !strings.Contains(sync, "It would now change 1 row(s)") {
			t.Errorf("sync --dry-run after expand does not count the pending row:\n%s", sync)
		}
		if _, errs, code := runCLI(t, db.URL, "db", "contract", "--dry-run"); code != 1 || !strings.Contains(errs, "before data migration is complete") {
			t.Errorf("contract --dry-run with pending data: exit %d, %q", code, errs)
		}
		if after := snapshotOf(t, db); after != before {
			t.Errorf("--dry-run changed the database:\n%s", firstDiff(before, after))
		}
	})
}

func boolLit(b testdb.Backend, v bool) string {
	switch {
	case b == testdb.PostgreSQL && v:
		return "true"
	case b == testdb.PostgreSQL:
		return "false"
	case v:
		return "1"
	}
	return "0"
}

// TestOfflineSQLMigratesData: a script from a pre-Ocata revision carries
// the rows over as an online sync does. Two copies of a database at
// mitaka02 with images (public, shared, private), members and locations
// with the pre-Train "backend" key: one gets `db upgrade --sql
// mitaka02:heads` fed in, the other `db sync`; schema, visibilities and
// location metadata must be the same, on every backend.
func TestOfflineSQLMigratesData(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()
		offline, online := testdb.New(t, b), testdb.New(t, b)
		for _, db := range []*testdb.DB{offline, online} {
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			if err := rolling.Seed(ctx, db.SQL, string(b), 120); err != nil {
				t.Fatal(err)
			}
		}
		script := mustCLI(t, offline.URL, "db", "upgrade", "--sql", "mitaka02:heads")
		if !strings.Contains(script, "UPDATE images SET visibility = ") || !strings.Contains(script, "UPDATE image_locations SET meta_data = REPLACE(") {
			t.Fatalf("the script lacks the data migrations' statements:\n%s", script)
		}
		feed(t, offline, script)
		mustCLI(t, online.URL, "db", "sync")
		if got, want := schemaOf(t, offline), schemaOf(t, online); got != want {
			t.Errorf("schema from --sql differs from db sync:\n%s", firstDiff(want, got))
		}
		rows := func(db *testdb.DB, q string) string {
			out, err := dialect.Strings(ctx, db.SQL, q)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(out, "\n")
		}
		for _, q := range []string{
			"SELECT " + asText(b, "id", "visibility") + " FROM images ORDER BY id",
			"SELECT " + asText(b, "id", "meta_data") + " FROM image_locations ORDER BY id",
		} {
			if got, want := rows(offline, q), rows(online, q); got != want {
				t.Errorf("%s: offline script and db sync differ:\n%s", q, firstDiff(want, got))
			}
		}
		vis := rows(offline, "SELECT DISTINCT visibility FROM images ORDER BY visibility")
		if vis != "private\npublic\nshared" {
			t.Errorf("visibilities after the script: %q, want private, public and shared", vis)
		}
		if n := rows(offline, "SELECT COUNT(*) FROM image_locations WHERE meta_data LIKE '%\"backend\":%'"); n != "0" {
			t.Errorf("%s locations keep the \"backend\" key", n)
		}
		if n := rows(offline, "SELECT COUNT(*) FROM image_locations WHERE meta_data LIKE '%\"store\":%'"); n == "0" {
			t.Error("no location got the \"store\" key: the seed has none to rename and the test proves nothing")
		}
	})
}

// asText renders columns as one text value, separated by spaces, in b's
// SQL.
func asText(b testdb.Backend, cols ...string) string {
	var parts []string
	for _, c := range cols {
		if b == testdb.MySQL {
			parts = append(parts, "CAST("+c+" AS CHAR)")
		} else {
			parts = append(parts, "CAST("+c+" AS TEXT)")
		}
	}
	if b == testdb.MySQL {
		return "CONCAT_WS(' ', " + strings.Join(parts, ", ") + ")"
	}
	return strings.Join(parts, " || ' ' || ")
}
