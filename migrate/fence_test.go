package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/mysql"
)

// TestFenceStopsUpgrade: with the lock broken between two revisions, the
// upgrade stops before the second one changes anything, with an error
// wrapping ErrLockLost, and the lease knows it is lost.
func TestFenceStopsUpgrade(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		m, err := glance.New(db.SQL, string(b))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		mitaka, err := m.Graph().Resolve("mitaka02")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrator.Upgrade(ctx, mitaka, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		l := &migrate.Locker{DB: db.SQL, Dialect: m.Dialect}
		lease, err := l.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		m.Migrator.Fence = lease
		breaker := &migrate.Locker{DB: db.SQL, Dialect: m.Dialect}
		var after []string // statements run after the break
		broken := false
		m.Migrator.Observe = func(e migrate.Event) error {
			switch {
			case e.Kind == migrate.RevisionStart && e.Revision.ID == "pike_expand01":
				if _, err := breaker.Break(ctx, ""); err != nil {
					return err
				}
				broken = true
			case e.Kind == migrate.Statement && broken:
				after = append(after, e.SQL)
			}
			return nil
		}
		_, err = m.Migrator.Upgrade(ctx, m.Graph().Heads(), migrate.Options{RunData: true})
		if !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("upgrade after the break: %v; want ErrLockLost", err)
		}
		heads, err := m.Migrator.Heads(ctx)
		if err != nil || len(heads) != 1 || heads[0] != "ocata_expand01" {
			t.Fatalf("heads after the break: %v, %v; want [ocata_expand01]", heads, err)
		}
		select {
		case <-lease.Lost():
		default:
			t.Error("the lease does not know it was lost")
		}
		// pike_expand01 changes only alembic_version: its statement
		// is reported (before the lock is confirmed) and not run.
		if len(after) > 1 {
			t.Errorf("statements reported after the break: %q", after)
		}
		if err := lease.Release(ctx); !errors.Is(err, migrate.ErrLockLost) {
			t.Errorf("release: %v; want ErrLockLost", err)
		}
		if broken, err := l.Broken(ctx); err != nil || len(broken) != 0 {
			t.Errorf("tombstones after the broken run released: %+v, %v", broken, err)
		}
	})
}

// TestBrokenLeaseIsWaitedFor: the next holder of a lock broken while its
// holder was alive waits until that holder acknowledges (Release), and
// is told when the wait begins and ends; a lock whose holder is gone is
// not waited for.
func TestBrokenLeaseIsWaitedFor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		d, err := glance.DialectFor(string(b))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		first := &migrate.Locker{DB: db.SQL, Dialect: d, Lease: time.Hour, Holder: migrate.ThisProcess("db expand")}
		la, err := first.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Break(ctx, la.Owner()); err != nil {
			t.Fatal(err)
		}
		tombs, err := first.Broken(ctx)
		if err != nil || len(tombs) != 1 || tombs[0].Owner != la.Owner() || tombs[0].ExpiresIn < 59*time.Minute {
			t.Fatalf("tombstone after the break: %+v, %v", tombs, err)
		}
		var states []migrate.BrokenState
		waiting := make(chan struct{})
		second := &migrate.Locker{DB: db.SQL, Dialect: d, Poll: 20 * time.Millisecond, Holder: migrate.ThisProcess("db expand"),
			WaitingBroken: func(w migrate.BrokenWait) {
				states = append(states, w.State)
				if w.State == migrate.BrokenWaiting {
					close(waiting)
				}
			}}
		got := make(chan error, 1)
		var lb *migrate.Lease
		go func() {
			var err error
			lb, err = second.Acquire(ctx, 0)
			got <- err
		}()
		<-waiting
		select {
		case err := <-got:
			t.Fatalf("the second holder did not wait for the broken one: %v", err)
		default:
		}
		// The broken holder stops and releases: its acknowledgement.
		if err := la.Release(ctx); !errors.Is(err, migrate.ErrLockLost) {
			t.Fatalf("release of the broken lease: %v", err)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if len(states) != 2 || states[1] != migrate.BrokenStopped {
			t.Fatalf("wait states: %v; want waiting, stopped", states)
		}
		if err := lb.Release(ctx); err != nil {
			t.Fatal(err)
		}

		// A holder whose process is gone is not waited for.
		gone := migrate.ThisProcess("db expand")
		gone.PID, gone.Started = 1<<22+7, 1 // no such process
		dead := &migrate.Locker{DB: db.SQL, Dialect: d, Lease: time.Hour, Holder: gone}
		ld, err := dead.Acquire(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		migrate.StopHeartbeat(ld)
		if info, err := dead.Show(ctx); err != nil || !info.Gone() {
			t.Fatalf("a holder that is gone: %+v, %v", info, err)
		}
		// Stale: broken without a tombstone, and taken at once.
		if _, err := dead.Break(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if tombs, err := dead.Broken(ctx); err != nil || len(tombs) != 0 {
			t.Fatalf("tombstone of a stale lease: %+v, %v", tombs, err)
		}
	})
}

