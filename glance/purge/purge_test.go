package purge_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	epochDays := now.Unix() / 86400 // 20416.5 days since the epoch
	cases := []struct {
		age, rows string
		wantAge   int
		wantRows  int64
		msg       string
	}{
		{"30", "100", 30, 100, ""},
		{" 30 ", "+5", 30, 5, ""},
		{"1_0", "-1", 10, -1, ""},
		{"٣", "0", 3, 0, ""}, // Python's int() takes any Unicode digit
		{"0", "2147483647", 0, purge.MaxRowsLimit, ""},
		{"x", "y", 0, 0, "Invalid int value for age_in_days: x"},
		{"1.5", "1", 0, 0, "Invalid int value for age_in_days: 1.5"},
		{"", "1", 0, 0, "Invalid int value for age_in_days: "},
		{"1", "y", 0, 0, "Invalid int value for max_rows: y"},
		{"1__0", "1", 0, 0, "Invalid int value for age_in_days: 1__0"},
		{"_1", "1", 0, 0, "Invalid int value for age_in_days: _1"},
		{"-1", "y", 0, 0, "Invalid int value for max_rows: y"}, // both parsed first
		{"-1", "-5", 0, 0, "Must supply a non-negative value for age."},
		{fmt.Sprint(epochDays), "1", int(epochDays), 1, ""},
		{fmt.Sprint(epochDays + 1), "1", 0, 0, "Maximal age is count of days since epoch."},
		{"99999999999999999999999", "-2", 0, 0, "Maximal age is count of days since epoch."},
		{"1", "-2", 0, 0, "Minimal rows limit is -1."},
		{"1", "2147483648", 0, 0, "'max_rows' value out of range, must not exceed 2147483647."},
		{"1", "99999999999999999999999", 0, 0, "'max_rows' value out of range, must not exceed 2147483647."},
	}
	for _, c := range cases {
		age, rows, err := purge.Validate(c.age, c.rows, now)
		if c.msg != "" {
			var ae *purge.ArgError
			if !errors.As(err, &ae) || ae.Msg != c.msg {
				t.Errorf("Validate(%q, %q) = %v; want %q", c.age, c.rows, err, c.msg)
			}
			continue
		}
		if err != nil || age != c.wantAge || rows != c.wantRows {
			t.Errorf("Validate(%q, %q) = %d, %d, %v; want %d, %d", c.age, c.rows, age, rows, err, c.wantAge, c.wantRows)
		}
	}
}

func TestRunRefusesOutOfRangeMaxRows(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	for _, n := range []int64{purge.MaxRowsLimit + 1, -2} {
		_, err := purge.Rows(context.Background(), tdb.SQL, d, purge.Options{AgeInDays: 30, MaxRows: n})
		var ae *purge.ArgError
		if !errors.As(err, &ae) {
			t.Errorf("MaxRows %d: err = %v", n, err)
		}
	}
}

func TestTables(t *testing.T) {
	want := "task_info image_properties image_tags image_locations image_members tasks"
	if got := strings.Join(purge.Tables(), " "); got != want {
		t.Fatalf("Tables() = %s", got)
	}
}

func show(m map[string][]string) string {
	var b strings.Builder
	for _, tbl := range purgedTables {
		fmt.Fprintf(&b, "  %-17s %s\n", tbl, strings.Join(m[tbl], " "))
	}
	return b.String()
}

func runStep(t *testing.T, tdb *testdb.DB, d dialect.Dialect, s step, log func(string)) *purge.Result {
	t.Helper()
	o := purge.Options{AgeInDays: s.age, MaxRows: s.rows, Log: log}
	var res *purge.Result
	var err error
	if s.images {
		res, err = purge.Images(context.Background(), tdb.SQL, d, o)
	} else {
		res, err = purge.Rows(context.Background(), tdb.SQL, d, o)
	}
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return res
}

