package migrate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Broken locks. Breaking a live lease (Locker.Break) leaves a tombstone
// in its place: a row of LockTable named after the lock and the broken
// owner (tombName), holding the broken holder's identity, the time of
// the break (as heartbeat, on the database clock) and the end of its
// lease counted from the break (as expires). The broken holder, once it
// notices and has stopped, removes it when it releases its lease: its
// acknowledgement. A runner that takes the lock while an unacknowledged
// tombstone is younger than a lease waits (Acquire) before it returns,
// so it touches nothing the broken run may still be changing; it stops
// waiting when the tombstone goes, when the lease it stands for runs out,
// or when the broken holder is seen to be gone (its process, on this
// host, has ended).
//
// Tombstones need no change of the table: older versions of this tool
// read only the row named after the lock, and ignore them.

// tombName is the name of the tombstone of owner's lease of lock: the
// lock's name (at most 31 characters of it), "#", the owner.
func tombName(lock, owner string) string { return tombPrefix(lock) + owner }

func tombPrefix(lock string) string { return truncate(lock, 31) + "#" }

// BrokenState says where a wait for a broken run stands (Locker.WaitingBroken).
type BrokenState int

// Broken states.
const (
	// BrokenWaiting: the wait begins.
	BrokenWaiting BrokenState = iota
	// BrokenStopped: the broken run acknowledged that it stopped.
	BrokenStopped
	// BrokenGone: the broken run's process is gone (on this host).
	BrokenGone
	// BrokenExpired: its lease, counted from the break, ran out.
	BrokenExpired
)

// BrokenWait is reported to Locker.WaitingBroken.
type BrokenWait struct {
	State BrokenState
	// Info describes the broken holder; Info.Heartbeat is the time of
	// the break, Info.ExpiresIn how long the wait may still last.
	Info LockInfo
}

// Break removes the lock's lease whoever holds it, or only when its owner
// token is owner (when owner is not ""), and returns what it removed (nil
// when there was nothing). A lease that is not stale (see
// LockInfo.Stale) leaves a tombstone (see above): the broken holder
// stops before its next change (its next Fence check fails) and the next
// holder waits for it. The broken holder's token table (TokenFence) is
// dropped. A conflict (a deadlock; on Galera, the holder's renewal
// certified first on another node) is retried.
func (l *Locker) Break(ctx context.Context, owner string) (*LockInfo, error) {
	d, err := l.dialect()
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		info, err := l.breakOnce(ctx, d, owner)
		if err == nil || !d.Transient(err) || attempt >= 10 {
			return info, err
		}
		if err := sleep(ctx, backoff(attempt)/8); err != nil {
			return nil, err
		}
	}
}

func (l *Locker) breakOnce(ctx context.Context, d LockDialect, owner string) (*LockInfo, error) {
	info, err := l.Show(ctx)
	if err != nil || info == nil {
		return nil, err
	}
	if owner != "" && info.Owner != owner {
		return nil, nil
	}
	tx, err := l.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	res, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE name = %s AND owner = %s",
		l.table(), d.Placeholder(1), d.Placeholder(2)), l.name(), info.Owner)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	if !info.Stale() {
		lease := info.Silence + info.ExpiresIn // the holder's own lease
		if lease <= 0 {
			lease = l.lease()
		}
		now := d.NowMillis()
		p := ph(d, 1, 8)
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s, %s, %s, %s)", l.table(), lockColumns,
			strings.Join(p[:7], ", "), p[7], now, now+" + "+d.Placeholder(9))
		args := []any{tombName(l.name(), info.Owner), info.Owner, truncate(info.Host, 255), truncate(info.HostID, 255),
			info.PID, info.Started, truncate(info.Command, 255), info.Acquired.UnixMilli(), lease.Milliseconds()}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("migrate: record the broken lease: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if err := l.dropToken(ctx, d, l.DB, info.Owner); err != nil {
		return info, fmt.Errorf("migrate: drop the broken holder's token table: %w", err)
	}
	return info, nil
}

