package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/migrate"
)

// TestDataProgressPlain: off a terminal, a data migration prints a line
// with rows, rate and ETA at most every few seconds, and a final one.
func TestDataProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	a := &app{out: &bytes.Buffer{}, errw: &buf}
	f := a.dataProgress()
	f(migrate.DataProgress{Migration: "ocata_visibility", Done: 20000, Total: 100000, Elapsed: 2 * time.Second})
	f(migrate.DataProgress{Migration: "ocata_visibility", Done: 25000, Total: 100000, Elapsed: 2500 * time.Millisecond}) // throttled
	f(migrate.DataProgress{Migration: "ocata_visibility", Done: 100000, Total: 100000, Elapsed: 8 * time.Second, Finished: true})
	want := []string{
		"INFO  [glance-manage] data migration ocata_visibility progress: 20000/100000 rows, 10000 rows/s, ETA 8s",
		"INFO  [glance-manage] data migration ocata_visibility done: 100000/100000 rows, 12500 rows/s, ETA -",
	}
	if got := strings.Split(strings.TrimSpace(buf.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("progress lines:\n%s\nwant:\n%s", buf.String(), strings.Join(want, "\n"))
	}
}

// TestDataProgressTerminal: on a terminal a bar named after the migration
// is drawn and finished with a new line.
func TestDataProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	a := &app{out: &bytes.Buffer{}, errw: &buf, env: Env{Terminal: true}}
	f := a.dataProgress()
	f(migrate.DataProgress{Migration: "train_store", Done: 10, Total: 20, Elapsed: time.Second})
	f(migrate.DataProgress{Migration: "train_store", Done: 20, Total: 20, Elapsed: 2 * time.Second, Finished: true})
	if out := buf.String(); !strings.Contains(out, "train_store") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("no finished bar: %q", out)
	}
}

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