// TestScenario runs the scenario's purges on every backend and checks the
// rows left after each.
func TestScenario(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := headDB(t, b)
		insertFixture(t, tdb.SQL, d, time.Now())
		for _, s := range scenario {
			var logs []string
			runStep(t, tdb, d, s, func(m string) { logs = append(logs, m) })
			if got := show(remaining(t, tdb.SQL)); got != show(s.want) {
				t.Fatalf("after %s:\n%swant:\n%s", s.name, got, show(s.want))
			}
			if !s.images && len(logs) != 12 || s.images && len(logs) != 2 {
				t.Fatalf("after %s: log lines %q", s.name, logs)
			}
		}
	})
}

func TestLogLines(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	insertFixture(t, tdb.SQL, d, time.Now())
	var logs []string
	runStep(t, tdb, d, scenario[0], func(m string) { logs = append(logs, m) })
	want := []string{
		"Purging deleted rows older than 30 day(s) from table task_info",
		"Deleted 2 row(s) from table task_info",
		"Purging deleted rows older than 30 day(s) from table image_properties",
		"Deleted 3 row(s) from table image_properties",
		"Purging deleted rows older than 30 day(s) from table image_tags",
		"Deleted 3 row(s) from table image_tags",
		"Purging deleted rows older than 30 day(s) from table image_locations",
		"Deleted 2 row(s) from table image_locations",
		"Purging deleted rows older than 30 day(s) from table image_members",
		"Deleted 2 row(s) from table image_members",
		"Purging deleted rows older than 30 day(s) from table tasks",
		"Deleted 3 row(s) from table tasks",
	}
	if strings.Join(logs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logs:\n%s\nwant:\n%s", strings.Join(logs, "\n"), strings.Join(want, "\n"))
	}
}

func TestMaxRowsZeroDeletesNothing(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	insertFixture(t, tdb.SQL, d, time.Now())
	before := show(remaining(t, tdb.SQL))
	runStep(t, tdb, d, step{age: 0, rows: 0}, nil)
	runStep(t, tdb, d, step{images: true, age: 0, rows: 0}, nil)
	if after := show(remaining(t, tdb.SQL)); after != before {
		t.Fatalf("max_rows 0 deleted rows:\n%s", after)
	}
}

// TestReferencedImagesAreKept: upstream fails the whole batch with a
// foreign-key error when an old image still has child rows; we delete the
// others, keep it and say why.
func TestReferencedImagesAreKept(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := headDB(t, b)
		now := time.Now()
		insertFixture(t, tdb.SQL, d, now)
		// A live tag and a recently deleted property on images deleted
		// 200 and 190 days ago.
		exec(t, tdb, d, "INSERT INTO image_tags (id, image_id, value, created_at, deleted) VALUES (?, ?, ?, ?, ?)", 100, "i-200", "keep", ts(now, 300), false)
		exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)", 100, "i-190", "x", "y", ts(now, 300), ts(now, 3), true)
		exec(t, tdb, d, "INSERT INTO image_members (id, image_id, member, can_share, created_at, deleted, status) VALUES (?, ?, ?, ?, ?, ?, ?)", 100, "i-190", "m", false, ts(now, 300), false, "pending")
		res := runStep(t, tdb, d, step{images: true, age: 180, rows: -1}, nil)
		got := remaining(t, tdb.SQL)["images"]
		if want := "i-10 i-100 i-190 i-200 i-40 i-50 i-live i-revived"; strings.Join(got, " ") != want {
			t.Fatalf("images left: %v; want %s", got, want)
		}
		tr := res.Tables[0]
		// i-200 is still referenced by property 1, tags 1 and 100,
		// location 1 and member 1 (deleted 45-48 days ago: not purged
		// yet, or live); i-190 by properties 2, 3 and 100, tag 2 and
		// member 100. KeptBy counts images per referencing table.
		if tr.Deleted != 1 || tr.Kept != 2 || tr.KeptBy["image_tags"] != 2 || tr.KeptBy["image_properties"] != 2 || tr.KeptBy["image_members"] != 2 || tr.KeptBy["image_locations"] != 1 {
			t.Fatalf("result %+v", tr)
		}
		// max_rows counts only images that can go: the next run with a
		// limit makes progress past the kept ones.
		res = runStep(t, tdb, d, step{images: true, age: 30, rows: 1}, nil)
		if got := remaining(t, tdb.SQL)["images"]; strings.Join(got, " ") != "i-10 i-100 i-190 i-200 i-40 i-live i-revived" || res.Tables[0].Deleted != 1 {
			t.Fatalf("images left: %v, result %+v", got, res.Tables[0])
		}
	})
}

