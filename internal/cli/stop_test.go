package cli_test

// Stopping: however a run is asked to stop (coreutils timeout, two
// Ctrl-C, a reader that goes away), it stops at a safe point, releases
// the migration lock before the process ends, and exits with the shell's
// code for the signal (128 + its number).

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// afterStop checks what every stopped run must leave: the lock free at
// once, and a re-run that finishes the job.
func afterStop(t *testing.T, bin string, db *testdb.DB) {
	t.Helper()
	if out := runTool(t, bin, db.URL, "db", "lock", "show"); !strings.Contains(out, "The migration lock is free.") {
		t.Errorf("db lock show right after the run ended:\n%s", out)
	}
	mustCLI(t, db.URL, "db", "sync")
	assertHead(context.Background(), t, db)
	if _, errs, code := runCLI(t, db.URL, "db", "check"); code != 0 {
		t.Errorf("db check after db sync ran again: exit %d\n%s", code, errs)
	}
}

func TestStopReleasesLock(t *testing.T) {
	bin := buildTool(t)
	timeout, err := exec.LookPath("timeout")
	if err != nil {
		t.Fatalf("coreutils timeout: %v", err)
	}
	nohup, err := exec.LookPath("nohup")
	if err != nil {
		t.Fatalf("coreutils nohup: %v", err)
	}
	// Every run pauses at ocata_expand01's first statement (inside its
	// transaction on SQLite and PostgreSQL) and is stopped there.
	const pause = "stmt:visibility"
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, sc := range []struct {
			name  string
			sig   syscall.Signal
			count int
			code  int
		}{
			{"two SIGINTs", syscall.SIGINT, 2, 130},
			{"two SIGTERMs", syscall.SIGTERM, 2, 143},
			{"SIGHUP", syscall.SIGHUP, 1, 129},
		} {
			t.Run(sc.name, func(t *testing.T) {
				db := testdb.New(t, b)
				seedMitaka(t, db, 100)
				r := launch(t, "db sync", bin, db.URL, nil, pause, "db", "sync")
				until(t, "the pause", func() bool { return r.paused(1) || r.exited() }, r)
				for i := range sc.count {
					if err := r.cmd.Process.Signal(sc.sig); err != nil {
						t.Fatal(err)
					}
					// Each signal is acknowledged before the next is
					// sent (two sent at once may arrive as one).
					want := "received " + sigName(sc.sig) + ": stopping"
					if i > 0 {
						want = "still stopping"
					}
					until(t, "the run to say "+want, func() bool { return r.said(want) || r.exited() }, r)
				}
				r.resume(1)
				if code := r.wait(); code != sc.code || !r.said("stopped at a safe point") {
					t.Errorf("exit %d; want %d, stopped at a safe point:\n%s", code, sc.code, r.stderr())
				}
				afterStop(t, bin, db)
			})
		}

		t.Run("timeout", func(t *testing.T) {
			// timeout's expiry is its SIGALRM: on it, timeout sends
			// SIGTERM to the run, then to its whole process group
			// (the run again), then SIGCONT. Sending SIGALRM makes it
			// expire exactly while the run is paused.
			db := testdb.New(t, b)
			seedMitaka(t, db, 100)
			dir := t.TempDir()
			cmd := exec.Command(timeout, "--preserve-status", "1h", bin, "db", "sync")
			cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+db.URL, "GLANCE_MANAGE_LOCK_LEASE=1s",
				"GLANCE_MANAGE_PAUSE_DIR="+dir, "GLANCE_MANAGE_PAUSE_ON="+pause)
			r := wrap(t, "timeout db sync", cmd, dir)
			until(t, "the pause", func() bool { return r.paused(1) || r.exited() }, r)
			if err := cmd.Process.Signal(syscall.SIGALRM); err != nil {
				t.Fatal(err)
			}
			until(t, "the run to say it stops", func() bool { return r.said("received SIGTERM: stopping") || r.exited() }, r)
			r.resume(1)
			if code := r.wait(); code != 143 || !r.said("stopped at a safe point") {
				t.Errorf("timeout --preserve-status: exit %d; want 143, stopped at a safe point:\n%s", code, r.stderr())
			}
			afterStop(t, bin, db)
		})

		t.Run("SIGHUP under nohup", func(t *testing.T) {
			// A signal ignored when the run started stays ignored:
			// nohup's run survives the hangup.
			db := testdb.New(t, b)
			seedMitaka(t, db, 100)
			dir := t.TempDir()
			cmd := exec.Command(nohup, bin, "db", "sync") // nohup execs the tool
			cmd.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+db.URL, "GLANCE_MANAGE_LOCK_LEASE=1s",
				"GLANCE_MANAGE_PAUSE_DIR="+dir, "GLANCE_MANAGE_PAUSE_ON="+pause)
			r := wrap(t, "nohup db sync", cmd, dir)
			until(t, "the pause", func() bool { return r.paused(1) || r.exited() }, r)
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			// The hangup is not noticed; nothing to wait for but the
			// resumed run's end.
			r.resume(1)
			if code := r.wait(); code != 0 || r.said("received SIGHUP") {
				t.Errorf("nohup db sync after SIGHUP: exit %d; want 0, the signal ignored:\n%s", code, r.stderr())
			}
			assertHead(context.Background(), t, db)
		})

		t.Run("closed pipe", func(t *testing.T) {
			// `glance-manage db sync 2>&1 | head -1`: head exits
			// after the first line; every later write of the run
			// fails (EPIPE). The run finishes regardless.
			db := testdb.New(t, b)
			seedMitaka(t, db, 100)
			dir := t.TempDir()
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			tool := exec.Command(bin, "db", "sync")
			tool.Env = append(os.Environ(), "OS_DATABASE__CONNECTION="+db.URL, "GLANCE_MANAGE_LOCK_LEASE=1s",
				"GLANCE_MANAGE_PAUSE_DIR="+dir, "GLANCE_MANAGE_PAUSE_ON="+pause)
			tool.Stdout, tool.Stderr = pw, pw
			head := exec.Command("head", "-1")
			head.Stdin = pr
			var first strings.Builder
			head.Stdout = &first
			if err := head.Start(); err != nil {
				t.Fatal(err)
			}
			if err := tool.Start(); err != nil {
				t.Fatal(err)
			}
			pr.Close()
			pw.Close()
			if err := head.Wait(); err != nil {
				t.Fatalf("head: %v", err)
			}
			ended := make(chan error, 1)
			go func() { ended <- tool.Wait() }()
			r := &run{t: t, name: "db sync | head -1", dir: dir}
			var werr error
			exited := false
			until(t, "the pause", func() bool {
				select {
				case werr = <-ended:
					exited = true
				default:
				}
				return exited || r.paused(1)
			})
			r.resume(1)
			if !exited {
				werr = <-ended
			}
			err = werr
			code, sig := 0, syscall.Signal(0)
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					sig = ws.Signal()
				}
			}
			if code != 0 || sig != 0 {
				t.Errorf("db sync with its output closed: exit %d, signal %v; want 0 (head printed %q)", code, sig, first.String())
			}
			if sc := bufio.NewScanner(strings.NewReader(first.String())); !sc.Scan() || sc.Text() == "" {
				t.Errorf("head printed nothing")
			}
			afterStop(t, bin, db)
		})
	})
}

// sigName is how the tool names a signal.
func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}
