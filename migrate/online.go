package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Defaults of online DDL (Options.LockTimeout, Options.LockWait) and of
// data-migration batches.
const (
	// DefaultLockTimeout bounds how long one DDL statement of an online
	// run waits for its lock; while it waits, new readers and writers of
	// the table queue behind it. MySQL counts whole seconds (1 s).
	DefaultLockTimeout = 500 * time.Millisecond
	// DefaultLockWait bounds how long in all a revision (MySQL: the
	// statement) that keeps timing out waiting for a lock is tried
	// again. Each attempt stalls the table's writers for up to the lock
	// timeout, and a transaction left open does not end by itself: after
	// this long the run stops and names the sessions in the way.
	DefaultLockWait = 2 * time.Minute
	// DefaultLockRetries is how many times a data-migration batch that
	// timed out waiting for a row lock, or deadlocked, is tried again.
	DefaultLockRetries = 30
	// Backoff between attempts: doubling from minBackoff up to
	// maxBackoff, with jitter.
	minBackoff = 200 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// PreconditionError is returned when a revision would drop data that has
// not been carried over: a schema.Precondition found rows violating it
// right before the destructive operation. Nothing after the check ran.
type PreconditionError struct {
	Revision string
	Check    string // what must hold ("every image has a visibility")
	Table    string
	Where    string // the violating rows ("visibility IS NULL")
	Rows     int64
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("migrate: revision %s refused: %d row(s) of %s where %s; it needs %s (run the data migrations, and stop services of the previous release, first)",
		e.Revision, e.Rows, e.Table, e.Where, e.Check)
}

// Unwrap makes errors.Is(err, ErrDataMigrationPending) true.
func (e *PreconditionError) Unwrap() error { return ErrDataMigrationPending }

// online returns the dialect's online interface when o asks for online
// DDL and the dialect has it.
func (m *Migrator) online(o Options) dialect.Online {
	if !o.Online || o.PlainDDL {
		return nil
	}
	on, _ := m.Dialect.(dialect.Online)
	return on
}

func lockTimeout(o Options) time.Duration {
	if o.LockTimeout > 0 {
		return o.LockTimeout
	}
	return DefaultLockTimeout
}

func lockRetries(o Options) int {
	switch {
	case o.LockRetries < 0 || o.LockWait < 0:
		return 0
	case o.LockRetries == 0:
		return math.MaxInt // bounded by lockWait
	}
	return o.LockRetries
}

func lockWait(o Options) time.Duration {
	switch {
	case o.LockWait < 0:
		return 0
	case o.LockWait == 0:
		return DefaultLockWait
	}
	return o.LockWait
}

// LockWaitError is returned when an online statement kept failing to get
// a lock (dialect.Online.Retryable) until its retries ran out
// (Options.LockWait, Options.LockRetries). Blockers are the sessions the
// dialect found in its way at that moment (dialect.LockWaits). It wraps
// the last failure, a *StepError when the statement is known.
type LockWaitError struct {
	Revision  string
	Op        string // the operation's description, "" when not known
	SQL       string // the statement that waited, "" when not known
	Table     string // the table whose lock it waited for, "" when not known
	WaitedFor string // what it waited for ("a metadata lock"; dialect.LockWaits)
	Attempts  int
	Tried     time.Duration // from the start of the first attempt to the last failure
	Limit     time.Duration // Options.LockWait
	Blockers  []dialect.Session
	// BlockersErr is why the blockers could not be read (nil when they
	// were, or the dialect cannot say).
	BlockersErr error
	Err         error
}

func (e *LockWaitError) Error() string {
	what := "its statement"
	if e.Op != "" {
		what = e.Op
	}
	msg := fmt.Sprintf("migrate: revision %s: %s: gave up after %d attempt(s) in %s waiting for %s", e.Revision, what, e.Attempts, e.Tried.Round(100*time.Millisecond), e.WaitedFor)
	if e.Table != "" {
		msg += " on " + e.Table
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

func (e *LockWaitError) Unwrap() error { return e.Err }

// opTable is the table op changes, whose lock its statements wait for.
func opTable(op schema.Op) string {
	switch o := op.(type) {
	case schema.CreateTable:
		return o.Table.Name
	case schema.DropTable:
		return o.Name
	case schema.AddColumn:
		return o.Table
	case schema.DropColumn:
		return o.Table
	case schema.AlterColumn:
		return o.Table
	case schema.CreateIndex:
		return o.Index.Table
	case schema.DropIndex:
		return o.Table
	case schema.RebuildTable:
		return o.Table.Name
	case schema.CreateTrigger:
		return o.Table
	case schema.DropTrigger:
		return o.Table
	case schema.Precondition:
		return o.Table
	}
	return ""
}

// backoff is the wait before attempt n+1 (n from 0): exponential with
// jitter, so that several runners do not retry in step.
func backoff(n int) time.Duration {
	d := minBackoff << min(n, 10)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// retryOnLock runs f, and runs it again each time it fails waiting for a
// lock or in a deadlock (on.Retryable), after a backoff of
// backoff(attempt)/div, up to limit more times and as long as the next
// attempt, lasting as long as the last, ends within budget of the start
// of the first; each retry is first
// reported as retry with its Err, Wait, Attempt, Table, WaitedFor, Tried
// and Limit set. When the retries run out it returns a *LockWaitError
// (naming the sessions in the way where the dialect can, see
// dialect.LockWaits); otherwise f's last error, or the observer's. Once
// ctx ends it stops trying and returns f's error.
func (m *Migrator) retryOnLock(ctx context.Context, on dialect.Online, limit int, budget, div time.Duration, retry Event, f func() error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		began := time.Now()
		err := f()
		if err == nil || on == nil || !on.Retryable(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff(attempt) / div
		tried := time.Since(start)
		lw := m.lockWaitError(retry, err, attempt+1, tried, budget)
		if attempt >= limit || tried+wait+time.Since(began) > budget {
			m.blockers(ctx, lw)
			return lw
		}
		ev := retry
		ev.Err, ev.Wait, ev.Attempt = err, wait, attempt+1
		ev.Table, ev.WaitedFor, ev.Tried, ev.Limit, ev.SQL = lw.Table, lw.WaitedFor, tried, budget, lw.SQL
		var se *StepError
		if errors.As(err, &se) && se.op != nil {
			ev.Op = se.op
		}
		if oerr := m.observe(ev); oerr != nil {
			return oerr
		}
		if serr := sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

// lockWaitError describes err, the failure of attempt n of retry's work.
func (m *Migrator) lockWaitError(retry Event, err error, n int, tried, budget time.Duration) *LockWaitError {
	lw := &LockWaitError{Attempts: n, Tried: tried, Limit: budget, Err: err, WaitedFor: "a lock", SQL: retry.SQL}
	if retry.Revision != nil {
		lw.Revision = retry.Revision.ID
	}
	if retry.Op != nil {
		lw.Op, lw.Table = retry.Op.Describe(), opTable(retry.Op)
	}
	var se *StepError
	if errors.As(err, &se) {
		lw.Op, lw.SQL = se.Op, se.SQL
		if se.op != nil {
			lw.Table = opTable(se.op)
		}
	}
	if lwd, ok := m.Dialect.(dialect.LockWaits); ok {
		lw.WaitedFor = lwd.WaitedFor(err)
	}
	return lw
}

// blockers asks the dialect who is in lw's way, on a connection of its
// own (the run's may be gone with ctx).
func (m *Migrator) blockers(ctx context.Context, lw *LockWaitError) {
	lwd, ok := m.Dialect.(dialect.LockWaits)
	if !ok || lw.Table == "" {
		return
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	lw.Blockers, lw.BlockersErr = lwd.Blockers(bctx, m.DB, lw.Table)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// segment runs a revision's statements on one connection, in a
// transaction where the backend has transactional DDL, leaving it for
// statements that cannot run in one (dialect.Stmt.NoTx) and entering a
// new one afterwards. On an online run each transaction (MySQL: the
// connection) starts with the dialect's SessionSQL.
type segment struct {
	conn          *sql.Conn
	tx            *sql.Tx
	transactional bool
	on            dialect.Online
	timeout       time.Duration
	sessionSet    bool
	// fence confirms the migration lock (Migrator.fence): at the start
	// of every transaction, and by guard before a statement that runs
	// outside one.
	fence func(context.Context, dialect.Querier) error
	// reset: session settings undone when the connection goes back to
	// the pool (a cluster's wsrep_sync_wait).
	reset []string
}

// guard confirms the lock on the connection when no transaction is open
// (the next statement commits by itself); an open transaction confirmed
// it when it began.
func (s *segment) guard(ctx context.Context) error {
	if s.tx != nil || s.fence == nil {
		return nil
	}
	if !s.transactional {
		if _, err := s.q(ctx); err != nil { // session settings first (MySQL)
			return err
		}
	}
	return s.fence(ctx, s.conn)
}

// q returns where the next transactional statement runs, starting a
// transaction when needed.
func (s *segment) q(ctx context.Context) (dialect.Querier, error) {
	if !s.transactional {
		if s.on != nil && !s.sessionSet {
			s.sessionSet = true
			if err := execAll(ctx, s.conn, s.on.SessionSQL(s.timeout)); err != nil {
				return nil, err
			}
		}
		return s.conn, nil
	}
	if s.tx != nil {
		return s.tx, nil
	}
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	s.tx = tx
	if s.on != nil {
		if err := execAll(ctx, tx, s.on.SessionSQL(s.timeout)); err != nil {
			return nil, err
		}
	}
	if s.fence != nil {
		if err := s.fence(ctx, tx); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// bare commits the open transaction, if any, and returns the connection.
func (s *segment) bare() (dialect.Querier, error) {
	if s.tx != nil {
		err := s.tx.Commit()
		s.tx = nil
		if err != nil {
			return nil, err
		}
	}
	return s.conn, nil
}

// versionTx returns a transaction for the version-table change: the open
// one, or a new one (MySQL, or after a NoTx statement).
func (s *segment) versionTx(ctx context.Context) (*sql.Tx, error) {
	if s.transactional {
		if _, err := s.q(ctx); err != nil {
			return nil, err
		}
		return s.tx, nil
	}
	if _, err := s.q(ctx); err != nil { // session settings on MySQL
		return nil, err
	}
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	s.tx = tx
	if s.fence != nil {
		if err := s.fence(ctx, tx); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// close rolls back what was not committed and undoes session settings.
func (s *segment) close() {
	if s.tx != nil {
		_ = s.tx.Rollback()
		s.tx = nil
	}
	if s.on != nil && s.sessionSet {
		_ = execAll(context.Background(), s.conn, s.on.ResetSQL())
	}
	if len(s.reset) > 0 {
		_ = execAll(context.Background(), s.conn, s.reset)
	}
	s.conn.Close()
}

func execAll(ctx context.Context, q dialect.Querier, stmts []string) error {
	for _, st := range stmts {
		if _, err := q.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// checkPrecondition counts the rows violating p.
func checkPrecondition(ctx context.Context, q dialect.Querier, rev string, p schema.Precondition) error {
	var n int64
	if err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", p.Table, p.Where)).Scan(&n); err != nil {
		return &StepError{Revision: rev, Op: p.Describe(), Err: err}
	}
	if n > 0 {
		return &PreconditionError{Revision: rev, Check: p.Desc, Table: p.Table, Where: p.Where, Rows: n}
	}
	return nil
}

// renderOnline renders op for a live run: the dialect's online forms
// when on is set, else the plain statements.
func (m *Migrator) renderOnline(op schema.Op, on dialect.Online) ([]dialect.Stmt, error) {
	if on != nil {
		return on.OnlineRender(op)
	}
	stmts, err := m.Dialect.Render(op)
	return dialect.Plain(stmts), err
}
