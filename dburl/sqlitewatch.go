package dburl

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
)

// SQLite's own locks. A connection that writes first takes the database
// file's write lock (RESERVED), and a second writer waits for it, polling,
// up to the busy timeout. Nothing in the driver says that it waits, so
// every connection Open makes to an SQLite file is wrapped: a call that
// has not returned after BusyNoticeAfter looks in /proc/locks for another
// process holding the file's locks and, if one does, reports the wait
// (WithSQLiteBusyNotice); a call that fails because the file stayed locked
// returns a *BusyError naming the file, the holder and the time waited,
// and a write refused by the file system a *ReadOnlyError naming the file
// or its directory.

// BusyNoticeAfter is how long a call on an SQLite connection runs before
// it is checked for a wait on another connection's lock.
const BusyNoticeAfter = 500 * time.Millisecond

// Sentinels of the SQLite errors below.
var (
	// ErrBusy: the SQLite database stayed locked by another connection
	// for the whole busy timeout.
	ErrBusy = errors.New("dburl: the SQLite database is locked by another connection")
	// ErrReadOnly: the file system does not let this process write the
	// SQLite database, or create its journal next to it.
	ErrReadOnly = errors.New("dburl: the SQLite database is not writable")
)

// LockHolder is another process holding a lock on an SQLite database, as
// the kernel reports it (/proc/locks).
type LockHolder struct {
	PID     int    // 0 when the kernel does not say (a lock of an open file description)
	Command string // the process's name, "" when unknown
	// Write: it holds the write lock (it is in a write transaction, or
	// committing one); otherwise it is reading, which keeps a writer
	// from committing.
	Write bool
	// Exclusive: it is committing (or waiting to), which keeps readers
	// out too.
	Exclusive bool
}

func (h LockHolder) String() string {
	switch {
	case h.PID <= 0:
		return "a process this host does not name"
	case h.Command != "":
		return fmt.Sprintf("pid %d, %s", h.PID, h.Command)
	}
	return fmt.Sprintf("pid %d", h.PID)
}

// BusyWait describes a call on an SQLite database that waits for another
// connection's lock; see WithSQLiteBusyNotice.
type BusyWait struct {
	Path    string        // the database file, absolute
	Waited  time.Duration // so far
	Limit   time.Duration // the busy timeout: how long the call waits in all
	Holders []LockHolder  // the processes holding the file's locks
}

// Writing reports whether a holder has the write lock (as opposed to
// readers keeping this connection from committing).
func (w BusyWait) Writing() bool { return writing(w.Holders) }

func writing(hs []LockHolder) bool {
	for _, h := range hs {
		if h.Write {
			return true
		}
	}
	return false
}

// BusyError is returned by a call on an SQLite database that failed
// because another connection held the database's lock (SQLITE_BUSY). It
// unwraps to the driver's error and matches ErrBusy.
type BusyError struct {
	Path   string
	Waited time.Duration
	Limit  time.Duration // the busy timeout
	// Holders are the processes that held the file's locks when the
	// call gave up (empty when the kernel does not say).
	Holders []LockHolder
	Err     error
}

func (e *BusyError) Error() string {
	who := "another connection"
	if len(e.Holders) > 0 {
		who += " (" + holderList(e.Holders) + ")"
	}
	what := "holds its write lock"
	if len(e.Holders) > 0 && !writing(e.Holders) {
		what = "is reading it, which keeps this one from committing"
	}
	return fmt.Sprintf("dburl: the SQLite database %s stayed locked: %s %s; gave up after %s (busy timeout %s)",
		e.Path, who, what, e.Waited.Round(100*time.Millisecond), e.Limit)
}

func (e *BusyError) Unwrap() []error { return []error{ErrBusy, e.Err} }

// Timeout reports whether the call waited its whole busy timeout: waiting
// again would only wait as long again. A BUSY returned at once (SQLite
// detected that waiting could not help) is not one, and may be retried.
func (e *BusyError) Timeout() bool { return e.Waited >= e.Limit*9/10 }