// liveImage inserts the live image "img", created 400 days before now,
// for properties to belong to.
func liveImage(t *testing.T, tdb *testdb.DB, d dialect.Dialect, now time.Time) {
	t.Helper()
	exec(t, tdb, d, "INSERT INTO images (id, status, created_at, deleted, min_disk, min_ram, protected, visibility) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "img", "active", ts(now, 400), false, 0, 0, false, "private")
}

func exec(t *testing.T, tdb *testdb.DB, d dialect.Dialect, q string, args ...any) {
	t.Helper()
	n := 0
	q = replaceEach(q, "?", func() string { n++; return d.Placeholder(n) })
	if _, err := tdb.SQL.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func replaceEach(s, old string, repl func() string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		b.WriteString(repl())
		s = s[i+len(old):]
	}
}

// TestTasksWithInfoAreKept: when max_rows stops the task_info purge short,
// tasks whose info is left are kept (upstream can fail with a foreign-key
// error there).
func TestTasksWithInfoAreKept(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	now := time.Now()
	for i, age := range []float64{50, 49, 48, 47} {
		id := fmt.Sprintf("t%d", i)
		exec(t, tdb, d, "INSERT INTO tasks (id, type, status, owner, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)", id, "import", "success", "o", ts(now, 60), ts(now, age), true)
		if i != 1 {
			exec(t, tdb, d, "INSERT INTO task_info (task_id, input) VALUES (?, ?)", id, "{}")
		}
	}
	// task_info: the infos of t0 and t2 go; tasks: t0 and t1 are the two
	// oldest deletable ones (t2's info went, t3 still has one).
	res := runStep(t, tdb, d, step{age: 30, rows: 2}, nil)
	left := remaining(t, tdb.SQL)
	if got := strings.Join(left["tasks"], " ") + " / " + strings.Join(left["task_info"], " "); got != "t2 t3 / t3" {
		t.Fatalf("tasks / task_info left: %s", got)
	}
	last := res.Tables[len(res.Tables)-1]
	if last.Table != "tasks" || last.Deleted != 2 || last.Kept != 1 || last.KeptBy["task_info"] != 1 {
		t.Fatalf("tasks result %+v", last)
	}
}

// TestLargeLimitAndTies exercises the batched path for max_rows larger
// than a batch: exactly max_rows rows go, the oldest first, with ties at
// the boundary broken arbitrarily but counted exactly.
func TestLargeLimitAndTies(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := headDB(t, b)
		now := time.Now()
		liveImage(t, tdb, d, now)
		// 40 rows: ages 100..61 days, except that rows 20-29 share
		// the age 80.
		for i := 0; i < 40; i++ {
			age := float64(100 - i)
			if i >= 20 && i < 30 {
				age = 80
			}
			exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)", i+1, "img", fmt.Sprint("p", i), "v", ts(now, 300), ts(now, age), true)
		}
		var batches []int64
		o := purge.Options{AgeInDays: 30, MaxRows: 25, BatchSize: 4, FixedBatch: true, Progress: func(p purge.Progress) {
			if p.Table == "image_properties" && !p.Finished {
				batches = append(batches, p.Deleted)
			}
		}}
		res, err := purge.Rows(context.Background(), tdb.SQL, d, o)
		if err != nil {
			t.Fatal(err)
		}
		props := res.Tables[1]
		if props.Table != "image_properties" || props.Deleted != 25 || props.Batches < 7 {
			t.Fatalf("result %+v", props)
		}
		left := remaining(t, tdb.SQL)["image_properties"]
		// Rows 1-20 (ages 100-81) must be gone, rows 31-40 (ages
		// 70-61) kept, and 5 of the 10 tied rows gone.
		keep := map[string]bool{}
		for _, id := range left {
			keep[id] = true
		}
		tied := 0
		for i := 1; i <= 40; i++ {
			id := fmt.Sprint(i)
			switch {
			case i <= 20 && keep[id]:
				t.Fatalf("row %s (older than the 25th) kept", id)
			case i > 30 && !keep[id]:
				t.Fatalf("row %s (younger than the 25th) deleted", id)
			case i > 20 && i <= 30 && keep[id]:
				tied++
			}
		}
		if tied != 5 {
			t.Fatalf("%d tied rows kept, want 5", tied)
		}
		if len(batches) == 0 || batches[len(batches)-1] != 25 {
			t.Fatalf("progress %v", batches)
		}
		// Fewer eligible rows than max_rows: all of them go.
		res, err = purge.Rows(context.Background(), tdb.SQL, d, purge.Options{AgeInDays: 30, MaxRows: 1000, BatchSize: 4, FixedBatch: true})
		if err != nil || res.Tables[1].Deleted != 15 {
			t.Fatalf("second run: %+v, %v", res, err)
		}
	})
}

