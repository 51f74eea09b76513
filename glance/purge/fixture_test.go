package purge_test

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// day is one day; fixture ages are given in days (fractions keep every
// deleted_at of a table distinct, so "the n oldest" is well defined).
const day = 24 * time.Hour

// frow is one fixture row: a soft-deletable row of table with id, its
// parent (an image or a task), and its state. age < 0 means deleted_at is
// NULL. revived rows have deleted = false but an old deleted_at (Glance
// leaves deleted_at when it revives a property).
type frow struct {
	table, id, parent string
	deleted           bool
	age               float64 // days before now; -1: no deleted_at
	info              bool    // tasks: has a task_info row
}

func del(table, id, parent string, age float64) frow {
	return frow{table: table, id: id, parent: parent, deleted: true, age: age}
}
func live(table, id, parent string) frow { return frow{table: table, id: id, parent: parent, age: -1} }
func revived(table, id, parent string, age float64) frow {
	return frow{table: table, id: id, parent: parent, age: age}
}

// fixture covers every purged table: rows deleted long ago, recently, not
// at all, and revived, for images older and younger than both default
// ages, and tasks with and without task_info.
var fixture = []frow{
	del("images", "i-200", "", 200),
	del("images", "i-190", "", 190),
	del("images", "i-185", "", 185),
	del("images", "i-100", "", 100),
	del("images", "i-50", "", 50),
	del("images", "i-40", "", 40),
	del("images", "i-10", "", 10),
	live("images", "i-live", ""),
	revived("images", "i-revived", "", 250),

	del("image_properties", "1", "i-200", 45),
	del("image_properties", "2", "i-190", 50),
	del("image_properties", "3", "i-190", 51),
	del("image_properties", "4", "i-100", 60),
	del("image_properties", "5", "i-10", 5),
	live("image_properties", "6", "i-live"),
	del("image_properties", "7", "i-live", 70),
	del("image_properties", "8", "i-live", 20),
	revived("image_properties", "9", "i-live", 31),

	del("image_tags", "1", "i-200", 46),
	del("image_tags", "2", "i-190", 52),
	del("image_tags", "3", "i-100", 61),
	live("image_tags", "4", "i-live"),
	del("image_tags", "5", "i-live", 71),
	revived("image_tags", "6", "i-live", 31.5),

	del("image_locations", "1", "i-200", 47),
	del("image_locations", "2", "i-live", 72),
	live("image_locations", "3", "i-live"),

	del("image_members", "1", "i-200", 48),
	del("image_members", "2", "i-live", 73),
	del("image_members", "3", "i-live", 2),

	{table: "tasks", id: "t-old1", deleted: true, age: 90, info: true},
	{table: "tasks", id: "t-old2", deleted: true, age: 80},
	{table: "tasks", id: "t-old3", deleted: true, age: 70, info: true},
	{table: "tasks", id: "t-young", deleted: true, age: 5, info: true},
	{table: "tasks", id: "t-live", age: -1, info: true},
	{table: "tasks", id: "t-revived", age: 40, info: true},
}

// revivedRows are the rows our purge keeps and upstream's deletes (they
// are live: deleted = false), per table, with task_info's row of the
// revived task.
var revivedRows = map[string][]string{
	"images":           {"i-revived"},
	"image_properties": {"9"},
	"image_tags":       {"6"},
	"tasks":            {"t-revived"},
	"task_info":        {"t-revived"},
}

// purgedTables are the tables compared, in purge order plus images.
var purgedTables = []string{"task_info", "image_properties", "image_tags", "image_locations", "image_members", "tasks", "images"}

func ts(now time.Time, age float64) any {
	if age < 0 {
		return nil
	}
	return now.UTC().Add(-time.Duration(age * float64(day))).Truncate(time.Second).Format("2006-01-02 15:04:05.000000")
}

// insertFixture writes the fixture rows, with deleted_at relative to now.
func insertFixture(t testing.TB, db *sql.DB, d dialect.Dialect, now time.Time) {
	t.Helper()
	ctx := context.Background()
	created := ts(now, 400)
	ph := func(n int) string {
		var p []string
		for i := 1; i <= n; i++ {
			p = append(p, d.Placeholder(i))
		}
		return strings.Join(p, ", ")
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s %v: %v", q, args, err)
		}
	}
	for _, r := range fixture {
		switch r.table {
		case "images":
			exec("INSERT INTO images (id, name, status, created_at, deleted_at, deleted, min_disk, min_ram, protected, visibility) VALUES ("+ph(10)+")",
				r.id, r.id, "active", created, ts(now, r.age), r.deleted, 0, 0, false, "private")
		case "image_properties":
			exec("INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES ("+ph(7)+")",
				atoi(r.id), r.parent, "p"+r.id, "v", created, ts(now, r.age), r.deleted)
		case "image_tags":
			exec("INSERT INTO image_tags (id, image_id, value, created_at, deleted_at, deleted) VALUES ("+ph(6)+")",
				atoi(r.id), r.parent, "tag"+r.id, created, ts(now, r.age), r.deleted)
		case "image_locations":
			exec("INSERT INTO image_locations (id, image_id, value, created_at, deleted_at, deleted, meta_data, status) VALUES ("+ph(8)+")",
				atoi(r.id), r.parent, "file:///l"+r.id, created, ts(now, r.age), r.deleted, "{}", "active")
		case "image_members":
			exec("INSERT INTO image_members (id, image_id, member, can_share, created_at, deleted_at, deleted, status) VALUES ("+ph(8)+")",
				atoi(r.id), r.parent, "m"+r.id, false, created, ts(now, r.age), r.deleted, "accepted")
		case "tasks":
			exec("INSERT INTO tasks (id, type, status, owner, created_at, deleted_at, deleted) VALUES ("+ph(7)+")",
				r.id, "import", "success", "o", created, ts(now, r.age), r.deleted)
			if r.info {
				exec("INSERT INTO task_info (task_id, input, result, message) VALUES ("+ph(4)+")", r.id, "{}", "{}", "")
			}
		default:
			t.Fatalf("fixture: unknown table %s", r.table)
		}
	}
	if d.Name() == "postgresql" {
		// Explicit ids leave the sequences behind; move them on.
		for _, tbl := range []string{"image_properties", "image_tags", "image_locations", "image_members"} {
			exec(fmt.Sprintf("SELECT setval('%s_id_seq', (SELECT max(id) FROM %s))", tbl, tbl))
		}
	}
}

