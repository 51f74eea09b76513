package cli_test

// The migration lock between real processes: the binary is built with the
// crashtest tag (migrate/crashpoint_crashtest.go) so that a run can be
// paused while it holds the lock, or killed.

import (
	"bufio"
	"context"
	"errors"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

func buildTool(t *testing.T) string {
	t.Helper()
	return glancetest.CrashBinary(t)
}

// proc is a running glance-manage.
type proc struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	stderr chan string // stderr lines
	lines  []string
	done   chan struct{}
}

func start(t *testing.T, bin, url string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: make(chan string, 100), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+url, "GLANCE_MANAGE_LOCK_LEASE=1s")
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout = &p.stdout
	r, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.stderr)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.stderr <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return p
}

// waitLine reads stderr until a line contains s.
func (p *proc) waitLine(t *testing.T, s string) string {
	t.Helper()
	for l := range p.stderr {
		p.lines = append(p.lines, l)
		if strings.Contains(l, s) {
			return l
		}
	}
	t.Fatalf("stderr ended without %q:\n%s", s, strings.Join(p.lines, "\n"))
	return ""
}

// wait waits for the process and returns its exit code and stderr.
func (p *proc) wait() (int, string) {
	for l := range p.stderr {
		p.lines = append(p.lines, l)
	}
	err := p.cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return code, strings.Join(p.lines, "\n")
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pauseEnv(dir string, at int) []string {
	return []string{"GLANCE_MANAGE_PAUSE_DIR=" + dir, "GLANCE_MANAGE_PAUSE_AT=" + strconv.Itoa(at)}
}

func TestLockBetweenProcesses(t *testing.T) {
	bin := buildTool(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		ctx := context.Background()

		t.Run("second runner waits, gives up, then succeeds", func(t *testing.T) {
			db := testdb.New(t, b)
			dir := t.TempDir()
			a := start(t, bin, db.URL, pauseEnv(dir, 3), "db", "sync")
			waitFile(t, filepath.Join(dir, "paused"))

			// A runner that may not wait long gives up with a clear
			// message; the database is left to the first.
			quick := start(t, bin, db.URL, nil, "--lock-timeout", "1s", "db", "sync")
			code, stderr := quick.wait()
			if code != 1 || !strings.Contains(stderr, "gave up waiting for the migration lock") || !strings.Contains(stderr, "db sync, pid") {
				t.Fatalf("impatient runner: exit %d\n%s", code, stderr)
			}
			// A patient one says it waits, then runs once the first is done.
			patient := start(t, bin, db.URL, nil, "--lock-timeout", "-1", "db", "sync")
			patient.waitLine(t, "Waiting for the migration lock")
			if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, stderr := a.wait(); code != 0 {
				t.Fatalf("first runner: exit %d\n%s", code, stderr)
			}
			if code, stderr := patient.wait(); code != 0 || !strings.Contains(patient.stdout.String(), "up to date") {
				t.Fatalf("second runner: exit %d\n%s\n%s", code, patient.stdout.String(), stderr)
			}
			assertHead(ctx, t, db)
		})

		t.Run("killed runner is taken over", func(t *testing.T) {
			db := testdb.New(t, b)
			dir := t.TempDir()
			a := start(t, bin, db.URL, pauseEnv(dir, 2), "db", "sync")
			waitFile(t, filepath.Join(dir, "paused"))
			out := runTool(t, bin, db.URL, "db", "lock", "show")
			if !strings.Contains(out, "running on this host") {
				t.Fatalf("db lock show while held:\n%s", out)
			}
			if out := runTool(t, bin, db.URL, "db", "check", "--format", "json"); !strings.Contains(out, `"command": "db sync"`) || !strings.Contains(out, `"process": "running"`) {
				t.Fatalf("db check --format json while held:\n%s", out)
			}
			if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			a.wait()
			out = runTool(t, bin, db.URL, "db", "lock", "show")
			if !strings.Contains(out, "gone") || !strings.Contains(out, "stale") {
				t.Fatalf("db lock show after the kill:\n%s", out)
			}
			b2 := start(t, bin, db.URL, nil, "db", "sync")
			code, stderr := b2.wait()
			if code != 0 || !strings.Contains(stderr, "took over the migration lock") {
				t.Fatalf("re-run: exit %d\n%s", code, stderr)
			}
			assertHead(ctx, t, db)
		})

		t.Run("SIGTERM stops at a safe point", func(t *testing.T) {
			db := testdb.New(t, b)
			dir := t.TempDir()
			a := start(t, bin, db.URL, pauseEnv(dir, 3), "db", "sync")
			waitFile(t, filepath.Join(dir, "paused"))
			if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := a.wait()
			if code == 0 || !strings.Contains(stderr, "interrupted; stopped at a safe point") || !strings.Contains(stderr, "Run `glance-manage db sync` again") {
				t.Fatalf("interrupted run: exit %d\n%s", code, stderr)
			}
			out := runTool(t, bin, db.URL, "db", "lock", "show")
			if !strings.Contains(out, "free") {
				t.Fatalf("lock after the interrupted run:\n%s", out)
			}
			if out := runTool(t, bin, db.URL, "db", "sync"); !strings.Contains(out, "synced successfully") {
				t.Fatalf("re-run:\n%s", out)
			}
			assertHead(ctx, t, db)
		})

		t.Run("break a live lock", func(t *testing.T) {
			db := testdb.New(t, b)
			dir := t.TempDir()
			a := start(t, bin, db.URL, pauseEnv(dir, 3), "db", "sync")
			waitFile(t, filepath.Join(dir, "paused"))
			out := runTool(t, bin, db.URL, "db", "lock", "break")
			if !strings.Contains(out, "probably still working") {
				t.Fatalf("break without --force:\n%s", out)
			}
			if b != testdb.MySQL {
				// The paused run is inside a transaction that
				// confirmed the lock (SQLite: the file's write lock;
				// PostgreSQL: the lease row's): the break waits for
				// it. The run stops before its next change after the
				// break, or finds the lock gone when it releases it;
				// either way it says so and exits non-zero. On SQLite,
				// where a waiting writer polls, the run may also finish
				// first: the break then finds the lock free, or gone
				// by the time it deletes it, and breaks nothing.
				brk := start(t, bin, db.URL, nil, "db", "lock", "break", "--force")
				if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				code, stderr := a.wait()
				bcode, berr := brk.wait()
				late := strings.Contains(brk.stdout.String(), "nothing to break") || strings.Contains(berr, "changed hands")
				if (code == 0 || !strings.Contains(stderr, "lost the migration lock")) && !(late && code == 0) {
					t.Fatalf("broken runner: exit %d\n%s\nthe break: exit %d, %s%s", code, stderr, bcode, brk.stdout.String(), berr)
				}
			} else {
				out = runTool(t, bin, db.URL, "db", "lock", "break", "--force")
				if !strings.Contains(out, "Broke the migration lock") {
					t.Fatalf("break --force:\n%s", out)
				}
				// The broken runner notices at its next heartbeat (a
				// third of the 1s lease), then stops once resumed.
				time.Sleep(time.Second)
				if err := os.WriteFile(filepath.Join(dir, "resume"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				code, stderr := a.wait()
				if code == 0 || !strings.Contains(stderr, "lost the migration lock") {
					t.Fatalf("broken runner: exit %d\n%s", code, stderr)
				}
			}
			if out := runTool(t, bin, db.URL, "db", "sync"); !strings.Contains(out, "synced successfully") && !strings.Contains(out, "up to date") {
				t.Fatalf("re-run:\n%s", out)
			}
			assertHead(ctx, t, db)
		})

		t.Run("two runners racing", func(t *testing.T) {
			db := testdb.New(t, b)
			var ps []*proc
			for range 2 {
				ps = append(ps, start(t, bin, db.URL, nil, "--lock-timeout", "-1", "db", "sync"))
			}
			for _, p := range ps {
				if code, stderr := p.wait(); code != 0 {
					t.Fatalf("racing runner: exit %d\n%s\n%s", code, p.stdout.String(), stderr)
				}
			}
			assertHead(ctx, t, db)
		})
	})
}

// runTool runs the binary and returns stdout and stderr together.
func runTool(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+url, "GLANCE_MANAGE_LOCK_LEASE=1s")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func assertHead(ctx context.Context, t *testing.T, db *testdb.DB) {
	t.Helper()
	dump, err := schemadump.Dump(ctx, db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "row 2024_1_contract01") || strings.Count(dump, "\n  row ") != 1 {
		t.Fatalf("the database is not at head:\n%s", dump[max(0, len(dump)-300):])
	}
}