// TestAllInBatches checks max_rows -1 over more rows than a batch, with
// adaptive batch sizes, on every backend (integer keys: key ranges on
// SQLite and MySQL, page ranges on PostgreSQL), and that the batches walk
// every row once: every old soft-deleted row goes, live ones and young
// ones stay.
func TestAllInBatches(t *testing.T) {
	type run struct {
		b       testdb.Backend
		analyze bool // PostgreSQL walks pages only with statistics
		walk    string
	}
	runs := []run{
		{testdb.SQLite, false, purge.WalkKeyRanges},
		{testdb.MySQL, false, purge.WalkKeyRanges},
		{testdb.PostgreSQL, false, purge.WalkKeyRanges},
		{testdb.PostgreSQL, true, purge.WalkPages},
	}
	for _, r := range runs {
		b := r.b
		t.Run(fmt.Sprintf("%s/%s", b, r.walk), func(t *testing.T) {
			tdb, d := headDB(t, b)
			now := time.Now()
			liveImage(t, tdb, d, now)
			const rows = 2500
			for start := 1; start <= rows; start += 500 {
				var vals []string
				var args []any
				for i := start; i < start+500; i++ {
					deleted := i%10 != 0 // every tenth row is live
					var at any
					switch {
					case !deleted:
					case i%10 == 5:
						at = ts(now, 10) // soft-deleted, too young
					default:
						at = ts(now, 40+float64(i%7))
					}
					vals = append(vals, "(?, ?, ?, ?, ?, ?, ?)")
					args = append(args, i, "img", fmt.Sprint("p", i), "v", ts(now, 300), at, deleted)
				}
				exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES "+strings.Join(vals, ", "), args...)
			}
			if r.analyze {
				exec(t, tdb, d, "ANALYZE image_properties")
			}
			res, err := purge.Rows(context.Background(), tdb.SQL, d, purge.Options{AgeInDays: 30, MaxRows: -1, BatchSize: 300})
			if err != nil {
				t.Fatal(err)
			}
			if p := res.Tables[1]; p.Deleted != 2000 || p.Batches < 7 || p.Walk != r.walk {
				t.Fatalf("result %+v; want 2000 rows deleted in batches of at most 300, walking %s", p, r.walk)
			}
			left := remaining(t, tdb.SQL)["image_properties"]
			if len(left) != 500 {
				t.Fatalf("%d rows left, want 500 (250 live, 250 too young)", len(left))
			}
			for _, id := range left {
				if n, _ := strconv.Atoi(id); n%10 != 0 && n%10 != 5 {
					t.Fatalf("row %s is left: it was old and soft-deleted", id)
				}
			}
		})
	}
}

