package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestReferenceDatabasesUpgradeWithUs: a database the reference left at a
// revision is brought to head by us, ending with our head schema.
func TestReferenceDatabasesUpgradeWithUs(t *testing.T) {
	testdb.Reference(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		pinned, err := os.ReadFile(filepath.Join(root(), string(b), "ours_head.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, rev := range []string{"liberty", "mitaka02", "ocata_expand01", "ocata_contract01", "rocky_expand02", "wallaby_expand01", "wallaby_contract01"} {
			db := testdb.New(t, b)
			if _, stderr, code := testdb.RunReference(t, db.URL, "db", "upgrade", "--version", rev); code != 0 {
				t.Fatalf("reference upgrade to %s: exit %d\n%s", rev, code, stderr)
			}
			m := manager(t, db)
			upgradeTo(t, m, "heads", migrate.Options{RunData: true})
			diff(t, "reference at "+rev+", then ours to head", comparable(dump(t, db), string(b)), comparable(string(pinned), string(b)))
		}
	})
}

// TestReferenceReadsOurDatabase: a database we left at the reference's
// head is up to date for the reference's `db check` and `db version`.
// (The reference's check refuses PostgreSQL altogether, so there only
// version is asked.)
func TestReferenceReadsOurDatabase(t *testing.T) {
	testdb.Reference(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		upgradeTo(t, manager(t, db), "wallaby_contract01", migrate.Options{RunData: true})
		out, stderr, code := testdb.RunReference(t, db.URL, "db", "version")
		if code != 0 || strings.TrimSpace(out) != "wallaby_contract01" {
			t.Fatalf("reference db version: exit %d, stdout %q\n%s", code, out, stderr)
		}
		if b == testdb.PostgreSQL {
			return
		}
		out, stderr, code = testdb.RunReference(t, db.URL, "db", "check")
		if code != 0 || strings.TrimSpace(out) != "Database is up to date. No upgrades needed." {
			t.Fatalf("reference db check: exit %d, stdout %q\n%s", code, out, stderr)
		}
	})
}

// TestReferenceLosesVisibilityWeDoNot documents upstream's data-loss bug
// and our fix. Both tools get a Mitaka-era database with a public and a
// private image. The reference's sync only runs the current release's data
// migrations, so visibility stays NULL and ocata_contract01 fails; on
// MySQL it has already dropped is_public by then (DDL commits at once),
// losing which images were public. Ours migrates the data on the way.
func TestReferenceLosesVisibilityWeDoNot(t *testing.T) {
	testdb.Reference(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		seed := func(db *testdb.DB) {
			if _, stderr, code := testdb.RunReference(t, db.URL, "db", "upgrade", "--version", "mitaka02"); code != 0 {
				t.Fatalf("reference upgrade: %s", stderr)
			}
			for i, pub := range []bool{true, false} {
				p := []string{"?", "?", "?", "?", "?", "?", "?", "?", "?"}
				if b == testdb.PostgreSQL {
					for j := range p {
						p[j] = fmt.Sprintf("$%d", j+1)
					}
				}
				_, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ("+strings.Join(p, ", ")+")",
					fmt.Sprintf("image-%d", i), "x", "active", pub, time.Now().UTC(), false, 0, 0, false)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		theirs := testdb.New(t, b)
		seed(theirs)
		_, stderr, code := testdb.RunReference(t, theirs.URL, "db", "sync")
		if code == 0 {
			t.Fatalf("the reference's sync of a Mitaka database with images succeeded; this test documents that it fails:\n%s", stderr)
		}
		if b == testdb.MySQL {
			m := manager(t, theirs)
			if ok, _ := m.Dialect.ColumnExists(t.Context(), theirs.SQL, "images", "is_public"); ok {
				t.Errorf("expected the reference to have dropped is_public before failing on MySQL")
			}
		}

		ours := testdb.New(t, b)
		seed(ours)
		upgradeTo(t, manager(t, ours), "heads", migrate.Options{RunData: true})
		var pub, priv string
		if err := ours.SQL.QueryRow("SELECT visibility FROM images WHERE id = 'image-0'").Scan(&pub); err != nil {
			t.Fatal(err)
		}
		if err := ours.SQL.QueryRow("SELECT visibility FROM images WHERE id = 'image-1'").Scan(&priv); err != nil {
			t.Fatal(err)
		}
		if pub != "public" || priv != "private" {
			t.Errorf("ours: visibility = %s, %s; want public, private", pub, priv)
		}
	})
}
