package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
