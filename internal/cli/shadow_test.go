package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// TestCheckReportsUnfinishedCopy: `db expand` killed in the middle of
// MariaDB's shadow copy of images leaves the shadow and its triggers;
// `db check` says so (a warning on stderr, unfinished_copies in its
// JSON), and running `db expand` again finishes the copy.
func TestCheckReportsUnfinishedCopy(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	bin := buildTool(t)
	mitaka := func() *testdb.DB {
		db := testdb.New(t, testdb.MySQL)
		mustCLI(t, db.URL, "db", "sync", "mitaka02")
		for i := range 20 {
			if _, err := db.SQL.Exec("INSERT INTO images (id, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (?, 'active', 1, UTC_TIMESTAMP(), 0, 0, 0, 0)", fmt.Sprintf("img-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	// Where the copy's first batch is, counted in crash points.
	trace := filepath.Join(t.TempDir(), "trace")
	traced := start(t, bin, mitaka().URL, []string{"GLANCE_MANAGE_CRASH_TRACE=" + trace}, "db", "expand")
	if code, stderr := traced.wait(); code != 0 {
		t.Fatalf("db expand: exit %d\n%s", code, stderr)
	}
	lines, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, l := range strings.Split(string(lines), "\n") {
		if f := strings.SplitN(l, "\t", 3); len(f) == 3 && strings.Contains(f[2], "copy of images") {
			at, _ = strconv.Atoi(f[0])
			break
		}
	}
	if at == 0 {
		t.Fatalf("no batch of the copy of images in the trace:\n%s", lines)
	}

	db := mitaka()
	p := start(t, bin, db.URL, []string{"GLANCE_MANAGE_CRASH_AT=" + strconv.Itoa(at)}, "db", "expand")
	if code, stderr := p.wait(); code == 0 {
		t.Fatalf("db expand was not killed at crash point %d:\n%s", at, stderr)
	}
	out, errs, code := runCLI(t, db.URL, "db", "check", "--format", "json")
	var st struct {
		Unfinished []string `json:"unfinished_copies"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("db check --format json: %v\n%s", err, out)
	}
	if len(st.Unfinished) != 1 || st.Unfinished[0] != "images" || !strings.Contains(errs, "stopped while copying table images into a shadow table; run that command again") {
		t.Fatalf("db check after the kill: exit %d, unfinished_copies %q, stderr:\n%s", code, st.Unfinished, errs)
	}
	mustCLI(t, db.URL, "db", "expand")
	out, errs, _ = runCLI(t, db.URL, "db", "check", "--format", "json")
	st.Unfinished = nil
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Unfinished) != 0 || strings.Contains(errs, "shadow table") {
		t.Fatalf("db check after expand ran again: unfinished_copies %q, stderr:\n%s", st.Unfinished, errs)
	}
}
