package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance/purge"
)

// TestPurgeProgressPlain: off a terminal, a long purge prints a plain
// progress line (at most every few seconds) and a final one; short
// purges print nothing.
func TestPurgeProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	a := &app{out: &bytes.Buffer{}, errw: &buf}
	f := a.purgeProgress()
	f(purge.Progress{Table: "image_properties", Deleted: 500, Total: -1, Elapsed: time.Second})
	if buf.Len() != 0 {
		t.Fatalf("progress for a short purge: %q", buf.String())
	}
	f(purge.Progress{Table: "image_properties", Deleted: 30000, Total: 100000, Elapsed: 3 * time.Second})
	f(purge.Progress{Table: "image_properties", Deleted: 31000, Total: 100000, Elapsed: 3 * time.Second}) // throttled
	f(purge.Progress{Table: "image_properties", Deleted: 100000, Total: 100000, Elapsed: 9 * time.Second, Finished: true, Batches: 12, Longest: 87400 * time.Microsecond})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 ||
		lines[0] != "INFO  [glance-manage] purging image_properties: 30000 rows deleted, 10000 rows/s (at most 100000, ETA 7s)" ||
		lines[1] != "INFO  [glance-manage] purging image_properties: 100000 rows deleted, 11111 rows/s, done in 12 batches (longest 87ms)" {
		t.Fatalf("progress lines:\n%s", buf.String())
	}
}

// TestPurgeProgressTerminal: on a terminal a bar is drawn and finished.
func TestPurgeProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	a := &app{out: &bytes.Buffer{}, errw: &buf, env: Env{Terminal: true}}
	f := a.purgeProgress()
	f(purge.Progress{Table: "images", Deleted: 10, Total: -1, Elapsed: 3 * time.Second})
	f(purge.Progress{Table: "images", Deleted: 20, Total: -1, Elapsed: 4 * time.Second, Finished: true})
	if !strings.Contains(buf.String(), "purging images") {
		t.Fatalf("no bar: %q", buf.String())
	}
}
