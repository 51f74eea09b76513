// Package dialecttest is the behaviour every dialect must have, run
// against a real backend: a dialect package's test calls Run with its
// Dialect and a fresh, empty database of that backend.
//
// What it checks: the dialect is registered under its name; every schema
// operation it renders, executed, makes its Done true (and Done is false
// before); the catalog (Tables, TableExists, ColumnExists, Columns, Quote)
// agrees with what was created; a real foreign-key violation is
// recognised (dialect.ForeignKeys, with SingleWriter's session where the
// backend enforces foreign keys per connection); and, where the dialect implements
// dialect.Online, a statement that waits for a row another transaction
// holds fails within SessionSQL's bound with an error Retryable accepts.
// The lock's statements (migrate.LockDialect) take a lease once, refuse a
// second holder and take over an expired lease only; migrate.Locker on
// the dialect refuses a second holder while the first renews; two
// transactions locking rows in opposite order (SQLite: two writers) fail
// with an error Transient (and Retryable) accept; and whatever size
// capability the dialect has (Sizer, Pages, TableInspector) reports
// plausible values for a table of known rows; where the dialect
// implements dialect.Shadow, a shadow copy with a writer during it swaps
// in with the same rows; and a script of rendered operations runs in the
// backend's command-line client.
package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Run runs the suite as subtests of t. db is an empty database of d's
// backend that the suite may change at will, and url its SQLAlchemy-style
// URL, which the backend's command-line client is given to execute a
// script ("" skips that check).
func Run(t *testing.T, d dialect.Dialect, db *sql.DB, url string) {
	t.Run("registered", func(t *testing.T) { registered(t, d) })
	t.Run("ddl round trip", func(t *testing.T) { roundTrip(t, d, db) })
	// A check of an optional capability runs where the dialect has it;
	// elsewhere the suite says it left it out (no skipped subtest).
	optional := func(name string, has bool, lacks string, f func(t *testing.T)) {
		if !has {
			t.Logf("%s: not checked: %s %s", name, d.Name(), lacks)
			return
		}
		t.Run(name, f)
	}
	_, online := d.(dialect.Online)
	_, fks := d.(dialect.ForeignKeys)
	_, shadow := d.(dialect.Shadow)
	optional("retryable lock wait", online, "does not implement dialect.Online", func(t *testing.T) { lockWait(t, d, db) })
	optional("foreign key violation", fks, "does not implement dialect.ForeignKeys", func(t *testing.T) { foreignKey(t, d, db) })
	t.Run("lock primitives", func(t *testing.T) { lockPrimitives(t, d, db) })
	t.Run("locker", func(t *testing.T) { locker(t, d, db) })
	t.Run("deadlock retryable", func(t *testing.T) { deadlock(t, d, db) })
	optional("sizes", hasSizes(d), "has no size capability (Sizer, Pages, TableInspector)", func(t *testing.T) { sizes(t, d, db) })
	optional("shadow copy", shadow, "does not implement dialect.Shadow", func(t *testing.T) { shadowCopy(t, d, db) })
	optional("offline script", url != "", "was given no URL for its client", func(t *testing.T) { offlineScript(t, d, db, url) })
}

func registered(t *testing.T, d dialect.Dialect) {
	got, err := dialect.For(d.Name())
	if err != nil {
		t.Fatalf("For(%q): %v", d.Name(), err)
	}
	if got.Name() != d.Name() {
		t.Fatalf("For(%q) is named %q", d.Name(), got.Name())
	}
	if !slices.Contains(dialect.Backends(), d.Name()) {
		t.Fatalf("Backends() = %v, without %q", dialect.Backends(), d.Name())
	}
	if _, err := dialect.For("no-such-backend"); !errors.Is(err, dialect.ErrUnknownBackend) {
		t.Fatalf("For of an unknown backend: %v, want ErrUnknownBackend", err)
	}
}

