package cli_test

// Helpers for tests that drive several glance-manage processes at once
// and wait for what each of them does: a pause point reached
// (GLANCE_MANAGE_PAUSE_ON, migrate/crashpoint_crashtest.go), a line on
// stderr, or the end of the process.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hangGuard is how long a wait for another process's progress may last
// before the test gives up (a process that reached none of the states
// waited for is stuck: a defect, reported as such, rather than a test
// that never ends).
const hangGuard = 2 * time.Minute

// run is a glance-manage process started by a test, with its own
// directory for pause points.
type run struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	dir  string // GLANCE_MANAGE_PAUSE_DIR

	mu     sync.Mutex
	lines  []string // stderr so far
	stdout strings.Builder
	done   chan struct{}
	code   int
	sig    syscall.Signal // the signal that ended it, 0 if it exited
}

// launch starts bin with args against url; env adds variables
// (GLANCE_MANAGE_LOCK_LEASE defaults to 1s, as in start). pause, when not
// empty, is GLANCE_MANAGE_PAUSE_ON.
func launch(t *testing.T, name, bin, url string, env []string, pause string, args ...string) *run {
	t.Helper()
	r := &run{t: t, name: name, dir: t.TempDir(), done: make(chan struct{})}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+url, "GLANCE_MANAGE_LOCK_LEASE=1s", "GLANCE_MANAGE_PAUSE_DIR="+r.dir)
	if pause != "" {
		r.cmd.Env = append(r.cmd.Env, "GLANCE_MANAGE_PAUSE_ON="+pause)
	}
	r.cmd.Env = append(r.cmd.Env, env...)
	r.start()
	return r
}

// wrap runs cmd (already set up, its environment included) as a run.
func wrap(t *testing.T, name string, cmd *exec.Cmd, dir string) *run {
	r := &run{t: t, name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
	r.start()
	return r
}

func (r *run) start() {
	r.t.Helper()
	r.cmd.Stdout = &lockedWriter{mu: &r.mu, w: &r.stdout}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
		err := r.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.sig = ws.Signal()
			}
		}
		close(r.done)
	}()
	r.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stderr returns what the process wrote on stderr so far.
func (r *run) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// paused reports whether the process reached its i-th pause point.
func (r *run) paused(i int) bool {
	_, err := os.Stat(filepath.Join(r.dir, "paused-"+strconv.Itoa(i)))
	return err == nil
}

// said reports whether a line of its stderr contains s.
func (r *run) said(s string) bool { return strings.Contains(r.stderr(), s) }

// resume lets the process go on from its i-th pause point (or lets it
// pass that point without stopping, if it has not reached it yet).
func (r *run) resume(i int) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "resume-"+strconv.Itoa(i)), nil, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for the process to end and returns its exit code (128 +
// the signal's number when a signal ended it, as a shell reports it).
func (r *run) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(hangGuard):
		r.t.Fatalf("%s did not end within %s; stderr:\n%s", r.name, hangGuard, r.stderr())
	}
	if r.sig != 0 {
		return 128 + int(r.sig)
	}
	return r.code
}

// until polls cond until it holds; it fails the test, describing what
// was awaited, when nothing happens for hangGuard.
func until(t *testing.T, what string, cond func() bool, runs ...*run) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, r := range runs {
				fmt.Fprintf(&b, "--- %s (exited: %v) stderr:\n%s\n", r.name, r.exited(), r.stderr())
			}
			t.Fatalf("waited %s for %s:\n%s", hangGuard, what, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