// ReadOnlyError is returned when the file system refuses a write to an
// SQLite database: the file is read-only for this process, or (Dir set)
// its directory is, where SQLite must create the journal (or the file
// itself). It unwraps to the driver's error and matches ErrReadOnly.
type ReadOnlyError struct {
	Path string
	// Dir, when not "", is the directory this process cannot write: the
	// file is writable, but its journal (Path + "-journal", or the WAL)
	// cannot be created next to it, or (Missing) the file does not exist
	// and cannot be created.
	Dir     string
	Missing bool
	Err     error
}

func (e *ReadOnlyError) Error() string {
	if e.Missing {
		return fmt.Sprintf("dburl: cannot create the SQLite database %s: this user cannot create files in its directory %s", e.Path, e.Dir)
	}
	if e.Dir != "" {
		return fmt.Sprintf("dburl: cannot write the SQLite database %s: this user cannot create files in its directory %s, where SQLite keeps the database's journal", e.Path, e.Dir)
	}
	return fmt.Sprintf("dburl: cannot write the SQLite database %s: the file is read-only for this user", e.Path)
}

func (e *ReadOnlyError) Unwrap() []error { return []error{ErrReadOnly, e.Err} }

// sqliteWatch is what the wrapped connections of one database share.
type sqliteWatch struct {
	path    string // absolute; "" in memory (no locks to look at)
	timeout time.Duration
	notice  func(BusyWait)
	mu      sync.Mutex // serializes notice
}

// call is one watched call: it reports a wait on another connection's
// lock once, and explains the error it ends with.
type call struct {
	w     *sqliteWatch
	start time.Time
	timer *time.Timer
}

// What a call can wait for: a reader only for a connection that is
// committing; a writer (BEGIN IMMEDIATE, a statement outside a
// transaction) for another writer; a commit for readers too.
type waitsFor int

const (
	waitsForCommitter waitsFor = iota
	waitsForWriter
	waitsForReaders
)

func (f waitsFor) blockedBy(h LockHolder) bool {
	switch f {
	case waitsForCommitter:
		return h.Exclusive
	case waitsForWriter:
		return h.Write
	}
	return true
}

func (w *sqliteWatch) begin(f waitsFor) *call {
	c := &call{w: w, start: time.Now()}
	if w.path != "" && w.notice != nil {
		c.timer = time.AfterFunc(BusyNoticeAfter, func() {
			var hs []LockHolder
			for _, h := range lockHolders(w.path) {
				if f.blockedBy(h) {
					hs = append(hs, h)
				}
			}
			if len(hs) == 0 {
				return // a slow statement of this connection's own
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			w.notice(BusyWait{Path: w.path, Waited: time.Since(c.start), Limit: w.timeout, Holders: hs})
		})
	}
	return c
}

func (c *call) end(err error) error {
	if c.timer != nil {
		c.timer.Stop()
	}
	if err == nil {
		return nil
	}
	return c.w.explain(err, time.Since(c.start))
}

// explain turns the driver's errors of locks and permissions into
// *BusyError and *ReadOnlyError.
func (w *sqliteWatch) explain(err error, waited time.Duration) error {
	var se *sqlite.Error
	if w.path == "" || !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); {
	case code&0xff == sqliteBusy:
		return &BusyError{Path: w.path, Waited: waited, Limit: w.timeout, Holders: lockHolders(w.path), Err: err}
	case code == sqliteReadOnlyDirectory:
		return &ReadOnlyError{Path: w.path, Dir: filepath.Dir(w.path), Err: err}
	case code&0xff == sqliteReadOnly:
		if unix.Access(w.path, unix.W_OK) == nil {
			// The file is writable: what is not is its directory (a
			// journal left by a crash, say, that must be rolled back).
			return &ReadOnlyError{Path: w.path, Dir: filepath.Dir(w.path), Err: err}
		}
		return &ReadOnlyError{Path: w.path, Err: err}
	case code&0xff == sqliteCantOpen:
		dir := filepath.Dir(w.path)
		_, serr := os.Stat(w.path)
		if di, derr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) && derr == nil && di.IsDir() && unix.Access(dir, unix.W_OK) != nil {
			return &ReadOnlyError{Path: w.path, Dir: dir, Missing: true, Err: err}
		}
	}
	return err
}