// suiteTable is the table the round trip creates.
func suiteTable() *schema.Table {
	return &schema.Table{
		Name: "dialecttest_items",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true, AutoIncrement: true},
			{Name: "name", Type: schema.Str(64), NotNull: true},
			{Name: "size", Type: schema.Type{Kind: schema.BigInteger}},
		},
		PrimaryKey: []string{"id"},
		Indexes:    []schema.Index{{Name: "ix_dialecttest_items_name", Table: "dialecttest_items", Columns: []string{"name"}}},
	}
}

// apply checks that op is not done, executes what d renders for it, and
// checks that it is done. It reports false when d does not render op
// directly (dialect.ErrUnsupported).
func apply(t *testing.T, d dialect.Dialect, db *sql.DB, op schema.Op) bool {
	t.Helper()
	ctx := context.Background()
	if done, err := d.Done(ctx, db, op); err != nil || done {
		t.Fatalf("before %s: Done = %v, %v; want false", op.Describe(), done, err)
	}
	stmts, err := d.Render(op)
	var unsupported *dialect.ErrUnsupported
	if errors.As(err, &unsupported) {
		t.Logf("%s: not rendered directly on %s", op.Describe(), d.Name())
		return false
	}
	if err != nil {
		t.Fatalf("Render(%s): %v", op.Describe(), err)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %q: %v", op.Describe(), s, err)
		}
	}
	if done, err := d.Done(ctx, db, op); err != nil || !done {
		t.Fatalf("after %s: Done = %v, %v; want true", op.Describe(), done, err)
	}
	return true
}

func roundTrip(t *testing.T, d dialect.Dialect, db *sql.DB) {
	ctx := context.Background()
	tbl := suiteTable()
	apply(t, d, db, schema.CreateTable{Table: tbl})
	for _, ix := range tbl.Indexes {
		if done, err := d.Done(ctx, db, schema.CreateIndex{Index: ix}); err != nil {
			t.Fatal(err)
		} else if !done {
			apply(t, d, db, schema.CreateIndex{Index: ix})
		}
	}
	if ok, err := d.TableExists(ctx, db, tbl.Name); err != nil || !ok {
		t.Fatalf("TableExists(%s) = %v, %v after CREATE TABLE", tbl.Name, ok, err)
	}
	tables, err := d.Tables(ctx, db)
	if err != nil || !slices.Contains(tables, tbl.Name) {
		t.Fatalf("Tables() = %v, %v; want %s among them", tables, err, tbl.Name)
	}
	added := schema.Column{Name: "note", Type: schema.Str(32)}
	apply(t, d, db, schema.AddColumn{Table: tbl.Name, Column: added})
	for _, c := range []string{"id", "name", "size", "note"} {
		if ok, err := d.ColumnExists(ctx, db, tbl.Name, c); err != nil || !ok {
			t.Fatalf("ColumnExists(%s, %s) = %v, %v", tbl.Name, c, ok, err)
		}
	}
	if ok, err := d.ColumnExists(ctx, db, tbl.Name, "absent"); err != nil || ok {
		t.Fatalf("ColumnExists of a column never made = %v, %v", ok, err)
	}
	if cat, ok := d.(dialect.Catalog); ok {
		cols, err := cat.Columns(ctx, db, tbl.Name)
		if want := []string{"id", "name", "size", "note"}; err != nil || !slices.Equal(cols, want) {
			t.Fatalf("Columns = %v, %v; want %v", cols, err, want)
		}
		// Quote makes a query the server runs.
		q := "SELECT " + cat.Quote("name") + " FROM " + cat.Quote(tbl.Name)
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
	}
	apply(t, d, db, schema.DropIndex{Name: tbl.Indexes[0].Name, Table: tbl.Name})
	apply(t, d, db, schema.DropColumn{Table: tbl.Name, Column: "note"})
	apply(t, d, db, schema.DropTable{Name: tbl.Name})
	if ok, err := d.TableExists(ctx, db, tbl.Name); err != nil || ok {
		t.Fatalf("TableExists(%s) = %v, %v after DROP TABLE", tbl.Name, ok, err)
	}
}

