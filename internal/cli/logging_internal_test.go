package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/oslog"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestProgressBarNotInLog: on a terminal the bar goes to stderr only; the
// log gets the plain progress lines instead.
func TestProgressBarNotInLog(t *testing.T) {
	o := oslog.Defaults()
	o.LogFile = filepath.Join(t.TempDir(), "x.log")
	h, err := oslog.New(o, oslog.Env{Program: "glance-manage"})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	a := &app{out: &bytes.Buffer{}, errw: &stderr, env: Env{Terminal: true}, logh: h}
	f := a.dataProgress()
	f(migrate.DataProgress{Migration: "train_store", Done: 10, Total: 20, Elapsed: time.Second})
	f(migrate.DataProgress{Migration: "train_store", Done: 20, Total: 20, Elapsed: 2 * time.Second, Finished: true})
	a.finish("")
	if !strings.Contains(stderr.String(), "train_store") || !strings.Contains(stderr.String(), "\r") {
		t.Errorf("no bar on the terminal: %q", stderr.String())
	}
	if strings.Contains(stderr.String(), "INFO") {
		t.Errorf("plain progress lines on the terminal beside the bar: %q", stderr.String())
	}
	b, err := os.ReadFile(o.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || strings.ContainsAny(string(b), "\r\x1b") ||
		!strings.HasSuffix(lines[0], " INFO glance-manage [-] data migration train_store progress: 10/20 rows, 10 rows/s, ETA 1s") ||
		!strings.HasSuffix(lines[1], " INFO glance-manage [-] data migration train_store done: 20/20 rows, 10 rows/s, ETA -") {
		t.Errorf("log:\n%s", b)
	}
}