// SQLite result codes (sqlite3.h).
const (
	sqliteBusy              = 5
	sqliteReadOnly          = 8
	sqliteCantOpen          = 14
	sqliteReadOnlyDirectory = sqliteReadOnly | 6<<8
)

// The byte ranges SQLite's unix VFS locks (os_unix.c): PENDING, RESERVED
// and SHARED in the database file (a write lock on the SHARED range is
// EXCLUSIVE); in WAL mode the writer's lock is byte 120 of the -shm file.
const (
	pendingByte  = 0x40000000
	reservedByte = pendingByte + 1
	sharedFirst  = pendingByte + 2
	sharedSize   = 510
	walWriteByte = 120
)

// lockHolders returns the other processes holding locks on the SQLite
// database at path, from /proc/locks (nil where there is none, or no
// such file).
func lockHolders(path string) []LockHolder {
	db, ok := fileID(path)
	if !ok {
		return nil
	}
	shm, hasShm := fileID(path + "-shm")
	raw, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	found := map[int]*LockHolder{}
	var order []int
	add := func(pid int, write, exclusive bool) {
		h := found[pid]
		if h == nil {
			h = &LockHolder{PID: pid}
			found[pid] = h
			order = append(order, pid)
		}
		h.Write = h.Write || write
		h.Exclusive = h.Exclusive || exclusive
	}
	for _, line := range strings.Split(string(raw), "\n") {
		// "1: POSIX  ADVISORY  WRITE 23586 fe:00:9981105 1073741825 1073741825";
		// blocked requests start with "1: -> ".
		f := strings.Fields(line)
		if len(f) < 8 || f[1] == "->" {
			continue
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid == self {
			continue
		}
		if f[1] == "OFDLCK" {
			pid = 0
		}
		id := f[5]
		first, err1 := strconv.ParseInt(f[6], 10, 64)
		last, err2 := strconv.ParseInt(f[7], 10, 64)
		if f[7] == "EOF" {
			last, err2 = 1<<62, nil
		}
		if err1 != nil || err2 != nil {
			continue
		}
		write := f[3] == "WRITE"
		covers := func(lo, hi int64) bool { return first <= hi && last >= lo }
		switch {
		case id == db:
			if write && covers(pendingByte, pendingByte) {
				add(pid, true, true)
			}
			if write && covers(reservedByte, reservedByte) {
				add(pid, true, false)
			}
			if covers(sharedFirst, sharedFirst+sharedSize-1) {
				add(pid, write, write)
			}
		case hasShm && id == shm && write && covers(walWriteByte, walWriteByte):
			add(pid, true, false)
		}
	}
	out := make([]LockHolder, 0, len(order))
	for _, pid := range order {
		h := *found[pid]
		if h.PID > 0 {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID) + "/comm"); err == nil {
				h.Command = strings.TrimSpace(string(b))
			}
		}
		out = append(out, h)
	}
	// Writers first: they are what a writer waits for.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Write && !out[j-1].Write; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// fileID is a file's device and inode as /proc/locks writes them
// ("fe:00:9981105").
func fileID(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	dev := uint64(st.Dev) //nolint:unconvert // its type differs between platforms
	return fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), st.Ino), true
}

func holderList(hs []LockHolder) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.String()
	}
	return strings.Join(s, "; ")
}