// TestTokenFence: on MariaDB a swap that names the run's token table
// renames the tables only while the lock is held. Once the lock is broken
// (the break drops the token), or the next holder revokes the token, the
// same RENAME fails and changes nothing, with no gap between the check
// and the act for a paused holder to slip through.
func TestTokenFence(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	db := testdb.New(t, testdb.MySQL)
	ctx := context.Background()
	d := mysql.Dialect{}
	for _, q := range []string{"CREATE TABLE t (id INT PRIMARY KEY)", "CREATE TABLE _t_new (id INT PRIMARY KEY)", "INSERT INTO _t_new VALUES (1)"} {
		if _, err := db.SQL.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st := &dialect.ShadowState{Table: "t", Shadow: "_t_new", Old: "_t_old"}
	swap := func(f migrate.TokenFence) error {
		token, create, _ := f.Token()
		if _, err := db.SQL.Exec(create); err != nil {
			t.Fatal(err)
		}
		_, err := db.SQL.Exec(d.ShadowSwap(st, token)[0])
		return err
	}
	tables := func() string {
		ts, err := d.Tables(ctx, db.SQL)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range ts {
			if !strings.HasPrefix(x, migrate.Naming{}.BookkeepingPrefix()) {
				out = append(out, x)
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}

	l := &migrate.Locker{DB: db.SQL, Dialect: d, Lease: 300 * time.Millisecond}
	la, err := l.Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Held: the swap happens, the token keeps its name.
	if err := swap(la); err != nil {
		t.Fatalf("swap while held: %v", err)
	}
	if got := tables(); got != "_t_old t" {
		t.Fatalf("tables after the swap: %s; want _t_old t", got)
	}
	if _, err := db.SQL.Exec("RENAME TABLE t TO _t_new, _t_old TO t"); err != nil {
		t.Fatal(err)
	}
	// Paused between its check and the RENAME, la's lock is broken: the
	// RENAME fails and renames nothing.
	if err := la.Check(ctx, db.SQL); err != nil {
		t.Fatal(err)
	}
	token, _, _ := la.Token()
	if _, err := l.Break(ctx, la.Owner()); err != nil {
		t.Fatal(err)
	}
	before := tables()
	if _, err := db.SQL.Exec(d.ShadowSwap(st, token)[0]); err == nil || !strings.Contains(err.Error(), "1146") {
		t.Fatalf("swap after the break: %v; want error 1146 (no such table)", err)
	}
	if after := tables(); after != before {
		t.Fatalf("the failed swap renamed tables: %s, then %s", before, after)
	}
	if err := la.Check(ctx, db.SQL); !errors.Is(err, migrate.ErrLockLost) {
		t.Fatalf("check after the break: %v", err)
	}
	_ = la.Release(ctx)

	// A holder (on another host) whose lease expired, taken over rather
	// than broken, still has its token until the next holder revokes it.
	elsewhere := migrate.Holder{Host: "other", HostID: "another-kernel/pid:[1]", PID: 1, Command: "db expand"}
	lb, err := (&migrate.Locker{DB: db.SQL, Dialect: d, Lease: 300 * time.Millisecond, Holder: elsewhere}).Acquire(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	tokenB, create, _ := lb.Token()
	if _, err := db.SQL.Exec(create); err != nil {
		t.Fatal(err)
	}
	migrate.StopHeartbeat(lb)
	lc, err := (&migrate.Locker{DB: db.SQL, Dialect: d, Lease: 300 * time.Millisecond, Poll: 20 * time.Millisecond}).Acquire(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	drops, err := lc.Revoke(ctx, db.SQL)
	if err != nil || len(drops) != 1 || !strings.Contains(drops[0], tokenB) {
		t.Fatalf("revoke: %q, %v; want the drop of %s", drops, err, tokenB)
	}
	if _, err := db.SQL.Exec(drops[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec(d.ShadowSwap(st, tokenB)[0]); err == nil {
		t.Fatal("the superseded holder swapped after its token was revoked")
	}
	if err := lc.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFenceCheck measures one confirmation of the lock (Lease.Check):
// outside a transaction (before a DDL statement on MySQL: a read), inside
// one (a renewal of the lease, without the commit), and as a batch sees
// it: a transaction that writes a row and commits, without and with the
// check (the commit's sync dominates, and varies with the disk's load).
func BenchmarkFenceCheck(b *testing.B) {
	for _, be := range testdb.All {
		b.Run(string(be), func(b *testing.B) {
			db := testdb.New(b, be)
			d, err := glance.DialectFor(string(be))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := db.SQL.Exec("CREATE TABLE bench (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			if _, err := db.SQL.Exec("INSERT INTO bench VALUES (1, 0)"); err != nil {
				b.Fatal(err)
			}
			lease, err := (&migrate.Locker{DB: db.SQL, Dialect: d}).Acquire(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer lease.Release(ctx) //nolint:errcheck
			conn, err := db.SQL.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.Run("outside a transaction", func(b *testing.B) {
				for range b.N {
					if err := lease.Check(ctx, conn); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("in a transaction", func(b *testing.B) {
				// What a batch pays on top of its own statements: the
				// renewal, without the commit the batch makes anyway.
				tx, err := conn.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer tx.Rollback() //nolint:errcheck
				for range b.N {
					if err := lease.Check(ctx, tx); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, fenced := range []bool{false, true} {
				name := "batch"
				if fenced {
					name = "batch with check"
				}
				b.Run(name, func(b *testing.B) {
					for range b.N {
						tx, err := conn.BeginTx(ctx, nil)
						if err != nil {
							b.Fatal(err)
						}
						if fenced {
							if err := lease.Check(ctx, tx); err != nil {
								b.Fatal(err)
							}
						}
						if _, err := tx.ExecContext(ctx, "UPDATE bench SET n = n + 1 WHERE id = 1"); err != nil {
							b.Fatal(err)
						}
						if err := tx.Commit(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