// lockWait: one transaction holds a row; another, bounded by
// SessionSQL, writes the same row. The second must fail, and Retryable
// must accept its (real server) error.
func lockWait(t *testing.T, d dialect.Dialect, db *sql.DB) {
	on := d.(dialect.Online) // Run checks that it is one
	ctx := context.Background()
	tbl := &schema.Table{
		Name:       "dialecttest_locks",
		Columns:    []schema.Column{{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true}, {Name: "v", Type: schema.Type{Kind: schema.Integer}}},
		PrimaryKey: []string{"id"},
	}
	apply(t, d, db, schema.CreateTable{Table: tbl})
	if _, err := db.ExecContext(ctx, "INSERT INTO dialecttest_locks (id, v) VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "UPDATE dialecttest_locks SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer func() {
		for _, s := range on.ResetSQL() {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Errorf("ResetSQL %q: %v", s, err)
			}
		}
	}()
	waiter, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Rollback()
	for _, s := range on.SessionSQL(500 * time.Millisecond) {
		if _, err := waiter.ExecContext(ctx, s); err != nil {
			t.Fatalf("SessionSQL %q: %v", s, err)
		}
	}
	_, err = waiter.ExecContext(ctx, "UPDATE dialecttest_locks SET v = 2 WHERE id = 1")
	if err == nil {
		t.Fatal("a write of a row another transaction holds succeeded")
	}
	t.Logf("the waiting write failed: %v", err)
	if !on.Retryable(err) {
		t.Fatalf("Retryable(%v) = false for a lock wait that timed out", err)
	}
	if on.Refused(err) {
		t.Fatalf("Refused(%v) = true for a lock wait", err)
	}
	if on.Retryable(errors.New("syntax error")) {
		t.Fatal("Retryable accepts an arbitrary error")
	}
}

// foreignKey: a row referencing no parent fails on the server, and
// ForeignKeyViolation recognises that error and no other.
func foreignKey(t *testing.T, d dialect.Dialect, db *sql.DB) {
	fk := d.(dialect.ForeignKeys) // Run checks that it is one
	ctx := context.Background()
	parent := &schema.Table{
		Name:       "dialecttest_parents",
		Columns:    []schema.Column{{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true}},
		PrimaryKey: []string{"id"},
	}
	child := &schema.Table{
		Name: "dialecttest_children",
		Columns: []schema.Column{
			{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true},
			{Name: "parent_id", Type: schema.Type{Kind: schema.Integer}, NotNull: true},
		},
		PrimaryKey:  []string{"id"},
		ForeignKeys: []schema.ForeignKey{{Columns: []string{"parent_id"}, RefTable: parent.Name, RefColumns: []string{"id"}}},
	}
	apply(t, d, db, schema.CreateTable{Table: parent})
	apply(t, d, db, schema.CreateTable{Table: child})
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if sw, ok := d.(dialect.SingleWriter); ok {
		restore, err := sw.WriterSession(ctx, conn, 2048)
		if err != nil {
			t.Fatalf("WriterSession: %v", err)
		}
		defer func() {
			if err := restore(); err != nil {
				t.Errorf("restoring the session: %v", err)
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO dialecttest_parents (id) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO dialecttest_children (id, parent_id) VALUES (1, 1)"); err != nil {
		t.Fatalf("a row with its parent: %v", err)
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO dialecttest_children (id, parent_id) VALUES (2, 42)")
	if err == nil {
		t.Fatal("a row referencing no parent was accepted")
	}
	t.Logf("the orphan row failed: %v", err)
	if !fk.ForeignKeyViolation(err) {
		t.Fatalf("ForeignKeyViolation(%v) = false", err)
	}
	_, err = conn.ExecContext(ctx, "DELETE FROM dialecttest_parents WHERE id = 1")
	if err == nil {
		t.Fatal("deleting a referenced parent was accepted")
	}
	if !fk.ForeignKeyViolation(err) {
		t.Fatalf("ForeignKeyViolation(%v) = false for a referenced parent", err)
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO dialecttest_parents (id) VALUES (1)")
	if err == nil || fk.ForeignKeyViolation(err) {
		t.Fatalf("a duplicate key: %v, classified as a foreign-key violation: %v", err, err != nil && fk.ForeignKeyViolation(err))
	}
}
