package preflight_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

// envMDL names the private MariaDB server that tools/mariadb/mdl.sh
// starts (.ci/run does): a server of ours, whose database directories a
// test may mount a file system on.
const envMDL = "GLANCE_TEST_MYSQL_MDL_URL"

func privateMariaDB(t *testing.T) {
	t.Helper()
	raw := os.Getenv(envMDL)
	if raw == "" {
		msg := envMDL + " is not set (tools/mariadb/mdl.sh start prints a URL)"
		if testdb.CI() {
			t.Fatal(msg + " (CI=true: every suite must run)")
		}
		t.Skip(msg)
	}
	t.Setenv(testdb.EnvMySQL, raw)
}

// loopFS mounts a new ext4 file system of size bytes on dir (which must
// exist and be empty or hold only what the caller copies back), owned by
// owner, for t (root only).
func loopFS(t *testing.T, dir string, size int64, owner string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if testdb.CI() {
			t.Fatal("CI=true: this test mounts a file system and needs root")
		}
		t.Skip("mounting a file system needs root")
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err == nil {
		err = f.Truncate(size)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0", img},
		{"mount", "-o", "loop", img, dir},
		{"chown", owner + ":" + owner, dir},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
}

// TestPreflightMySQLDiskFull: a MariaDB database whose directory is a
// file system of its own with less free space than images, which the
// contract's rebuild of images (a shadow copy) writes anew: a blocker
// naming the table and the directory, in text and in the details.
func TestPreflightMySQLDiskFull(t *testing.T) {
	privateMariaDB(t)
	db := testdb.New(t, testdb.MySQL)
	var datadir, name string
	if err := db.SQL.QueryRow("SELECT @@datadir, DATABASE()").Scan(&datadir, &name); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(datadir, name)
	opt, err := os.ReadFile(filepath.Join(dir, "db.opt"))
	if err != nil {
		t.Fatal(err)
	}
	// The server has opened no table of the new database yet: it finds
	// its files in the new file system from here on.
	loopFS(t, dir, 24<<20, "mysql")
	if err := os.WriteFile(filepath.Join(dir, "db.opt"), opt, 0o660); err != nil {
		t.Fatal(err)
	}
	// The database is dropped by testdb before the unmount (cleanups run
	// last first), which lazily unmounts whatever is still open.
	upgrade(t, db.URL, "mitaka02")
	m := open(t, db.URL)
	free := func() int64 {
		var s syscall.Statfs_t
		if err := syscall.Statfs(dir, &s); err != nil {
			t.Fatal(err)
		}
		return int64(s.Bavail) * s.Bsize
	}
	start := free()
	// Images until the table takes more than the space left.
	for i := 0; ; i++ {
		mustExec(t, m.DB, fmt.Sprintf(`INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected, checksum)
SELECT CONCAT('img-%d-', seq), REPEAT('x', 255), 'active', 1, '2016-01-01 00:00:00', 0, 0, 0, 0, MD5(seq) FROM seq_1_to_5000`, i))
		if used := start - free(); used > start/2+start/10 {
			break
		}
		if i > 100 {
			t.Fatalf("the file system did not fill: %d of %d bytes used", start-free(), start)
		}
	}
	// The statistics sample pages (they said a quarter of the file's size
	// here): the file's allocated size is what counts.
	mustExec(t, m.DB, "ANALYZE TABLE images")
	r := run(t, m, rolling)
	expect(t, r, want{preflight.CheckDisk, preflight.Blocker, []string{"table images", dir}})
	for _, f := range r.Blockers {
		if f.Check != preflight.CheckDisk {
			continue
		}
		d, ok := f.Details.(*preflight.DiskDetails)
		if !ok || d.Path != dir || d.Table != "images" || d.FreeBytes >= d.NeededBytes || d.NeededBytes <= 0 {
			t.Errorf("details %#v; want images in %s needing more than is free", f.Details, dir)
		}
	}
}

// TestPreflightReplicationSlotLagging: a physical slot whose consumer
// (pg_receivewal) is connected but stopped, on a private server with a
// small max_wal_size: once the slot keeps more write-ahead log than that
// (wal_status "extended"), it lags.
func TestPreflightReplicationSlotLagging(t *testing.T) {
	raw := testdb.StartPostgres(t, map[string]string{"max_wal_size": "32MB", "min_wal_size": "32MB", "wal_keep_size": "0"})
	upgrade(t, raw, "mitaka02")
	m := open(t, raw)
	port := strings.TrimSuffix(strings.TrimPrefix(raw, "postgresql://postgres@127.0.0.1:"), "/test")
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("port of %s: %v", raw, err)
	}
	bin, err := exec.LookPath("pg_receivewal")
	if err != nil {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_receivewal")
		if len(found) == 0 {
			t.Fatal("no pg_receivewal (postgresql-client)")
		}
		bin = found[len(found)-1]
	}
	out := t.TempDir()
	if pw, err := user.Lookup("postgres"); err == nil && os.Geteuid() == 0 {
		uid, _ := strconv.Atoi(pw.Uid)
		_ = os.Chown(out, uid, -1)
	}
	mustExec(t, m.DB, "SELECT pg_create_physical_replication_slot('lagging', true)")
	recv := exec.Command(bin, "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-D", out, "--slot", "lagging", "--no-sync")
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = recv.Process.Signal(syscall.SIGCONT)
		_ = recv.Process.Kill()
		_ = recv.Wait()
	})
	waitFor(t, func() bool {
		var active bool
		return m.DB.QueryRow("SELECT active FROM pg_replication_slots WHERE slot_name = 'lagging'").Scan(&active) == nil && active
	})
	if err := recv.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// About 100 MB of write-ahead log, and checkpoints: the slot keeps it.
	mustExec(t, m.DB, "CREATE TABLE wal_filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) g", "CHECKPOINT")
	waitFor(t, func() bool {
		var status string
		mustExec(t, m.DB, "CHECKPOINT")
		return m.DB.QueryRow("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lagging'").Scan(&status) == nil && status == "extended"
	})
	mustExec(t, m.DB, "DROP TABLE wal_filler")
	expect(t, run(t, m, rolling), want{preflight.CheckSlotLagging, preflight.Warning,
		[]string{"replication slot lagging (physical) lags", "wal_status extended", "Let its consumer catch up first"}})
}
