package migrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Lock errors; match them with errors.Is.
var (
	// ErrLockLost: the lease was broken or taken over while this runner
	// held it. The run stops at its next safe point.
	ErrLockLost = errors.New("migrate: the migration lock was lost")
	// ErrLockDialect: the dialect has no LockDialect methods.
	ErrLockDialect = errors.New("migrate: the dialect cannot take the migration lock")
)

// LockDialect is the SQL the lock needs beyond dialect.Dialect; every
// dialect package implements it in lock.go.
type LockDialect interface {
	dialect.Dialect
	// NowMillis returns an SQL expression for the database server's clock
	// in whole milliseconds since the Unix epoch. Leases are measured on
	// this clock only, so runners on hosts with skewed clocks agree.
	NowMillis() string
	// CreateTableIfMissing returns a statement creating table with body
	// (column and constraint definitions) unless it exists; it must
	// succeed when the table exists.
	CreateTableIfMissing(table, body string) string
	// InsertIfAbsent returns an INSERT of values (SQL expressions,
	// comma-separated) into columns (comma-separated) that inserts
	// nothing, and raises no error, when a row with the same primary key
	// exists: RowsAffected tells which happened.
	InsertIfAbsent(table, columns, values string) string
	// Transient reports whether err is a conflict that goes away when the
	// statement is retried (deadlock, busy file, serialization failure,
	// Galera certification failure).
	Transient(err error) bool
}

// Holder says who holds a lock.
type Holder struct {
	Host    string // host name, for people
	HostID  string // kernel boot id and PID namespace; "" when unknown
	PID     int
	Started int64 // the process's start time (clock ticks since boot); 0 when unknown
	Command string
}

// String renders the holder for messages: "db sync, pid 42 on host h".
func (h Holder) String() string {
	if h.Command == "" {
		return fmt.Sprintf("pid %d on host %s", h.PID, h.Host)
	}
	return fmt.Sprintf("%s, pid %d on host %s", h.Command, h.PID, h.Host)
}

// ThisProcess describes the calling process as a lock holder running
// command.
func ThisProcess(command string) Holder {
	host, _ := os.Hostname()
	h := Holder{Host: host, PID: os.Getpid(), Command: command}
	if id := hostID(); id != "" {
		if start, ok := procStart(h.PID); ok {
			h.HostID, h.Started = id, start
		}
	}
	return h
}

// hostID identifies this kernel and PID namespace. Two holders with the
// same non-empty HostID see the same process table, so one can tell
// whether the other's process still runs. A host name alone would not do:
// containers on different machines may share one.
func hostID() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// procStart returns the start time of process pid from /proc (field 22
// of /proc/<pid>/stat), which tells a process from a later one that
// reuses its pid.
func procStart(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// After the command come state (field 3) ... starttime (field 22).
	if len(f) < 20 {
		return 0, false
	}
	if f[0] == "Z" || f[0] == "X" { // exited, not yet reaped
		return 0, false
	}
	n, err := strconv.ParseInt(f[19], 10, 64)
	return n, err == nil
}

// LockInfo is the state of a held lock, as read from the database.
type LockInfo struct {
	Name  string
	Owner string // random token of this acquisition
	Holder
	Acquired  time.Time     // database clock
	Heartbeat time.Time     // database clock
	Silence   time.Duration // since the last heartbeat, on the database clock
	ExpiresIn time.Duration // until the lease expires; negative once expired
	// Local: the holder runs on this host (same HostID), so whether its
	// process runs is known: Alive says.
	Local bool
	Alive bool
}

// Expired reports whether the lease has run out.
func (i *LockInfo) Expired() bool { return i.ExpiresIn < 0 }

// Gone reports whether the holder is known to have stopped: its process
// is not running on this host.
func (i *LockInfo) Gone() bool { return i.Local && !i.Alive }

// Stale reports whether another runner may take the lock over: its
// holder is gone, or its lease expired and its holder is not known to be
// alive (a holder alive on this host whose heartbeat stalls is waited
// for, never overtaken).
func (i *LockInfo) Stale() bool { return i.Gone() || (i.Expired() && !(i.Local && i.Alive)) }

// LockedError reports a lock that stayed held for the whole wait.
type LockedError struct {
	Info   LockInfo
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("migrate: the migration lock is held by %s (gave up after %s)", e.Info.Holder, e.Waited)
}
func (e *LockedError) Unwrap() error { return ErrLocked }

// Default lease timing.
const (
	DefaultLease = 30 * time.Second
	DefaultPoll  = time.Second
)

