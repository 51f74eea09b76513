//go:build crashtest && unix

package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Crash points for the crash-injection and lock tests. Every Statement
// and DataBatch event is a crash point, numbered from 1 within the
// process.
//
//   - GLANCE_MANAGE_CRASH_AT=k: the process kills itself with SIGKILL at
//     crash point k, before that statement runs.
//   - GLANCE_MANAGE_CRASH_TRACE=file: one line per crash point is
//     appended to file.
//   - GLANCE_MANAGE_PAUSE_AT=k with GLANCE_MANAGE_PAUSE_DIR=dir: at crash
//     point k the process creates dir/paused and waits until dir/resume
//     exists (it holds the migration lock meanwhile).
func init() {
	at, _ := strconv.Atoi(os.Getenv("GLANCE_MANAGE_CRASH_AT"))
	pause, _ := strconv.Atoi(os.Getenv("GLANCE_MANAGE_PAUSE_AT"))
	pauseDir := os.Getenv("GLANCE_MANAGE_PAUSE_DIR")
	trace := os.Getenv("GLANCE_MANAGE_CRASH_TRACE")
	if at <= 0 && trace == "" && (pause <= 0 || pauseDir == "") {
		return
	}
	n := 0
	crashHook = func(e Event) {
		if e.Kind != Statement && e.Kind != DataBatch {
			return
		}
		n++
		if trace != "" {
			if f, err := os.OpenFile(trace, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				rev := ""
				if e.Revision != nil {
					rev = e.Revision.ID
				}
				fmt.Fprintf(f, "%d\t%s\t%.60q\n", n, rev, e.SQL)
				f.Close()
			}
		}
		if n == pause && pauseDir != "" {
			_ = os.WriteFile(filepath.Join(pauseDir, "paused"), []byte(strconv.Itoa(os.Getpid())), 0o644)
			for {
				if _, err := os.Stat(filepath.Join(pauseDir, "resume")); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		if n == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