// TestKeyGaps: an integer key that jumps (ids 1-40, then 100001-100040) is
// walked in a few batches, not one per batch of missing keys, and every
// eligible row on both sides of the jump goes.
func TestKeyGaps(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		tdb, d := headDB(t, b)
		now := time.Now()
		liveImage(t, tdb, d, now)
		for _, base := range []int64{0, 100000} {
			for i := int64(1); i <= 40; i++ {
				exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)",
					base+i, "img", fmt.Sprint("p", base+i), "v", ts(now, 300), ts(now, 40), true)
			}
		}
		res, err := purge.Rows(context.Background(), tdb.SQL, d, purge.Options{AgeInDays: 30, MaxRows: -1, BatchSize: 100, FixedBatch: true})
		if err != nil {
			t.Fatal(err)
		}
		if p := res.Tables[1]; p.Deleted != 80 || p.Batches > 4 {
			t.Fatalf("image_properties: %+v, want 80 rows deleted in at most 4 batches", p)
		}
		if n := len(remaining(t, tdb.SQL)["image_properties"]); n != 0 {
			t.Fatalf("%d rows left", n)
		}
	})
}

// TestSQLiteForeignKeys: the purge enforces foreign keys on its SQLite
// connection (an unknown referencing table makes the delete fail with a
// ReferenceError, not corrupt the database) and gives the connection back
// with them off.
func TestSQLiteForeignKeys(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	tdb.SQL.SetMaxOpenConns(1) // the purge's connection is the one checked after
	now := time.Now()
	insertFixture(t, tdb.SQL, d, now)
	exec(t, tdb, d, "CREATE TABLE image_extra (id INTEGER PRIMARY KEY, image_id VARCHAR(36) REFERENCES images (id))")
	exec(t, tdb, d, "INSERT INTO image_extra (id, image_id) VALUES (?, ?)", 1, "i-185")
	_, err := purge.Images(context.Background(), tdb.SQL, d, purge.Options{AgeInDays: 180, MaxRows: -1})
	var re *purge.ReferenceError
	if !errors.As(err, &re) || re.Table != "images" {
		t.Fatalf("err = %v; want a ReferenceError on images", err)
	}
	if got := remaining(t, tdb.SQL)["images"]; len(got) != 9 {
		t.Fatalf("images left %v: the failed batch must delete nothing", got)
	}
	var fk, cache int
	if err := tdb.SQL.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 0 {
		t.Fatalf("foreign_keys = %d, %v after the purge; want 0", fk, err)
	}
	if err := tdb.SQL.QueryRow("PRAGMA cache_size").Scan(&cache); err != nil || cache != -2000 {
		t.Fatalf("cache_size = %d, %v after the purge; want SQLite's default, -2000", cache, err)
	}
}

// TestSQLiteKeyEndsUseTheKey: the query of a table's first and last key
// reads the two ends of the primary key on SQLite, where MIN and MAX in
// one SELECT would scan the whole table and hold its read lock (which
// keeps writers from committing) for as long.
func TestSQLiteKeyEndsUseTheKey(t *testing.T) {
	tdb, _ := headDB(t, testdb.SQLite)
	for table, q := range purge.KeyEnds() {
		rows, err := tdb.SQL.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		searches := 0
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN "+table) {
				t.Errorf("%s: the plan scans the table: %q", table, plan)
			}
			if strings.HasPrefix(step, "SEARCH "+table) {
				searches++
			}
		}
		if searches != 2 {
			t.Errorf("%s: want two searches of the key, plan %q", table, plan)
		}
	}
}