// Locker takes a database-wide migration lock: a lease row in
// Naming.LockTable(),
// written through the database, so it holds across hosts and on Galera.
// The holder renews the lease (heartbeat) every Lease/3; a runner that
// finds the lease expired takes it over, unless the holder runs on the
// same host and its process is alive. A holder on the same host whose
// process is gone (killed) is taken over at once.
//
// A lease alone cannot stop a holder that was paused past its lease, or
// whose lease was broken, from writing afterwards: the Lease is also a
// Fence, which the steps that change the database confirm first
// (fence.go), and a broken lease is waited for by the next holder
// (broken.go).
//
// A Locker is configuration only; Acquire returns the held Lease.
type Locker struct {
	DB      *sql.DB
	Dialect dialect.Dialect // must implement LockDialect
	Naming  Naming          // the lock table's name, the default lock name and command
	Name    string          // lock name (default Naming.LockName())
	Lease   time.Duration   // lease duration (default DefaultLease)
	Poll    time.Duration   // retry interval while waiting (default DefaultPoll, at most Lease/2)
	Holder  Holder          // who is asking (default ThisProcess(Naming.Command()))
	// Waiting, when set, is called when Acquire finds the lock held: once,
	// and again whenever the holder changes.
	Waiting func(LockInfo)
	// WaitingBroken, when set, is called while Acquire, having taken the
	// lock, waits for a run whose lease was broken to stop (see
	// broken.go): when the wait for it begins and when it ends.
	WaitingBroken func(BrokenWait)
}

func (l *Locker) dialect() (LockDialect, error) {
	d, ok := l.Dialect.(LockDialect)
	if !ok {
		return nil, ErrLockDialect
	}
	return d, nil
}

// table is the lock table.
func (l *Locker) table() string { return l.Naming.LockTable() }

func (l *Locker) name() string {
	if l.Name == "" {
		return l.Naming.LockName()
	}
	return l.Name
}

func (l *Locker) lease() time.Duration {
	if l.Lease <= 0 {
		return DefaultLease
	}
	return l.Lease
}

func (l *Locker) poll() time.Duration {
	p := l.Poll
	if p <= 0 {
		p = DefaultPoll
	}
	return min(p, l.lease()/2)
}

const lockColumns = "name, owner, host, host_id, pid, pid_start, command, acquired, heartbeat, expires"

func lockTableBody() string {
	return "name VARCHAR(64) NOT NULL, owner VARCHAR(64) NOT NULL, host VARCHAR(255) NOT NULL, " +
		"host_id VARCHAR(255) NOT NULL, pid INTEGER NOT NULL, pid_start BIGINT NOT NULL, " +
		"command VARCHAR(255) NOT NULL, acquired BIGINT NOT NULL, heartbeat BIGINT NOT NULL, " +
		"expires BIGINT NOT NULL, PRIMARY KEY (name)"
}

func ph(d dialect.Dialect, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = d.Placeholder(from + i)
	}
	return out
}