func atoi(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

// remaining lists the keys left in every purged table, sorted.
func remaining(t testing.TB, db *sql.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range purgedTables {
		key := "id"
		if tbl == "task_info" {
			key = "task_id"
		}
		rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s", key, tbl))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(ids)
		out[tbl] = ids
	}
	return out
}

// headDB returns a fresh database of backend b at our head revision.
func headDB(t testing.TB, b testdb.Backend) (*testdb.DB, dialect.Dialect) {
	t.Helper()
	tdb := testdb.New(t, b)
	m, err := glance.New(tdb.SQL, string(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrator.Upgrade(context.Background(), m.Graph().Heads(), migrate.Options{RunData: true}); err != nil {
		t.Fatal(err)
	}
	return tdb, m.Dialect
}

// step is one purge run of the scenario, with the keys expected to remain
// afterwards in our database (upstream's are the same minus the revived
// rows; see revivedRows).
type step struct {
	name   string
	images bool     // purge_images_table, else purge
	args   []string // reference CLI arguments after the command
	age    int
	rows   int64
	want   map[string][]string
}

var scenario = []step{
	{name: "purge 30 3", args: []string{"30", "3"}, age: 30, rows: 3, want: map[string][]string{
		// task_info: the infos of the two oldest deleted tasks.
		"task_info": {"t-live", "t-revived", "t-young"},
		// the three oldest of 1(45) 2(50) 3(51) 4(60) 7(70) 9(revived).
		"image_properties": {"1", "2", "5", "6", "8", "9"},
		"image_tags":       {"1", "4", "6"},
		"image_locations":  {"3"},
		"image_members":    {"3"},
		"tasks":            {"t-live", "t-revived", "t-young"},
		"images":           {"i-10", "i-100", "i-185", "i-190", "i-200", "i-40", "i-50", "i-live", "i-revived"},
	}},
	{name: "purge --max_rows -1", args: []string{"--max_rows", "-1"}, age: 30, rows: -1, want: map[string][]string{
		"task_info":        {"t-live", "t-revived", "t-young"},
		"image_properties": {"5", "6", "8", "9"},
		"image_tags":       {"4", "6"},
		"image_locations":  {"3"},
		"image_members":    {"3"},
		"tasks":            {"t-live", "t-revived", "t-young"},
		"images":           {"i-10", "i-100", "i-185", "i-190", "i-200", "i-40", "i-50", "i-live", "i-revived"},
	}},
	{name: "purge_images_table", images: true, age: 180, rows: 100, want: map[string][]string{
		"task_info":        {"t-live", "t-revived", "t-young"},
		"image_properties": {"5", "6", "8", "9"},
		"image_tags":       {"4", "6"},
		"image_locations":  {"3"},
		"image_members":    {"3"},
		"tasks":            {"t-live", "t-revived", "t-young"},
		"images":           {"i-10", "i-100", "i-40", "i-50", "i-live", "i-revived"},
	}},
	{name: "purge_images_table --age_in_days 30 --max_rows 2", images: true, args: []string{"--age_in_days", "30", "--max_rows", "2"}, age: 30, rows: 2, want: map[string][]string{
		"task_info":        {"t-live", "t-revived", "t-young"},
		"image_properties": {"5", "6", "8", "9"},
		"image_tags":       {"4", "6"},
		"image_locations":  {"3"},
		"image_members":    {"3"},
		"tasks":            {"t-live", "t-revived", "t-young"},
		"images":           {"i-10", "i-40", "i-live", "i-revived"},
	}},
	{name: "purge 1 -1", args: []string{"1", "-1"}, age: 1, rows: -1, want: map[string][]string{
		"task_info":        {"t-live", "t-revived"},
		"image_properties": {"6", "9"},
		"image_tags":       {"4", "6"},
		"image_locations":  {"3"},
		"image_members":    nil,
		"tasks":            {"t-live", "t-revived"},
		"images":           {"i-10", "i-40", "i-live", "i-revived"},
	}},
}