func TestCancel(t *testing.T) {
	tdb, d := headDB(t, testdb.SQLite)
	insertFixture(t, tdb.SQL, d, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := purge.Rows(ctx, tdb.SQL, d, purge.Options{AgeInDays: 30, MaxRows: -1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestNoYieldDeletesWhatThePurgeDeletes: on every backend, two databases
// with the same rows (the fixture, images that live rows still refer to,
// and rows tied on deleted_at) go through the scenario's purges, one with
// batches, one with NoYield; after each step both hold the same rows and
// both results (deleted, kept and why, per table) and log lines are the
// same. NoYield deletes each table's rows in one statement. BatchSize 4
// takes max_rows above it through the large-limit path (the oldest by
// key ranges, then the ties).
func TestNoYieldDeletesWhatThePurgeDeletes(t *testing.T) {
	steps := append([]step{
		{name: "purge 30 25", age: 30, rows: 25},
		{name: "purge_images_table 30 -1", images: true, age: 30, rows: -1},
	}, scenario...)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, batch := range []int{0, 4} {
			t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
				now := time.Now()
				seed := func() (*testdb.DB, dialect.Dialect) {
					tdb, d := headDB(t, b)
					insertFixture(t, tdb.SQL, d, now)
					liveImage(t, tdb, d, now)
					// Live rows on images deleted long ago keep them.
					exec(t, tdb, d, "INSERT INTO image_tags (id, image_id, value, created_at, deleted) VALUES (?, ?, ?, ?, ?)", 100, "i-200", "keep", ts(now, 300), false)
					exec(t, tdb, d, "INSERT INTO image_members (id, image_id, member, can_share, created_at, deleted, status) VALUES (?, ?, ?, ?, ?, ?, ?)", 100, "i-190", "m", false, ts(now, 300), false, "pending")
					// 40 properties, 10 of them tied at 80 days.
					for i := 0; i < 40; i++ {
						age := float64(100 - i)
						if i >= 20 && i < 30 {
							age = 80
						}
						exec(t, tdb, d, "INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)", 1001+i, "img", fmt.Sprint("p", i), "v", ts(now, 300), ts(now, age), true)
					}
					return tdb, d
				}
				batched, d := seed()
				atOnce, _ := seed()
				for _, s := range steps {
					run := func(tdb *testdb.DB, noYield bool) (*purge.Result, []string) {
						var logs []string
						o := purge.Options{AgeInDays: s.age, MaxRows: s.rows, BatchSize: batch, NoYield: noYield, Now: now,
							Log: func(m string) { logs = append(logs, m) }}
						f := purge.Rows
						if s.images {
							f = purge.Images
						}
						res, err := f(context.Background(), tdb.SQL, d, o)
						if err != nil {
							t.Fatalf("%s (NoYield %v): %v", s.name, noYield, err)
						}
						return res, logs
					}
					want, wantLogs := run(batched, false)
					got, gotLogs := run(atOnce, true)
					if g, w := show(remaining(t, atOnce.SQL)), show(remaining(t, batched.SQL)); g != w {
						t.Fatalf("after %s, NoYield left:\n%sthe batched purge:\n%s", s.name, g, w)
					}
					if strings.Join(gotLogs, "\n") != strings.Join(wantLogs, "\n") {
						t.Errorf("after %s, NoYield logs:\n%s\nbatched:\n%s", s.name, strings.Join(gotLogs, "\n"), strings.Join(wantLogs, "\n"))
					}
					for i, w := range want.Tables {
						g := got.Tables[i]
						if g.Table != w.Table || g.Deleted != w.Deleted || g.Kept != w.Kept || fmt.Sprint(g.KeptBy) != fmt.Sprint(w.KeptBy) {
							t.Errorf("after %s, %s: NoYield %+v, batched %+v", s.name, w.Table, g, w)
						}
						// One DELETE per table for all its rows (max_rows
						// -1); a limit adds one for the ties at most.
						if s.rows == -1 && (g.Batches != 1 || g.Walk != purge.WalkAtOnce) {
							t.Errorf("after %s, %s: NoYield ran %d statements walking %q; want 1, %q", s.name, g.Table, g.Batches, g.Walk, purge.WalkAtOnce)
						}
						if s.rows > 0 && g.Batches > 2 {
							t.Errorf("after %s, %s: NoYield ran %d statements; want at most 2", s.name, g.Table, g.Batches)
						}
					}
				}
				// The referenced images were kept, not failed on.
				if left := remaining(t, atOnce.SQL)["images"]; !strings.Contains(strings.Join(left, " "), "i-190 i-200") {
					t.Errorf("images left %v: the referenced i-190 and i-200 must stay", left)
				}
			})
		}
	})
}
