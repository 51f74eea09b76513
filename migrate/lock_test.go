package migrate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect/mysql"
	"github.com/glance-manage/glance-manage/migrate/dialect/postgres"
	"github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
)

// Every dialect has the lock's SQL.
var (
	_ migrate.LockDialect = sqlite.Dialect{}
	_ migrate.LockDialect = mysql.Dialect{}
	_ migrate.LockDialect = postgres.Dialect{}
)

// TestLockLeaseAcrossHosts: a holder on another host (whose process this
// host cannot see) is waited for while its lease is renewed, taken over
// once it stops renewing and the lease expires, and finds out at its next
// heartbeat that it lost the lock.
func TestLockLeaseAcrossHosts(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		d, err := glance.DialectFor(string(b))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		const lease = 600 * time.Millisecond
		elsewhere := migrate.Holder{Host: "other", HostID: "another-kernel/pid:[1]", PID: 1, Command: "db expand"}
		a := &migrate.Locker{DB: db.SQL, Dialect: d, Lease: lease, Holder: elsewhere}
		la, err := a.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}

		var waited []migrate.LockInfo
		here := &migrate.Locker{DB: db.SQL, Dialect: d, Lease: lease, Poll: 50 * time.Millisecond,
			Holder:  migrate.ThisProcess("db contract"),
			Waiting: func(i migrate.LockInfo) { waited = append(waited, i) }}

		// While a renews, a single attempt fails with the holder named.
		_, err = here.Acquire(ctx, 0)
		var le *migrate.LockedError
		if !errors.As(err, &le) || !errors.Is(err, migrate.ErrLocked) || le.Info.Host != "other" || le.Info.Local {
			t.Fatalf("attempt while held: %v", err)
		}
		// Waiting longer than the lease while a renews: still held.
		if _, err := here.Acquire(ctx, 2*lease); !errors.Is(err, migrate.ErrLocked) {
			t.Fatalf("wait while a renews: %v", err)
		}
		if len(waited) == 0 || waited[0].Command != "db expand" {
			t.Fatalf("Waiting was not told who holds the lock: %+v", waited)
		}

		// a stops renewing (its host died): taken over after expiry.
		migrate.StopHeartbeat(la)
		lb, err := here.Acquire(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		if lb.TookOver == nil || lb.TookOver.Owner != la.Owner() || !lb.TookOver.Expired() {
			t.Fatalf("takeover not reported: %+v", lb.TookOver)
		}
		info, err := here.Show(ctx)
		if err != nil || info == nil || info.Owner != lb.Owner() || !info.Local || !info.Alive {
			t.Fatalf("show after takeover: %+v, %v", info, err)
		}
		// a's lease is gone: releasing it must not free b's, and
		// says it was lost.
		if err := la.Release(ctx); !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("release of the lease taken over: %v", err)
		}
		if info, _ := here.Show(ctx); info == nil || info.Owner != lb.Owner() {
			t.Fatalf("the old holder's release freed the new lease: %+v", info)
		}
		// Breaking someone else's token does nothing; breaking b's
		// makes b notice.
		if got, err := here.Break(ctx, "not-the-owner"); err != nil || got != nil {
			t.Fatalf("break with a wrong owner: %+v, %v", got, err)
		}
		if got, err := here.Break(ctx, lb.Owner()); err != nil || got == nil {
			t.Fatalf("break: %+v, %v", got, err)
		}
		select {
		case <-lb.Lost():
		case <-time.After(time.Minute):
			t.Fatal("the broken lease never noticed")
		}
		if err := lb.Release(ctx); !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("release of the broken lease: %v", err)
		}
		if info, err := here.Show(ctx); err != nil || info != nil {
			t.Fatalf("lock after release: %+v, %v", info, err)
		}
	})
}

// TestLockReleaseLeavesEmptyDatabaseEmpty: a command refused on an empty
// database leaves no table behind.
func TestLockReleaseLeavesEmptyDatabaseEmpty(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	d, _ := glance.DialectFor("sqlite")
	l := &migrate.Locker{DB: db.SQL, Dialect: d}
	ctx := context.Background()
	lease, err := l.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	tables, err := d.Tables(ctx, db.SQL)
	if err != nil || len(tables) != 0 {
		t.Fatalf("tables left: %v, %v", tables, err)
	}
}
