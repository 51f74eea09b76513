package testdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartPostgres starts a throwaway PostgreSQL server for t: a fresh data
// directory (initdb, trust authentication) on a free loopback port, with
// the given server settings (name: value, e.g. max_locks_per_transaction:
// "10"), for a test that needs settings no shared or private server may
// have. It runs as the postgres user (the test runs as root or as
// postgres), is stopped when t ends, and takes about three seconds to
// start. It returns the URL of its database "test" for Create-like use
// (postgresql://postgres@127.0.0.1:PORT/test). Without the server's
// binaries (Debian's postgresql package) or the rights to run them as
// postgres it skips t, or fails it under CI=true.
func StartPostgres(t testing.TB, settings map[string]string) string {
	t.Helper()
	bin, err := postgresBin()
	if err == nil {
		err = canRunAsPostgres()
	}
	if err != nil {
		if CI() {
			t.Fatalf("testdb: %v (CI=true: every suite must run)", err)
		}
		t.Skip("testdb: " + err.Error())
	}
	dir, err := os.MkdirTemp("", "glance-manage-test-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		pw, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(pw.Uid)
		gid, _ := strconv.Atoi(pw.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := asPostgres(ctx, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testdb: initdb: %v\n%s", err, out)
	}
	opts := []string{"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		opts = append(opts, "-c", k+"="+settings[k])
	}
	logf := filepath.Join(dir, "server.log")
	if out, err := asPostgres(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", logf, "-w", "-o", strings.Join(opts, " "), "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logf)
		t.Fatalf("testdb: pg_ctl start: %v\n%s%s", err, out, log)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := asPostgres(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("testdb: pg_ctl stop: %v\n%s", err, out)
		}
	})
	admin := fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/postgres", port)
	s, err := parseServerURL(PostgreSQL, "StartPostgres", admin)
	if err != nil {
		t.Fatal(err)
	}
	db, err := s.open("postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE test"); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/test", port)
}

// postgresBin returns the newest PostgreSQL server's bin directory.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)")
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi < vj
	})
	return filepath.Dir(found[len(found)-1]), nil
}

func canRunAsPostgres() error {
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			return fmt.Errorf("runuser is needed to start PostgreSQL as postgres: %v", err)
		}
		return nil
	}
	if u, err := user.Current(); err == nil && u.Username == "postgres" {
		return nil
	}
	return fmt.Errorf("starting a PostgreSQL server needs root or the postgres user")
}

func asPostgres(ctx context.Context, prog string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, prog, args...)
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
