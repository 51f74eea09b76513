package cli_test

import (
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

// TestPurgeArguments pins upstream's argument handling: defaults,
// positional forms (negative numbers included), abbreviations, argparse's
// exit-2 errors for bad options, and _purge's exit-1 messages in order.
func TestPurgeArguments(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	opsMust(t, db.URL, "", "db", "sync")
	cases := []struct {
		args   string
		code   int
		stderr string // a line stderr must contain
	}{
		{"db purge", 0, "Purging deleted rows older than 30 day(s) from table image_properties"},
		{"db purge", 0, "Deleted 0 row(s) from table tasks"},
		{"db purge_images_table", 0, "Purging deleted rows older than 180 day(s) from table images"},
		{"db purge 1 -1", 0, "older than 1 day(s) from table task_info"},
		{"db purge --age 5", 0, "older than 5 day(s)"},
		{"db purge --age_in_days=3 --max_rows=-1", 0, "older than 3 day(s)"},
		{"db purge 7 --max_rows 3", 0, "older than 7 day(s)"},
		{"db purge --max_rows -1 --age_in_days 1_0", 0, "older than 10 day(s)"},
		{"db purge --no-yield", 0, "Deleted 0 row(s) from table tasks"},
		{"db purge_images_table 30 -1 --no-yield", 0, "older than 30 day(s) from table images"},
		{"db purge --no-yield=yes", 2, "argument --no-yield: ignored explicit argument 'yes'"},
		{"db purge --age_in_days x", 2, "glance-manage db purge: error: argument --age_in_days: invalid int value: 'x'"},
		{"db purge_images_table --max_rows 1.5", 2, "glance-manage db purge_images_table: error: argument --max_rows: invalid int value: '1.5'"},
		{"db purge --max_rows", 2, "argument --max_rows: expected one argument"},
		{"db purge --bogus", 2, "unrecognized arguments: --bogus"},
		{"db purge -x", 2, "unrecognized arguments: -x"},
		{"db_purge", 2, "unknown command"},
		{"db purge x", 1, "Invalid int value for age_in_days: x"},
		{"db purge 1 y", 1, "Invalid int value for max_rows: y"},
		{"db purge -5 y", 1, "Invalid int value for max_rows: y"},
		{"db purge -- -1", 1, "Must supply a non-negative value for age."},
		{"db purge 100000 -5", 1, "Maximal age is count of days since epoch."},
		{"db purge 1 -2", 1, "Minimal rows limit is -1."},
		{"db purge_images_table --max_rows 2147483648", 1, "'max_rows' value out of range, must not exceed 2147483647."},
		{"db purge 1 2 3", 1, "db purge takes at most 2 argument(s)"},
		{"db purge --age_in_days 1 x", 1, "age_in_days was given twice"},
		{"db purge 5 --age_in_days 1", 1, "age_in_days was given twice"},
	}
	for _, c := range cases {
		out, errOut, code := opsRun(t, db.URL, "", strings.Fields(c.args)...)
		if code != c.code || !strings.Contains(errOut, c.stderr) {
			t.Errorf("%s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", c.args, code, c.code, c.stderr, out, errOut)
		}
		if c.code == 1 && !strings.HasPrefix(c.stderr, "Purg") && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: more than one line on stderr:\n%s", c.args, errOut)
		}
		if out != "" {
			t.Errorf("%s: stdout %q, want nothing (as upstream)", c.args, out)
		}
	}
	out, _, code := opsRun(t, db.URL, "", "db", "purge", "--help")
	if code != 0 || !strings.Contains(out, "--age_in_days") || !strings.Contains(out, "--max_rows") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

// TestPurgeValidatesBeforeConnecting: bad arguments are reported even
// when the database cannot be reached, as upstream does.
func TestPurgeValidatesBeforeConnecting(t *testing.T) {
	_, errOut, code := opsRun(t, "mysql+pymysql://nobody:secret@127.0.0.1:1/none", "", "db", "purge", "x")
	if code != 1 || strings.TrimSpace(errOut) != "Invalid int value for age_in_days: x" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestPurgeArgumentsAgainstReference compares exit codes and the message
// line of bad invocations with the reference tool's.
func TestPurgeArgumentsAgainstReference(t *testing.T) {
	testdb.Reference(t)
	db := testdb.New(t, testdb.SQLite)
	opsMust(t, db.URL, "", "db", "sync")
	for _, args := range []string{"db purge x", "db purge 1 y", "db purge -- -1", "db purge 1 -2", "db purge_images_table 1 2147483648", "db purge --age_in_days x"} {
		_, refErr, refCode := testdb.RunReference(t, db.URL, strings.Fields(args)...)
		_, errOut, code := opsRun(t, db.URL, "", strings.Fields(args)...)
		if code != refCode {
			t.Errorf("%s: exit %d, reference %d", args, code, refCode)
		}
		lines := strings.Split(strings.TrimSpace(refErr), "\n")
		last := lines[len(lines)-1]
		if code == 2 {
			last = strings.TrimPrefix(last, "glance-manage db purge: error: ")
		}
		if !strings.Contains(errOut, last) {
			t.Errorf("%s: stderr lacks the reference's %q:\n%s", args, last, errOut)
		}
	}
}

// TestPurgeCLIDeletes purges on every backend through the command line:
// old soft-deleted child rows and tasks go, live and young rows stay, and
// an image still referenced by a live row is kept with a warning instead
// of failing the purge. With --no-yield (one DELETE per table) the same
// rows go and the same lines are printed.
func TestPurgeCLIDeletes(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		stderrs := map[string]string{}
		for _, mode := range []string{"", "--no-yield"} {
			// The cutoff in the warning moves with the clock.
			stderrs[mode] = timestamp.ReplaceAllString(purgeCLI(t, b, mode), "<cutoff>")
		}
		if stderrs[""] != stderrs["--no-yield"] {
			t.Errorf("stderr differs with --no-yield:\n%s\nwithout:\n%s", stderrs["--no-yield"], stderrs[""])
		}
	})
}

