package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/backup"
	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// fixture is a Glance database at mitaka02 holding legacy images (is_public,
// no visibility yet): the state an upgrade changes the most.
func fixture(t *testing.T, b testdb.Backend) (*testdb.DB, *glance.Manager, *dburl.URL) {
	t.Helper()
	db := testdb.New(t, b)
	m, err := glance.New(db.SQL, string(b))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids, err := m.Graph().Resolve("mitaka02")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrator.Upgrade(ctx, ids, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	ph := func(n int) string {
		p := make([]string, n)
		for i := range p {
			p[i] = m.Dialect.Placeholder(i + 1)
		}
		return strings.Join(p, ", ")
	}
	when := time.Date(2016, 4, 1, 12, 30, 0, 0, time.UTC)
	for i, public := range []bool{true, false, false} {
		id := fmt.Sprintf("image-%d", i)
		if _, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ("+ph(9)+")",
			id, "it's \"quoted\"\n", "active", public, when, false, 0, 0, false); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL.Exec("INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status) VALUES ("+ph(6)+")",
			id, "file:///"+id, when, false, `{"backend": "fast"}`, "active"); err != nil {
			t.Fatal(err)
		}
	}
	u, err := dburl.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	return db, m, u
}

func take(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := snapshot.Take(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBackupUpgradeRestore backs a database up, upgrades it to head (which
// drops is_public and adds tables), restores the backup and checks that
// schema, version table and rows are the original ones, on every backend.
func TestBackupUpgradeRestore(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db, m, u := fixture(t, b)
		ctx := context.Background()
		// The tool's own bookkeeping (the migration lock) stays out.
		if _, err := db.SQL.Exec("CREATE TABLE glance_manage_lock (name VARCHAR(64) NOT NULL PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL.Exec("INSERT INTO glance_manage_lock (name) VALUES ('held')"); err != nil {
			t.Fatal(err)
		}
		opts := &backup.Options{ExcludePrefix: "glance_manage_"}
		before := take(t, db)
		path := filepath.Join(t.TempDir(), "glance.backup")
		if err := backup.Backup(ctx, db.SQL, u, path, opts); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file mode %v, want 0600 (it holds the data)", fi.Mode().Perm())
		}
		if err := backup.Backup(ctx, db.SQL, u, path, nil); !errors.Is(err, backup.ErrExists) {
			t.Errorf("second backup to the same file: %v, want ErrExists", err)
		}
		if _, err := m.Migrator.Upgrade(ctx, m.Graph().Heads(), migrate.Options{RunData: true}); err != nil {
			t.Fatal(err)
		}
		if after := take(t, db); after == before {
			t.Fatal("the upgrade changed nothing; the test proves nothing")
		}
		if err := backup.Restore(ctx, db.SQL, u, path, opts); err != nil {
			t.Fatal(err)
		}
		if got := take(t, db); got != before {
			t.Errorf("restored database differs from the original:\n--- original\n%s\n--- restored\n%s", before, got)
		}
		// MySQL and PostgreSQL restores leave the lock alone; an SQLite
		// restore replaces the file, and the backup has no lock table.
		var n int
		err = db.SQL.QueryRow("SELECT COUNT(*) FROM glance_manage_lock").Scan(&n)
		if b == testdb.SQLite {
			if err == nil {
				t.Error("the SQLite backup kept the glance_manage_lock table")
			}
		} else if err != nil || n != 1 {
			t.Errorf("the restore touched glance_manage_lock: %d row(s), %v", n, err)
		}
		// A restore is repeatable.
		if err := backup.Restore(ctx, db.SQL, u, path, nil); err != nil {
			t.Fatal(err)
		}
		if got := take(t, db); got != before {
			t.Error("second restore differs from the original")
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("backup directory holds %d entries, want only the backup (temporary files left behind?)", len(entries))
		}
	})
}

func TestRestoreRefusesOtherFormats(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.sql")
	if err := os.WriteFile(junk, []byte("SELECT 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := testdb.New(t, testdb.SQLite)
	u, err := dburl.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	before := take(t, db)
	if err := backup.Restore(context.Background(), db.SQL, u, junk, nil); !errors.Is(err, backup.ErrFormat) {
		t.Fatalf("restore from a non-backup: %v, want ErrFormat", err)
	}
	if err := backup.Restore(context.Background(), db.SQL, u, filepath.Join(dir, "missing"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore from a missing file: %v", err)
	}
	if take(t, db) != before {
		t.Error("a refused restore changed the database")
	}
}

// TestMissingTool: without the dump tools the error names the tool and
// the Debian package, and leaves no file behind.
func TestMissingTool(t *testing.T) {
	noTools := &backup.Options{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}
	cases := []struct {
		url, tool, pkg string
	}{
		{"mysql+pymysql://glance:s3cret@db.example:3306/glance", "mysqldump", "mariadb-client"},
		{"postgresql://glance:s3cret@db.example/glance", "pg_dump", "postgresql-client"},
	}
	for _, c := range cases {
		u, err := dburl.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "b")
		err = backup.Backup(context.Background(), nil, u, path, noTools)
		var te *backup.ToolError
		if !errors.As(err, &te) || !errors.Is(err, backup.ErrToolMissing) || te.Tool != c.tool {
			t.Fatalf("%s: err = %v, want a ToolError for %s", c.url, err, c.tool)
		}
		if !strings.Contains(err.Error(), c.pkg) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("message %q: want the package %s and no password", err, c.pkg)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed backup left %s", path)
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
			t.Errorf("a failed backup left %d file(s)", len(entries))
		}
	}
}
