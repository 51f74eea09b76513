package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// shadowCopy: where the dialect implements dialect.Shadow, a table of 25
// rows is copied into a shadow with one column changed (a row written
// during the copy reaches the shadow through the triggers), the two
// compare equal, the swap puts the shadow in the table's place and the
// old table is dropped: the table then has the changed column and the
// same rows, and nothing of the copy is left.
func shadowCopy(t *testing.T, d dialect.Dialect, db *sql.DB) {
	sh := d.(dialect.Shadow) // Run checks that it is one
	ctx := context.Background()
	tbl := &schema.Table{
		Name: "dialecttest_shadow",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true},
			{Name: "name", Type: schema.Str(32)},
		},
		PrimaryKey: []string{"id"},
	}
	apply(t, d, db, schema.CreateTable{Table: tbl})
	for i := 1; i <= 25; i++ {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO dialecttest_shadow (id, name) VALUES (%d, 'row %d')", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
		}
	}
	st, err := sh.ShadowState(ctx, db, tbl.Name)
	if err != nil {
		t.Fatalf("ShadowState: %v", err)
	}
	if st.Unsupported != "" {
		t.Skipf("no shadow copy here: %s", st.Unsupported)
	}
	if st.ShadowExists || st.OldExists || st.Triggers || st.Key != "id" {
		t.Fatalf("ShadowState of a plain table: %+v", st)
	}
	wider := schema.Column{Name: "name", Type: schema.Str(128)}
	create, err := sh.ShadowCreate(st, schema.AlterColumn{Table: tbl.Name, New: wider})
	if err != nil {
		t.Fatalf("ShadowCreate: %v", err)
	}
	exec(create...)
	exec(sh.ShadowTriggers(st)...)
	if left, err := sh.ShadowLeft(ctx, db, tbl.Name); err != nil || !left {
		t.Fatalf("ShadowLeft during the copy = %v, %v", left, err)
	}
	// A writer during the copy: its rows reach the shadow by the triggers.
	exec("INSERT INTO dialecttest_shadow (id, name) VALUES (100, 'written during the copy')",
		"UPDATE dialecttest_shadow SET name = 'changed' WHERE id = 3",
		"DELETE FROM dialecttest_shadow WHERE id = 4")
	const step = 10
	var lower int64
	for first := true; ; first = false {
		var args []any
		if !first {
			args = append(args, lower)
		}
		var upper int64
		err := db.QueryRowContext(ctx, sh.ShadowNext(st, first), append(args, step-1)...).Scan(&upper)
		if errors.Is(err, sql.ErrNoRows) {
			exec1(t, db, sh.ShadowCopy(st, first, true), args...)
			break
		}
		if err != nil {
			t.Fatalf("ShadowNext: %v", err)
		}
		exec1(t, db, sh.ShadowCopy(st, first, false), append(args, upper)...)
		lower = upper
	}
	q := sh.ShadowCompare(st)
	var rows [2]int64
	var sums [2]string
	for i := range q {
		if err := db.QueryRowContext(ctx, q[i]).Scan(&rows[i], &sums[i]); err != nil {
			t.Fatalf("ShadowCompare %q: %v", q[i], err)
		}
	}
	if rows[0] != 25 || rows != [2]int64{rows[0], rows[0]} || sums[0] != sums[1] {
		t.Fatalf("table and shadow: %d and %d rows, checksums %s and %s; want 25 rows each, equal sums", rows[0], rows[1], sums[0], sums[1])
	}
	exec(sh.ShadowSwap(st, "")...)
	exec(sh.ShadowDropOld(st)...)
	if left, err := sh.ShadowLeft(ctx, db, tbl.Name); err != nil || left {
		t.Fatalf("ShadowLeft after the swap = %v, %v", left, err)
	}
	var n int
	var changed string
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dialecttest_shadow").Scan(&n); err != nil || n != 25 {
		t.Fatalf("rows after the swap: %d, %v; want 25", n, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT name FROM dialecttest_shadow WHERE id = 3").Scan(&changed); err != nil || changed != "changed" {
		t.Fatalf("the row updated during the copy: %q, %v", changed, err)
	}
	// The wider column holds what the old one could not.
	exec("UPDATE dialecttest_shadow SET name = '" + strings.Repeat("w", 100) + "' WHERE id = 100")
}

func exec1(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%q %v: %v", q, args, err)
	}
}

// offlineScript: a few operations rendered by the dialect, written as
// one script in the dialect's syntax (dialect.ScriptWriter: comments,
// each operation in a transaction where the dialect has them) and executed
// by the backend's own command-line client on the real server when the
// client is installed and the URL tells how to reach the database:
// afterwards the catalog shows what the script made.
//
// url is the database's SQLAlchemy-style URL: sqlite:///path (sqlite3),
// postgresql://... (psql), mysql[+driver]://user[:password]@host[:port]/db
// (mysql).
func offlineScript(t *testing.T, d dialect.Dialect, db *sql.DB, url string) {
	ctx := context.Background()
	tbl := &schema.Table{
		Name: "dialecttest_script",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true},
			{Name: "name", Type: schema.Str(32), NotNull: true},
		},
		PrimaryKey: []string{"id"},
	}
	ops := []schema.Op{
		schema.CreateTable{Table: tbl},
		schema.AddColumn{Table: tbl.Name, Column: schema.Column{Name: "note", Type: schema.Str(16)}},
		schema.CreateIndex{Index: schema.Index{Name: "ix_dialecttest_script_name", Table: tbl.Name, Columns: []string{"name"}}},
	}
	var script strings.Builder
	sw, err := dialect.NewScriptWriter(&script, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		stmts, err := d.Render(op)
		if err != nil {
			t.Fatalf("Render(%s): %v", op.Describe(), err)
		}
		sw.Comment("%s", op.Describe())
		sw.Transaction(stmts)
	}
	if err := sw.Err(); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cmd = client(t, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url)
	case strings.HasPrefix(url, "mysql"):
		cmd = mysqlClient(t, url)
	case strings.HasPrefix(url, "sqlite:///"):
		cmd = client(t, "sqlite3", "-bail", strings.TrimPrefix(url, "sqlite:///"))
	default:
		t.Fatalf("no client for the URL of a %s database", d.Name())
	}
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s on the script:\n%s\n%v: %s", filepath.Base(cmd.Path), script.String(), err, out)
	}
	for _, op := range ops {
		if done, err := d.Done(ctx, db, op); err != nil || !done {
			t.Fatalf("after the script, %s: Done = %v, %v", op.Describe(), done, err)
		}
	}
}

func client(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return exec.Command(path, args...)
}

// mysqlClient runs the mysql client on mysql://user[:password]@host:port/db;
// a password travels in MYSQL_PWD, never on the command line.
func mysqlClient(t *testing.T, url string) *exec.Cmd {
	_, rest, _ := strings.Cut(url, "://")
	auth, rest, _ := strings.Cut(rest, "@")
	hostport, db, _ := strings.Cut(rest, "/")
	db, _, _ = strings.Cut(db, "?")
	user, pass, _ := strings.Cut(auth, ":")
	host, port, _ := strings.Cut(hostport, ":")
	args := []string{"--protocol=tcp", "-h", host, "-u", user, db}
	if port != "" {
		args = append(args, "-P", port)
	}
	cmd := client(t, "mysql", args...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+pass)
	return cmd
}
