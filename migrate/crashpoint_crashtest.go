//go:build crashtest && unix

package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
//   - GLANCE_MANAGE_DATA_BATCH=n: data migrations and shadow copies run
//     in batches of n rows instead of adaptive ones, so that every run
//     passes the same crash points.
//   - GLANCE_MANAGE_PAUSE_ON=spec;spec;... with GLANCE_MANAGE_PAUSE_DIR=dir:
//     pause points found by what they do rather than by number. A spec is
//     KIND:TEXT or KIND:TEXT#N, KIND one of stmt (a Statement whose SQL
//     contains TEXT), batch (a DataBatch whose migration or copy name
//     contains TEXT) and start (the RevisionStart of revision TEXT); N
//     picks the N-th such event (default the first). At the i-th spec's
//     event (i from 1) the process creates dir/paused-i and waits until
//     dir/resume-i exists. A pause comes before the step it precedes
//     confirms the lock (Fence), so a lock broken during the pause is
//     noticed by that step.
func init() {
	crashBatch, _ = strconv.Atoi(os.Getenv("GLANCE_MANAGE_DATA_BATCH"))
	at, _ := strconv.Atoi(os.Getenv("GLANCE_MANAGE_CRASH_AT"))
	pause, _ := strconv.Atoi(os.Getenv("GLANCE_MANAGE_PAUSE_AT"))
	pauseDir := os.Getenv("GLANCE_MANAGE_PAUSE_DIR")
	trace := os.Getenv("GLANCE_MANAGE_CRASH_TRACE")
	specs := pauseSpecs(os.Getenv("GLANCE_MANAGE_PAUSE_ON"))
	if pauseDir == "" {
		pause, specs = 0, nil
	}
	if at <= 0 && trace == "" && pause <= 0 && len(specs) == 0 {
		return
	}
	n := 0
	crashHook = func(e Event) {
		for i := range specs {
			if specs[i].match(e) {
				specs[i].seen++
				if specs[i].seen == specs[i].n {
					wait(pauseDir, "-"+strconv.Itoa(i+1))
				}
			}
		}
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
		if n == pause {
			wait(pauseDir, "")
		}
		if n == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}

// wait creates dir/paused<suffix> and returns once dir/resume<suffix>
// exists.
func wait(dir, suffix string) {
	_ = os.WriteFile(filepath.Join(dir, "paused"+suffix), []byte(strconv.Itoa(os.Getpid())), 0o644)
	for {
		if _, err := os.Stat(filepath.Join(dir, "resume"+suffix)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pauseSpec is one spec of GLANCE_MANAGE_PAUSE_ON.
type pauseSpec struct {
	kind, text string
	n, seen    int
}

func pauseSpecs(env string) []pauseSpec {
	var out []pauseSpec
	for _, s := range strings.Split(env, ";") {
		kind, text, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		p := pauseSpec{kind: kind, text: text, n: 1}
		if i := strings.LastIndexByte(text, '#'); i >= 0 {
			if n, err := strconv.Atoi(text[i+1:]); err == nil && n > 0 {
				p.text, p.n = text[:i], n
			}
		}
		out = append(out, p)
	}
	return out
}

func (p *pauseSpec) match(e Event) bool {
	switch p.kind {
	case "stmt":
		return e.Kind == Statement && strings.Contains(e.SQL, p.text)
	case "batch":
		return e.Kind == DataBatch && strings.Contains(e.SQL, p.text)
	case "start":
		return e.Kind == RevisionStart && e.Revision != nil && e.Revision.ID == p.text
	}
	return false
}