// ensureTable creates the lock table unless it exists and reports
// whether this call created it.
func (l *Locker) ensureTable(ctx context.Context, d LockDialect) (bool, error) {
	ok, err := d.TableExists(ctx, l.DB, l.table())
	if err != nil || ok {
		return false, err
	}
	if _, err := l.DB.ExecContext(ctx, d.CreateTableIfMissing(l.table(), lockTableBody())); err != nil {
		// Two runners creating it at once may collide (PostgreSQL's
		// catalog); what matters is that it exists now.
		if ok, err2 := d.TableExists(ctx, l.DB, l.table()); err2 == nil && ok {
			return false, nil
		}
		return false, fmt.Errorf("migrate: create %s: %w", l.table(), err)
	}
	return true, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (l *Locker) holderArgs(owner string) []any {
	h := l.Holder
	return []any{owner, truncate(h.Host, 255), truncate(h.HostID, 255), h.PID, h.Started, truncate(h.Command, 255)}
}

// tryInsert takes a free lock.
func (l *Locker) tryInsert(ctx context.Context, d LockDialect, owner string) (bool, error) {
	now := d.NowMillis()
	p := ph(d, 1, 8)
	values := strings.Join(p[:7], ", ") + ", " + now + ", " + now + ", " + now + " + " + p[7]
	args := append([]any{l.name()}, l.holderArgs(owner)...)
	args = append(args, l.lease().Milliseconds())
	res, err := l.DB.ExecContext(ctx, d.InsertIfAbsent(l.table(), lockColumns, values), args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// takeOver replaces the lease of old, provided nobody touched it since
// it was read (same owner and heartbeat).
func (l *Locker) takeOver(ctx context.Context, d LockDialect, owner string, old *LockInfo, oldBeat int64) (bool, error) {
	now := d.NowMillis()
	p := ph(d, 1, 10)
	q := fmt.Sprintf("UPDATE %s SET owner = %s, host = %s, host_id = %s, pid = %s, pid_start = %s, command = %s, "+
		"acquired = %s, heartbeat = %s, expires = %s + %s WHERE name = %s AND owner = %s AND heartbeat = %s",
		l.table(), p[0], p[1], p[2], p[3], p[4], p[5], now, now, now, p[6], p[7], p[8], p[9])
	args := append(l.holderArgs(owner), l.lease().Milliseconds(), l.name(), old.Owner, oldBeat)
	res, err := l.DB.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// read returns the lock's row (nil when free) and its raw heartbeat.
func (l *Locker) read(ctx context.Context, d LockDialect) (*LockInfo, int64, error) {
	q := fmt.Sprintf("SELECT owner, host, host_id, pid, pid_start, command, acquired, heartbeat, expires, %s FROM %s WHERE name = %s",
		d.NowMillis(), l.table(), d.Placeholder(1))
	var (
		info                         = LockInfo{Name: l.name()}
		acquired, beat, expires, now int64
	)
	err := l.DB.QueryRowContext(ctx, q, l.name()).Scan(&info.Owner, &info.Host, &info.HostID, &info.PID, &info.Started,
		&info.Command, &acquired, &beat, &expires, &now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	info.Acquired = time.UnixMilli(acquired).UTC()
	info.Heartbeat = time.UnixMilli(beat).UTC()
	info.ExpiresIn = time.Duration(expires-now) * time.Millisecond
	info.Silence = time.Duration(now-beat) * time.Millisecond
	if info.HostID != "" && info.HostID == hostID() {
		info.Local = true
		start, ok := procStart(info.PID)
		info.Alive = ok && start == info.Started
	}
	return &info, beat, nil
}

// Show returns the lock's state, or nil when nobody holds it (or the
// lock table does not exist).
func (l *Locker) Show(ctx context.Context) (*LockInfo, error) {
	d, err := l.dialect()
	if err != nil {
		return nil, err
	}
	ok, err := d.TableExists(ctx, l.DB, l.table())
	if err != nil || !ok {
		return nil, err
	}
	info, _, err := l.read(ctx, d)
	return info, err
}

func newOwner() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Acquire takes the lock, waiting up to wait for a holder to release it
// (wait < 0: without limit; 0: a single attempt). It returns a
// *LockedError (errors.Is ErrLocked) when the lock stayed held, and
// ctx's error when ctx ends first. Having taken the lock, it waits for
// any run whose lease was broken and may still be working (broken.go):
// at most that run's lease, whatever wait says. The returned Lease renews
// itself until Release.
func (l *Locker) Acquire(ctx context.Context, wait time.Duration) (*Lease, error) {
	d, err := l.dialect()
	if err != nil {
		return nil, err
	}
	if l.Holder.PID == 0 {
		l.Holder = ThisProcess(l.Holder.Command)
	}
	if l.Holder.Command == "" {
		l.Holder.Command = l.Naming.Command()
	}
	start := time.Now()
	created, err := l.ensureTable(ctx, d)
	if err != nil {
		return nil, err
	}
	owner := newOwner()
	var seen string // owner last reported to Waiting
	for {
		// Read first and write only when the lock looks free or stale:
		// on SQLite a write would wait for the holder's transaction.
		info, beat, err := l.read(ctx, d)
		switch {
		case err != nil:
		case info == nil:
			var ok bool
			if ok, err = l.tryInsert(ctx, d, owner); err == nil && ok {
				return l.begin(ctx, d, owner, created, nil)
			}
		case info.Stale():
			var took bool
			if took, err = l.takeOver(ctx, d, owner, info, beat); err == nil && took {
				return l.begin(ctx, d, owner, created, info)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A releasing runner may have dropped the table (see
			// Release); recreate it. Conflicts are retried; anything else
			// is an error.
			if exists, err2 := d.TableExists(ctx, l.DB, l.table()); err2 == nil && !exists {
				if c, err := l.ensureTable(ctx, d); err != nil {
					return nil, err
				} else if c {
					created = true
				}
				continue
			}
			if !d.Transient(err) {
				return nil, fmt.Errorf("migrate: take the migration lock: %w", err)
			}
		}
		if info != nil && info.Owner != seen {
			seen = info.Owner
			if l.Waiting != nil {
				l.Waiting(*info)
			}
		}
		waited := time.Since(start)
		if wait >= 0 && waited >= wait {
			if info == nil {
				info = &LockInfo{Name: l.name()}
			}
			return nil, &LockedError{Info: *info, Waited: waited.Round(time.Millisecond)}
		}
		pause := l.poll()
		if wait >= 0 {
			pause = min(pause, wait-waited)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// Lease is a held lock. Its heartbeat renews it until Release; if the
// lease is found broken or taken over (by the heartbeat, or by a Fence
// check), Lost is closed and the holder must stop at its next safe point:
// its next Fence check fails anyway.
type Lease struct {
	l       *Locker
	d       LockDialect
	owner   string
	created bool
	// TookOver is the stale lease this one replaced, nil when the lock
	// was free.
	TookOver *LockInfo

	stop      chan struct{}
	done      chan struct{}
	lost      chan struct{}
	lostOnce  sync.Once
	tokenMade atomic.Bool // Token was called (TokenFence)
}

// begin starts the lease just taken and waits for broken runs.
func (l *Locker) begin(ctx context.Context, d LockDialect, owner string, created bool, old *LockInfo) (*Lease, error) {
	s := l.start(d, owner, created, old)
	if err := s.awaitBroken(ctx); err != nil {
		_ = s.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (l *Locker) start(d LockDialect, owner string, created bool, old *LockInfo) *Lease {
	s := &Lease{l: l, d: d, owner: owner, created: created, TookOver: old,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	go s.heartbeat()
	return s
}

// Owner is this lease's token (as LockInfo.Owner shows it).
func (s *Lease) Owner() string { return s.owner }

// Lost is closed when the lease was broken or taken over.
func (s *Lease) Lost() <-chan struct{} { return s.lost }

func (s *Lease) heartbeat() {
	defer close(s.done)
	every := s.l.lease() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ok, err := s.renew(every)
		if err != nil {
			// The table itself gone means the lease is gone too.
			ctx, cancel := context.WithTimeout(context.Background(), every)
			exists, terr := s.d.TableExists(ctx, s.l.DB, s.l.table())
			cancel()
			ok, err = exists, terr
		}
		if err == nil && !ok {
			s.markLost()
			return
		}
		// An error (server briefly unreachable, busy file) is retried at
		// the next tick; while the run itself cannot reach the database it
		// changes nothing either.
	}
}

func (s *Lease) renew(timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n, err := s.renewOn(ctx, s.l.DB)
	return n == 1, err
}

// Release stops the heartbeat and gives the lock up. When this lease
// created the lock table and the database holds no other table (a
// command refused on an empty database), the table is dropped so that
// the database is left as it was found. It drops the lease's token table
// if it made one (TokenFence).
//
// A lease that was lost (broken or taken over, found by the heartbeat,
// by a Fence check or by Release itself) has nothing left to give up:
// Release then acknowledges the break, removing the lease's tombstone
// (see broken.go) so that the next holder need not wait for it, and
// returns ErrLockLost. The caller must stop changing the database before
// it calls Release.
func (s *Lease) Release(ctx context.Context) error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	if s.tokenMade.Load() {
		_ = s.l.dropToken(ctx, s.d, s.l.DB, s.owner)
	}
	if !s.isLost() {
		if s.created {
			// Only while the lease is still this one's: a stale lease taken
			// over by another runner must not take the table with it.
			info, _, err := s.l.read(ctx, s.d)
			if err == nil && info != nil && info.Owner == s.owner {
				tables, err := s.d.Tables(ctx, s.l.DB)
				if err == nil && len(tables) == 1 && tables[0] == s.l.table() {
					if _, err := s.l.DB.ExecContext(ctx, "DROP TABLE "+s.l.table()); err == nil {
						return nil
					}
				}
			}
		}
		res, err := s.l.DB.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE name = %s AND owner = %s",
			s.l.table(), s.d.Placeholder(1), s.d.Placeholder(2)), s.l.name(), s.owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		s.markLost() // broken or taken over since the last renewal
	}
	if err := s.l.deleteTomb(ctx, s.d, s.l.DB, s.owner); err != nil {
		return fmt.Errorf("%w (and its tombstone could not be removed: %v)", ErrLockLost, err)
	}
	return ErrLockLost
}

func (s *Lease) isLost() bool {
	select {
	case <-s.lost:
		return true
	default:
		return false
	}
}