// The wrappers. They forward every optional interface of the driver's
// connections (see sqlite.NewConnector) and watch the calls that take
// the database's locks: statements, the start of a transaction (BEGIN
// IMMEDIATE) and its commit.

type sqliteConnector struct {
	base driver.Connector
	w    *sqliteWatch
}

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	call := c.w.begin(waitsForCommitter)
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, call.end(err)
	}
	_ = call.end(nil)
	return &sqliteConn{inner: dc, w: c.w}, nil
}

func (c *sqliteConnector) Driver() driver.Driver { return c.base.Driver() }

type sqliteConn struct {
	inner driver.Conn
	w     *sqliteWatch
	inTx  bool // in a transaction: its BEGIN IMMEDIATE took the write lock
}

// writes is what a statement that writes waits for: another writer
// outside a transaction; in one, this connection has the write lock.
func (c *sqliteConn) writes() waitsFor {
	if c.inTx {
		return waitsForCommitter
	}
	return waitsForWriter
}

// Unwrap returns the driver's own connection (for its extensions, such as
// the online backup API).
func (c *sqliteConn) Unwrap() driver.Conn { return c.inner }

func (c *sqliteConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *sqliteConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	call := c.w.begin(waitsForCommitter)
	s, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, call.end(err)
	}
	_ = call.end(nil)
	return &sqliteStmt{inner: s, c: c}, nil
}

func (c *sqliteConn) Close() error { return c.inner.Close() }

func (c *sqliteConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *sqliteConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	call := c.w.begin(waitsForWriter)
	tx, err := c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, call.end(err)
	}
	_ = call.end(nil)
	c.inTx = true
	return &sqliteTx{inner: tx, c: c}, nil
}

func (c *sqliteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	call := c.w.begin(c.writes())
	r, err := c.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
	return r, call.end(err)
}

func (c *sqliteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	call := c.w.begin(waitsForCommitter)
	r, err := c.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
	return r, call.end(err)
}

func (c *sqliteConn) Ping(ctx context.Context) error {
	call := c.w.begin(waitsForCommitter)
	return call.end(c.inner.(driver.Pinger).Ping(ctx))
}

func (c *sqliteConn) ResetSession(ctx context.Context) error {
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}

func (c *sqliteConn) IsValid() bool { return c.inner.(driver.Validator).IsValid() }

type sqliteTx struct {
	inner driver.Tx
	c     *sqliteConn
}

func (t *sqliteTx) Commit() error {
	call := t.c.w.begin(waitsForReaders)
	err := t.inner.Commit()
	t.c.inTx = false
	return call.end(err)
}

func (t *sqliteTx) Rollback() error {
	t.c.inTx = false
	return t.inner.Rollback()
}

type sqliteStmt struct {
	inner driver.Stmt
	c     *sqliteConn
}

func (s *sqliteStmt) Close() error  { return s.inner.Close() }
func (s *sqliteStmt) NumInput() int { return s.inner.NumInput() }

func (s *sqliteStmt) Exec(args []driver.Value) (driver.Result, error) { //nolint:staticcheck // driver.Stmt requires it
	call := s.c.w.begin(s.c.writes())
	//lint:ignore SA1019 driver.Stmt requires Exec; forwarded as is
	r, err := s.inner.Exec(args)
	return r, call.end(err)
}

func (s *sqliteStmt) Query(args []driver.Value) (driver.Rows, error) { //nolint:staticcheck // driver.Stmt requires it
	call := s.c.w.begin(waitsForCommitter)
	//lint:ignore SA1019 driver.Stmt requires Query; forwarded as is
	r, err := s.inner.Query(args)
	return r, call.end(err)
}

func (s *sqliteStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	call := s.c.w.begin(s.c.writes())
	r, err := s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
	return r, call.end(err)
}

func (s *sqliteStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	call := s.c.w.begin(waitsForCommitter)
	r, err := s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
	return r, call.end(err)
}
