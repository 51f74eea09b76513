package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// TestBackupUpgradeRestoreCLI: db sync --backup-to backs up before
// upgrading; db restore --from brings back the original schema,
// alembic_version and rows; db backup --to refuses an existing file. On
// every backend.
func TestBackupUpgradeRestoreCLI(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
		if _, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ('img1', 'one', 'active', " + boolLit(b, true) + ", '2016-04-01 12:00:00', " + boolLit(b, false) + ", 0, 0, " + boolLit(b, false) + ")"); err != nil {
			t.Fatal(err)
		}
		before := snapshotOf(t, db)
		dir := t.TempDir()
		path := filepath.Join(dir, "before-sync.backup")
		out := mustCLI(t, db.URL, "db", "sync", "--backup-to", path)
		if !strings.HasPrefix(out, "Backed up the "+string(b)+" database to "+path) || !strings.HasSuffix(out, "Database is synced successfully.\n") {
			t.Errorf("sync --backup-to printed:\n%s", out)
		}
		if snapshotOf(t, db) == before {
			t.Fatal("the sync changed nothing")
		}
		// A backup never overwrites: the second sync stops before
		// doing anything.
		if _, errs, code := runCLI(t, db.URL, "db", "expand", "--backup-to", path); code != 1 || !strings.Contains(errs, "Backups never overwrite a file") {
			t.Errorf("expand --backup-to an existing file: exit %d, %q", code, errs)
		}
		if _, errs, code := runCLI(t, db.URL, "db", "backup", "--to", path); code != 1 || !strings.Contains(errs, "exists") {
			t.Errorf("backup --to an existing file: exit %d, %q", code, errs)
		}
		out = mustCLI(t, db.URL, "db", "restore", "--from", path)
		if want := "Restored the " + string(b) + " database from " + path + "; current revision(s): mitaka02\n"; out != want {
			t.Errorf("restore printed %q, want %q", out, want)
		}
		if got := snapshotOf(t, db); got != before {
			t.Errorf("restored database differs from the original:\n%s", firstDiff(before, got))
		}
		// db backup --to makes the same kind of file.
		second := filepath.Join(dir, "second.backup")
		mustCLI(t, db.URL, "db", "backup", "--to", second)
		mustCLI(t, db.URL, "db", "sync")
		mustCLI(t, db.URL, "db", "restore", "--from", second)
		if got := snapshotOf(t, db); got != before {
			t.Errorf("second restore differs from the original:\n%s", firstDiff(before, got))
		}
	})
}

// TestBackupToolMissing: without mysqldump or pg_dump, one line naming the
// tool and the Debian package, exit 1, and sync does not start.
func TestBackupToolMissing(t *testing.T) {
	for _, c := range []struct {
		b         testdb.Backend
		tool, pkg string
	}{{testdb.MySQL, "mysqldump", "mariadb-client"}, {testdb.PostgreSQL, "pg_dump", "postgresql-client"}} {
		t.Run(string(c.b), func(t *testing.T) {
			db := testdb.New(t, c.b)
			t.Setenv("PATH", t.TempDir())
			path := filepath.Join(t.TempDir(), "b")
			out, errs, code := runCLI(t, db.URL, "db", "sync", "--backup-to", path)
			if code != 1 || !strings.Contains(errs, c.tool+" is not installed") || !strings.Contains(errs, c.pkg) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
				t.Errorf("exit %d, stderr %q", code, errs)
			}
			if out != "" || strings.Contains(schemaOf(t, db), "table images") {
				t.Errorf("sync ran after the backup failed (stdout %q)", out)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a failed backup left a file")
			}
		})
	}
}