var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// purgeCLI is TestPurgeCLIDeletes on a fresh database, the purges given
// the extra argument mode; it returns their stderr.
func purgeCLI(t *testing.T, b testdb.Backend, mode string) string {
	t.Helper()
	with := func(args ...string) []string {
		if mode != "" {
			args = append(args, mode)
		}
		return args
	}
	db := testdb.New(t, b)
	opsMust(t, db.URL, "", "db", "sync")
	now := time.Now().UTC()
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format("2006-01-02 15:04:05") }
	exec := func(q string, args ...any) {
		t.Helper()
		if b == testdb.PostgreSQL {
			for i := 1; strings.Contains(q, "?"); i++ {
				q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
			}
		}
		if _, err := db.SQL.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	image := func(id string, deleted bool, at any) {
		exec("INSERT INTO images (id, status, created_at, deleted, deleted_at, min_disk, min_ram, protected, visibility, os_hidden) VALUES (?, 'active', ?, ?, ?, 0, 0, ?, 'private', ?)", id, ago(400), deleted, at, false, false)
	}
	image("old", true, ago(200))
	image("kept", true, ago(200))
	image("young", true, ago(10))
	image("live", false, nil)
	prop := func(id int, img string, deleted bool, at any) {
		exec("INSERT INTO image_properties (id, image_id, name, value, created_at, deleted, deleted_at) VALUES (?, ?, ?, 'v', ?, ?, ?)", id, img, fmt.Sprint("p", id), ago(400), deleted, at)
	}
	prop(1, "old", true, ago(100))
	prop(2, "live", true, ago(40))
	prop(3, "live", true, ago(5))
	prop(4, "live", false, nil)
	exec("INSERT INTO image_tags (id, image_id, value, created_at, deleted) VALUES (1, 'kept', 'still-here', ?, ?)", ago(400), false)

	_, errOut := opsMust(t, db.URL, "", with("db", "purge", "--max_rows", "-1")...)
	if !strings.Contains(errOut, "Deleted 2 row(s) from table image_properties") {
		t.Errorf("purge %s stderr:\n%s", mode, errOut)
	}
	_, errImages := opsMust(t, db.URL, "", with("db", "purge_images_table", "30", "-1")...)
	if !strings.Contains(errImages, "Deleted 1 row(s) from table images") || !strings.Contains(errImages, "WARNING [glance-manage] Kept 1 row(s) of images") || !strings.Contains(errImages, "image_tags (1)") {
		t.Errorf("purge_images_table %s stderr:\n%s", mode, errImages)
	}
	if got := ids(t, db.SQL, "SELECT id FROM images"); got != "kept live young" {
		t.Errorf("%s: images left: %s", mode, got)
	}
	if got := ids(t, db.SQL, "SELECT id FROM image_properties"); got != "3 4" {
		t.Errorf("%s: properties left: %s", mode, got)
	}
	return errOut + errImages
}

func ids(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
