package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// leaseTable is the table lockPrimitives keeps its lease rows in.
const leaseTable = "dialecttest_lease"

// lockPrimitives: the statements the migration lock is built of
// (migrate.LockDialect), on the real server: the lease table is created
// even when it exists, a lease is taken once, a second holder's insert is
// refused without an error, a takeover of a live lease changes nothing
// and a takeover of an expired one (measured on the server's clock)
// succeeds.
func lockPrimitives(t *testing.T, d dialect.Dialect, db *sql.DB) {
	ld, ok := d.(migrate.LockDialect)
	if !ok {
		t.Fatalf("%s does not implement migrate.LockDialect", d.Name())
	}
	ctx := context.Background()
	body := "name VARCHAR(64) NOT NULL, owner VARCHAR(64) NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (name)"
	for i := range 2 {
		if _, err := db.ExecContext(ctx, ld.CreateTableIfMissing(leaseTable, body)); err != nil {
			t.Fatalf("CreateTableIfMissing (time %d): %v", i+1, err)
		}
	}
	var now int64
	if err := db.QueryRowContext(ctx, "SELECT "+ld.NowMillis()+" FROM "+leaseTable+" WHERE 1 = 0 UNION ALL SELECT "+ld.NowMillis()).Scan(&now); err != nil {
		t.Fatalf("NowMillis: %v", err)
	}
	if skew := time.Duration(now-time.Now().UnixMilli()) * time.Millisecond; skew > 24*time.Hour || skew < -24*time.Hour {
		t.Fatalf("NowMillis = %d, %s from this host's clock", now, skew)
	}
	take := ld.InsertIfAbsent(leaseTable, "name, owner, expires",
		fmt.Sprintf("%s, %s, %s + 60000", d.Placeholder(1), d.Placeholder(2), ld.NowMillis()))
	affected := func(res sql.Result, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	owner := func() string {
		t.Helper()
		var o string
		if err := db.QueryRowContext(ctx, "SELECT owner FROM "+leaseTable+" WHERE name = "+d.Placeholder(1), "suite").Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if n := affected(db.ExecContext(ctx, take, "suite", "first")); n != 1 {
		t.Fatalf("taking a free lease: %d rows", n)
	}
	if n := affected(db.ExecContext(ctx, take, "suite", "second")); n != 0 {
		t.Fatalf("a second holder's take: %d rows, want 0", n)
	}
	if o := owner(); o != "first" {
		t.Fatalf("after a refused take the lease belongs to %q", o)
	}
	takeover := fmt.Sprintf("UPDATE %s SET owner = %s, expires = %s + 60000 WHERE name = %s AND expires < %s",
		leaseTable, d.Placeholder(1), ld.NowMillis(), d.Placeholder(2), ld.NowMillis())
	if n := affected(db.ExecContext(ctx, takeover, "second", "suite")); n != 0 {
		t.Fatalf("takeover of a live lease: %d rows", n)
	}
	if n := affected(db.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET expires = %s - 1000", leaseTable, ld.NowMillis()))); n != 1 {
		t.Fatalf("expiring the lease: %d rows", n)
	}
	if n := affected(db.ExecContext(ctx, takeover, "second", "suite")); n != 1 {
		t.Fatalf("takeover of an expired lease: %d rows, want 1", n)
	}
	if o := owner(); o != "second" {
		t.Fatalf("after the takeover the lease belongs to %q", o)
	}
	if ld.Transient(errors.New("syntax error")) {
		t.Fatal("Transient accepts an arbitrary error")
	}
}

// locker: migrate.Locker on the dialect takes the lock, a second holder
// is refused while the first renews, and a holder whose process is gone
// is taken over.
func locker(t *testing.T, d dialect.Dialect, db *sql.DB) {
	ctx := context.Background()
	elsewhere := migrate.Holder{Host: "elsewhere", HostID: "another-kernel/pid:[1]", PID: 1, Command: "suite a"}
	a := &migrate.Locker{DB: db, Dialect: d, Lease: time.Minute, Holder: elsewhere}
	la, err := a.Acquire(ctx, 0)
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	b := &migrate.Locker{DB: db, Dialect: d, Lease: time.Minute, Poll: 20 * time.Millisecond, Holder: migrate.ThisProcess("suite b")}
	_, err = b.Acquire(ctx, 100*time.Millisecond)
	var le *migrate.LockedError
	if !errors.As(err, &le) || le.Info.Command != "suite a" {
		t.Fatalf("second holder while the first renews: %v, want a LockedError naming suite a", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	lb, err := b.Acquire(ctx, 0)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	defer lb.Release(ctx)
	if lb.TookOver != nil {
		t.Fatalf("a released lock was reported taken over: %+v", lb.TookOver)
	}
}

// deadlock: two transactions lock two rows in opposite order; the server
// ends one of them (SQLite: the second writer is busy), and Transient (and
// Retryable, for dialect.Online) accept that real error.
func deadlock(t *testing.T, d dialect.Dialect, db *sql.DB) {
	ld, ok := d.(migrate.LockDialect)
	if !ok {
		t.Fatalf("%s does not implement migrate.LockDialect", d.Name())
	}
	ctx := context.Background()
	tbl := &schema.Table{
		Name:       "dialecttest_deadlock",
		Columns:    []schema.Column{{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true}, {Name: "v", Type: schema.Type{Kind: schema.Integer}}},
		PrimaryKey: []string{"id"},
	}
	apply(t, d, db, schema.CreateTable{Table: tbl})
	if _, err := db.ExecContext(ctx, "INSERT INTO dialecttest_deadlock (id, v) VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	begin := func() *sql.Tx {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	update := func(tx *sql.Tx, id int) error {
		_, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE dialecttest_deadlock SET v = v + 1 WHERE id = %d", id))
		return err
	}
	a, b := begin(), begin()
	defer a.Rollback()
	defer b.Rollback()
	var failed error
	if d.Name() == dialect.SQLite {
		// Both read, then both write: the second writer cannot wait
		// for the first, which needs its read lock gone.
		for _, tx := range []*sql.Tx{a, b} {
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM dialecttest_deadlock").Scan(new(int)); err != nil {
				t.Fatal(err)
			}
		}
		if err := update(a, 1); err != nil {
			t.Fatalf("first writer: %v", err)
		}
		failed = update(b, 2)
		if failed == nil {
			t.Fatal("two writers of one SQLite database both wrote")
		}
	} else {
		if err := update(a, 1); err != nil {
			t.Fatal(err)
		}
		if err := update(b, 2); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		go func() { errs <- update(a, 2) }()
		go func() { errs <- update(b, 1) }()
		e1 := <-errs
		if e1 == nil { // the survivor went on once the victim was rolled back
			e1 = <-errs
		} else {
			// the victim is gone: its transaction's rollback lets the
			// other's statement finish.
			a.Rollback()
			b.Rollback()
			<-errs
		}
		failed = e1
		if failed == nil {
			t.Fatal("rows locked in opposite order: no transaction failed")
		}
	}
	t.Logf("the deadlocked statement failed: %v", failed)
	if !ld.Transient(failed) {
		t.Fatalf("Transient(%v) = false for a deadlock", failed)
	}
	if on, ok := d.(dialect.Online); ok && !on.Retryable(failed) {
		t.Fatalf("Retryable(%v) = false for a deadlock", failed)
	}
}

// sizes: what the dialect says of a table's size, for a table with 2000
// rows of about 100 bytes: something, and less than absurd.
func sizes(t *testing.T, d dialect.Dialect, db *sql.DB) {
	ctx := context.Background()
	tbl := &schema.Table{
		Name:       "dialecttest_sizes",
		Columns:    []schema.Column{{Name: "id", Type: schema.Type{Kind: schema.Integer}, NotNull: true}, {Name: "v", Type: schema.Str(128)}},
		PrimaryKey: []string{"id"},
	}
	apply(t, d, db, schema.CreateTable{Table: tbl})
	const rows = 2000
	for lo := 0; lo < rows; lo += 500 {
		var vals []string
		for i := lo; i < lo+500; i++ {
			vals = append(vals, fmt.Sprintf("(%d, '%s')", i+1, strings.Repeat("x", 100)))
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO dialecttest_sizes (id, v) VALUES "+strings.Join(vals, ", ")); err != nil {
			t.Fatal(err)
		}
	}
	const most = 64 << 20 // 200 kB of rows take far less than this
	checked := 0
	if sz, ok := d.(dialect.Sizer); ok {
		checked++
		size, cache, err := sz.TableSize(ctx, db, tbl.Name)
		if err != nil || size <= 0 || size > most || cache <= 0 {
			t.Fatalf("TableSize = %d, cache %d, %v", size, cache, err)
		}
		if size, _, err := sz.TableSize(ctx, db, "dialecttest_no_such_table"); err != nil || size != 0 {
			t.Fatalf("TableSize of no table = %d, %v; want 0", size, err)
		}
	}
	if pg, ok := d.(dialect.Pages); ok {
		checked++
		pages, _, _, err := pg.PageStats(ctx, db, tbl.Name)
		if err != nil || pages < 1 || pages > most/512 {
			t.Fatalf("PageStats: %v pages, %v", pages, err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dialecttest_sizes WHERE "+pg.PageRange(0, -1)).Scan(&n); err != nil || n != rows {
			t.Fatalf("rows in PageRange(0, -1): %d, %v; want %d", n, err, rows)
		}
	}
	if ti, ok := d.(dialect.TableInspector); ok {
		checked++
		facts, err := ti.TableFacts(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		f := facts.Find(tbl.Name)
		if f == nil || f.Size < 0 || f.Size > most {
			t.Fatalf("TableFacts of %s: %+v", tbl.Name, f)
		}
	}
	if checked == 0 {
		t.Fatalf("%s: no size capability checked", d.Name())
	}
}

// hasSizes: d can tell a table's size one way or another.
func hasSizes(d dialect.Dialect) bool {
	_, sz := d.(dialect.Sizer)
	_, pg := d.(dialect.Pages)
	_, ti := d.(dialect.TableInspector)
	return sz || pg || ti
}