// Broken lists the tombstones of the lock (see above): the runs whose
// lease was broken and that have not acknowledged yet, expired or not.
func (l *Locker) Broken(ctx context.Context) ([]LockInfo, error) {
	d, err := l.dialect()
	if err != nil {
		return nil, err
	}
	ok, err := d.TableExists(ctx, l.DB, l.table())
	if err != nil || !ok {
		return nil, err
	}
	return l.tombstones(ctx, d)
}

func (l *Locker) tombstones(ctx context.Context, d LockDialect) ([]LockInfo, error) {
	// The names between "<lock>#" and "<lock>$" ('$' follows '#'): a
	// range of the primary key, whatever the lock's name holds.
	prefix := tombPrefix(l.name())
	rows, err := l.DB.QueryContext(ctx, fmt.Sprintf("SELECT owner, host, host_id, pid, pid_start, command, acquired, heartbeat, expires, %s FROM %s WHERE name > %s AND name < %s ORDER BY name",
		d.NowMillis(), l.table(), d.Placeholder(1), d.Placeholder(2)), prefix, prefix[:len(prefix)-1]+"$")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LockInfo
	for rows.Next() {
		info := LockInfo{Name: l.name()}
		var acquired, beat, expires, now int64
		if err := rows.Scan(&info.Owner, &info.Host, &info.HostID, &info.PID, &info.Started, &info.Command, &acquired, &beat, &expires, &now); err != nil {
			return nil, err
		}
		fill(&info, acquired, beat, expires, now)
		out = append(out, info)
	}
	return out, rows.Err()
}

// fill sets the times of info from the raw columns and whether its
// holder runs on this host.
func fill(info *LockInfo, acquired, beat, expires, now int64) {
	info.Acquired = time.UnixMilli(acquired).UTC()
	info.Heartbeat = time.UnixMilli(beat).UTC()
	info.ExpiresIn = time.Duration(expires-now) * time.Millisecond
	info.Silence = time.Duration(now-beat) * time.Millisecond
	if info.HostID != "" && info.HostID == hostID() {
		info.Local = true
		start, ok := procStart(info.PID)
		info.Alive = ok && start == info.Started
	}
}

// deleteTomb removes owner's tombstone.
func (l *Locker) deleteTomb(ctx context.Context, d LockDialect, q dialect.Querier, owner string) error {
	_, err := q.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE name = %s AND owner = %s",
		l.table(), d.Placeholder(1), d.Placeholder(2)), tombName(l.name(), owner), owner)
	return err
}

// awaitBroken waits, holding s, until no broken run of the lock may still
// be changing the database (see above), reporting to l.Broken.
func (s *Lease) awaitBroken(ctx context.Context) error {
	l, d := s.l, s.d
	waiting := map[string]LockInfo{}
	for {
		tombs, err := l.tombstones(ctx, d)
		if err != nil && !d.Transient(err) {
			return fmt.Errorf("migrate: read the broken leases: %w", err)
		}
		live := map[string]bool{}
		for _, tb := range tombs {
			state := BrokenWaiting
			switch {
			case tb.Owner == s.owner:
				state = BrokenStopped // cannot be: owners are unique
			case tb.Gone():
				state = BrokenGone
			case tb.Expired():
				state = BrokenExpired
			}
			if state != BrokenWaiting {
				if err := l.deleteTomb(ctx, d, l.DB, tb.Owner); err != nil && !d.Transient(err) {
					return fmt.Errorf("migrate: remove the broken lease of %s: %w", tb.Holder, err)
				}
				if _, ok := waiting[tb.Owner]; ok {
					delete(waiting, tb.Owner)
					s.report(state, tb)
				}
				continue
			}
			live[tb.Owner] = true
			if _, ok := waiting[tb.Owner]; !ok {
				waiting[tb.Owner] = tb
				s.report(BrokenWaiting, tb)
			}
		}
		if err == nil {
			for owner, tb := range waiting {
				if !live[owner] { // its tombstone is gone: acknowledged
					delete(waiting, owner)
					s.report(BrokenStopped, tb)
				}
			}
			if len(live) == 0 {
				return nil
			}
		}
		if err := sleep(ctx, l.poll()); err != nil {
			return err
		}
	}
}

func (s *Lease) report(state BrokenState, info LockInfo) {
	if s.l.WaitingBroken != nil {
		s.l.WaitingBroken(BrokenWait{State: state, Info: info})
	}
}
