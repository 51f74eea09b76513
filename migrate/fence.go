package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Fencing. A lease can be broken (Locker.Break) or taken over once it
// expires while its holder still runs: a process paused, a network cut
// that ends, a heartbeat stuck behind a long transaction. A lease alone
// cannot keep such a holder from changing the database afterwards; a
// fencing token can: every step that changes the schema or rows first
// confirms, in the database and as part of the step, that the lock is
// still this run's (Fence). A run that finds it gone stops before the
// step, and the caller's Lease reports it lost.

// Fence is a run's migration lock as the steps that change the database
// see it. The engine (Migrator.Fence) calls Check before each such step:
// each DDL statement of a revision, each data-migration and shadow-copy
// batch, each statement of a shadow copy, the version-table change; so do
// the purge and metadefs writers that run under the lock.
//
// The contract:
//   - Check confirms with one statement on q that this run still holds
//     the lock, and returns an error wrapping ErrLockLost when it does not
//     (the lease was broken or taken over); any other error means the
//     database could not say (the step is then not run either).
//   - When q is the step's own transaction (a *sql.Tx), the
//     confirmation conflicts with a break or a takeover of the lock:
//     either the break waits for the transaction to end, or the step sees
//     the break. The step's changes therefore commit only while the lock
//     is held.
//   - When q is a connection outside any transaction (DDL on MySQL, which
//     commits each statement by itself; PostgreSQL's CREATE INDEX
//     CONCURRENTLY), Check confirms the lock right before the statement,
//     on the connection that runs it. What can still happen in between
//     is bounded: a break makes the next holder wait (see Locker.Break),
//     and the one statement where it matters most, a shadow copy's swap,
//     uses a TokenFence instead.
//
// A Lease is a Fence (and a TokenFence).
type Fence interface {
	Check(ctx context.Context, q dialect.Querier) error
}

// TokenFence is a Fence that can also stand for the lock as a table of
// its own, the token table, for a DDL statement that cannot join a
// transaction but can name several tables at once and either changes
// them all or none: MariaDB's RENAME TABLE. A swap that also renames the
// token table (to a temporary name and back) happens only if the token
// exists at that moment, and a break drops the token under the same
// metadata lock, so the check and the act are one statement with no gap.
//
// The contract:
//   - Token names this run's token table, with the statements that create
//     it (if missing) and drop it. The engine runs create, then Check,
//     then the statement that names the table, then drop.
//   - The table exists only while the run holds the lock: Locker.Break
//     drops it, and so does the next holder (Revoke) before it touches
//     anything such a run left; dropping it waits for a statement in
//     flight that names it.
//   - Revoke returns the statements that drop the token tables of other
//     runs of the same lock (all of them have lost it).
type TokenFence interface {
	Fence
	Token() (table, create, drop string)
	Revoke(ctx context.Context, q dialect.Querier) ([]string, error)
}

var (
	_ Fence      = (*Lease)(nil)
	_ TokenFence = (*Lease)(nil)
)

// Check implements Fence. In a transaction (q is a *sql.Tx) it renews
// the lease there, with an UPDATE of its row: the UPDATE takes the row's
// write lock until the transaction ends (on SQLite, whose transactions
// here start with BEGIN IMMEDIATE, the database's write lock is held
// already), so a break, a DELETE of the row, waits for the step; on
// Galera the row joins the step's write set, so a break certified first
// on another node makes the step fail with a deadlock (retried, and then
// seen). A read would not conflict there. The transaction commits
// anyway, so the renewal adds a statement but no commit.
//
// Outside a transaction (the statement that follows commits by itself)
// nothing can hold the confirmation until the statement ends: Check reads
// the row, which costs no commit (on SQLite, a purge batch's BEGIN
// IMMEDIATE holds the write lock already).
func (s *Lease) Check(ctx context.Context, q dialect.Querier) error {
	var held bool
	var err error
	if _, tx := q.(*sql.Tx); tx {
		var n int64
		n, err = s.renewOn(ctx, q)
		held = n == 1
	} else {
		err = q.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE name = %s AND owner = %s",
			s.l.table(), s.d.Placeholder(1), s.d.Placeholder(2)), s.l.name(), s.owner).Scan(new(int))
		held = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			if ok, terr := s.d.TableExists(ctx, q, s.l.table()); terr == nil && !ok {
				s.markLost() // the lock table itself is gone
				return ErrLockLost
			}
		}
		return fmt.Errorf("migrate: confirm the migration lock: %w", err)
	}
	if !held {
		s.markLost()
		return ErrLockLost
	}
	return nil
}

// renewOn renews the lease on q and returns the rows the UPDATE changed:
// 1, or 0 when the lease is gone. The heartbeat always moves forward (by
// a millisecond at least), so the row always changes: MySQL counts only
// the rows an UPDATE changed, and on Galera only a change joins the
// transaction's write set.
func (s *Lease) renewOn(ctx context.Context, q dialect.Querier) (int64, error) {
	now := s.d.NowMillis()
	res, err := q.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET heartbeat = CASE WHEN %s > heartbeat THEN %s ELSE heartbeat + 1 END, expires = %s + %s WHERE name = %s AND owner = %s",
		s.l.table(), now, now, now, s.d.Placeholder(1), s.d.Placeholder(2), s.d.Placeholder(3)), s.l.lease().Milliseconds(), s.l.name(), s.owner)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *Lease) markLost() { s.lostOnce.Do(func() { close(s.lost) }) }

// tokenPrefix starts the names of a lock's token tables: the prefix, a
// hash of the lock's name (so that the tokens of two locks of the same
// database are told apart) and "_". The owner (32 hex digits) follows;
// the longest name, with the "_" of the swap's temporary name, is 62
// characters (MySQL allows 64).
func (l *Locker) tokenPrefix() string {
	h := sha256.Sum256([]byte(l.name()))
	return l.Naming.prefix() + "fence_" + hex.EncodeToString(h[:4]) + "_"
}

func (l *Locker) tokenTable(owner string) string { return l.tokenPrefix() + owner }

// Token implements TokenFence.
func (s *Lease) Token() (table, create, drop string) {
	s.tokenMade.Store(true)
	table = s.l.tokenTable(s.owner)
	return table, s.d.CreateTableIfMissing(table, "x INTEGER NOT NULL, PRIMARY KEY (x)"), "DROP TABLE IF EXISTS " + table
}

// Revoke implements TokenFence.
func (s *Lease) Revoke(ctx context.Context, q dialect.Querier) ([]string, error) {
	tables, err := s.d.Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	mine, prefix := s.l.tokenTable(s.owner), s.l.tokenPrefix()
	var out []string
	for _, t := range tables {
		if strings.HasPrefix(t, prefix) && t != mine {
			out = append(out, "DROP TABLE IF EXISTS "+t)
		}
	}
	return out, nil
}

// dropToken drops owner's token table if it exists.
func (l *Locker) dropToken(ctx context.Context, d LockDialect, q dialect.Querier, owner string) error {
	t := l.tokenTable(owner)
	ok, err := d.TableExists(ctx, q, t)
	if err != nil || !ok {
		return err
	}
	_, err = q.ExecContext(ctx, "DROP TABLE IF EXISTS "+t)
	return err
}
