package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
)

// One runner at a time: every command that writes takes the migration
// lock (a lease row in the database, see migrate.Locker) before it
// touches anything, waits up to --lock-timeout for another run to finish,
// and releases it when done, interrupted or failed.

// DefaultLockTimeout is how long a command waits for the migration lock
// when --lock-timeout is not given.
const DefaultLockTimeout = 10 * time.Minute

// EnvLockLease sets the lease duration of the migration lock (a Go
// duration; default migrate.DefaultLease). A killed run's lock is taken
// over once its lease expires (at once by a run on the same host, which
// can see that the process is gone).
const EnvLockLease = "GLANCE_MANAGE_LOCK_LEASE"

// readOnlyActions never take the lock.
var readOnlyActions = map[string]bool{"version": true, "check": true, "export_metadefs": true, "preflight": true,
	"rehearse": true} // rehearse only reads the source: no lock on it

// lockHolderJSON describes the migration lock's holder for the JSON
// status (nil when the lock is free or cannot be read).
func lockHolderJSON(s *session) *lockHolderOut {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := &migrate.Locker{DB: s.mgr.DB, Dialect: s.mgr.Dialect, Naming: glance.Naming}
	info, err := l.Show(ctx)
	if err != nil || info == nil {
		return nil
	}
	process := "unknown (another host)"
	switch {
	case info.Local && info.Alive:
		process = "running"
	case info.Local:
		process = "gone"
	}
	return &lockHolderOut{
		Command: info.Command, Host: info.Host, PID: info.PID, Owner: info.Owner,
		Acquired:            info.Acquired.Format(time.RFC3339),
		HeartbeatAgeSeconds: info.Silence.Seconds(),
		ExpiresInSeconds:    info.ExpiresIn.Seconds(),
		Process:             process,
		Stale:               info.Stale(),
	}
}

// lockHolderOut is the "lock_holder" of the JSON status, its fields in the
// order of their keys.
type lockHolderOut struct {
	Acquired            string  `json:"acquired"`
	Command             string  `json:"command"`
	ExpiresInSeconds    float64 `json:"expires_in_seconds"`
	HeartbeatAgeSeconds float64 `json:"heartbeat_age_seconds"`
	Host                string  `json:"host"`
	Owner               string  `json:"owner"`
	PID                 int     `json:"pid"`
	Process             string  `json:"process"`
	Stale               bool    `json:"stale"`
}

// needsLock reports whether cmd changes the database.
func needsLock(cmd *cobra.Command) bool {
	if cmd.Parent() != nil && cmd.Parent().Name() == "lock" {
		return false
	}
	return !readOnlyActions[strings.TrimPrefix(cmd.Name(), "db_")]
}

// lockWait parses --lock-timeout: a Go duration or a number of seconds;
// 0 means a single attempt, a negative value waits without limit.
func (a *app) lockWait() (time.Duration, error) {
	v := strings.TrimSpace(a.lockTimeout)
	if v == "" {
		return DefaultLockTimeout, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return -1, nil
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, exit(exitUsage, "glance-manage: error: --lock-timeout %q is not a duration (e.g. 30s, 5m, 0 to not wait, -1 to wait without limit)", v)
	}
	if d < 0 {
		return -1, nil
	}
	return d, nil
}

func (a *app) lockLease() (time.Duration, error) {
	v := strings.TrimSpace(a.env.Getenv(EnvLockLease))
	if v == "" {
		return migrate.DefaultLease, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, exit(exitUsage, "glance-manage: error: %s=%q is not a positive duration (e.g. 30s)", EnvLockLease, v)
	}
	return d, nil
}

// commandName is how the lock names the command holding it ("db sync").
func commandName(cmd *cobra.Command) string {
	p := cmd.CommandPath()
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	return p
}

func (a *app) locker(s *session, command string) (*migrate.Locker, error) {
	lease, err := a.lockLease()
	if err != nil {
		return nil, err
	}
	return &migrate.Locker{DB: s.mgr.DB, Dialect: s.mgr.Dialect, Naming: glance.Naming, Lease: lease,
		Holder: migrate.ThisProcess(command)}, nil
}

// refuseForeign keeps the lock table out of a database that belongs to
// another application: it is created only in an empty database or one
// that is already Glance's.
func (a *app) refuseForeign(ctx context.Context, s *session) error {
	d := s.mgr.Dialect
	tables, err := d.Tables(ctx, s.mgr.DB)
	if err != nil {
		return exit(exitError, "ERROR: cannot read the database: %v. Check [database] connection.", err)
	}
	var others []string
	for _, t := range tables {
		switch {
		case glance.Naming.IsBookkeeping(t), t == migrate.VersionTable, t == "migrate_version", t == "images":
			return nil
		default:
			others = append(others, t)
		}
	}
	if len(others) == 0 {
		return nil
	}
	return a.fail(&glance.ForeignDatabaseError{Tables: others})
}

// takeLock takes the migration lock for cmd, unless cmd only reads. It
// returns the context the command runs in (cancelled when the lock is
// lost or the process is interrupted) and done, which releases the lock
// and turns the command's error into the message a person reads when the
// run was stopped.
func (a *app) takeLock(cmd *cobra.Command, s *session) (context.Context, func(error) error, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if !needsLock(cmd) {
		return ctx, func(err error) error { return err }, nil
	}
	wait, err := a.lockWait()
	if err != nil {
		return nil, nil, err
	}
	if err := a.refuseForeign(ctx, s); err != nil {
		return nil, nil, err
	}
	l, err := a.locker(s, commandName(cmd))
	if err != nil {
		return nil, nil, err
	}
	l.Waiting = func(info migrate.LockInfo) {
		limit := "without limit"
		if wait >= 0 {
			limit = "up to " + wait.String()
		}
		a.logf("Waiting for the migration lock: %s. Waiting %s (--lock-timeout).", describeLock(&info), limit)
	}
	l.WaitingBroken = a.waitingBroken
	lease, err := l.Acquire(ctx, wait)
	if err != nil {
		return nil, nil, a.lockError(cmd, err)
	}
	// Every change the command makes confirms the lock first (fencing).
	s.mgr.SetFence(lease)
	s.fence = lease
	if old := lease.TookOver; old != nil {
		why := fmt.Sprintf("its lease expired %s ago", (-old.ExpiresIn).Round(time.Second))
		if old.Gone() {
			why = "its process is gone"
		}
		a.logf("WARNING: took over the migration lock of %s: %s. This run continues where that one stopped.", old.Holder, why)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-lease.Lost():
			cancel(migrate.ErrLockLost)
		case <-runCtx.Done():
		}
	}()
	done := func(err error) error {
		stopped := runCtx.Err() != nil
		cause := context.Cause(runCtx)
		cancel(nil)
		s.mgr.SetFence(nil)
		s.fence = nil
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer rcancel()
		// Release acknowledges a break (the next holder waits for that)
		// and reports a lease lost at any point of the run.
		rerr := lease.Release(rctx)
		switch {
		case errors.Is(rerr, migrate.ErrLockLost):
			// Never exit 0 after the lock was broken, even when every
			// change was made before the break: another run may be
			// working by now.
			return a.lost(rctx, cmd, s, err == nil)
		case rerr != nil:
			a.logf("WARNING: could not release the migration lock (%v); it expires by itself %s after the last heartbeat.", rerr, l.Lease)
		}
		if err != nil && stopped {
			err = a.stopped(rctx, cmd, s, cause)
		}
		return err
	}
	return runCtx, done, nil
}

// waitingBroken reports the wait, after taking the lock, for a run whose
// lock was broken (migrate.Locker.WaitingBroken).
func (a *app) waitingBroken(w migrate.BrokenWait) {
	who := w.Info.Holder.String()
	switch w.State {
	case migrate.BrokenWaiting:
		a.logf("Waiting for the run whose migration lock was broken at %s (%s) to stop: it stops before its next change and says so. This run changes nothing until then, or until that run's lease has run out (in %s at most).",
			w.Info.Heartbeat.Format("15:04:05 MST"), who, w.Info.ExpiresIn.Round(time.Second))
	case migrate.BrokenStopped:
		a.logf("The run whose migration lock was broken (%s) has stopped; continuing.", who)
	case migrate.BrokenGone:
		a.logf("The run whose migration lock was broken (%s) is gone: its process has ended; continuing.", who)
	case migrate.BrokenExpired:
		a.logf("WARNING: the run whose migration lock was broken (%s) did not say it stopped before its lease ran out; continuing (a run that lost its lock changes nothing more: each of its changes confirms the lock first).", who)
	}
}

// lockError explains a lock that could not be taken.
func (a *app) lockError(cmd *cobra.Command, err error) error {
	var le *migrate.LockedError
	switch {
	case errors.As(err, &le):
		return exit(exitError, "ERROR: gave up waiting for the migration lock after %s (--lock-timeout): %s. Let that run finish, or wait longer with --lock-timeout; if it is gone, see `glance-manage db lock show`.",
			le.Waited.Round(time.Second), describeLock(&le.Info))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return exit(a.exitInterrupted(), "ERROR: interrupted while waiting for the migration lock; nothing was changed. Run `glance-manage %s` again.", commandName(cmd))
	}
	if e, ok := a.explainWait(err); ok {
		return e // the database's own lock, a read-only file, a lost connection
	}
	return exit(exitError, "ERROR: cannot take the migration lock: %v. Check that the database is writable by this user.", err)
}

// stopped is the message of a run stopped by a signal (or its caller's
// cancellation); a lost lock is told by lost.
func (a *app) stopped(ctx context.Context, cmd *cobra.Command, s *session, _ error) error {
	where := a.standing(ctx, s)
	again := "glance-manage " + commandName(cmd)
	return exit(a.exitInterrupted(), "ERROR: interrupted; stopped at a safe point %s and released the migration lock. Run `%s` again to finish.", where, again)
}

// lost is the message of a run whose lock was broken or taken over
// (finished: it had made all its changes by then).
func (a *app) lost(ctx context.Context, cmd *cobra.Command, s *session, finished bool) error {
	where := a.standing(ctx, s)
	if finished {
		return exit(exitError, "ERROR: lost the migration lock (it was broken, or taken over after its lease expired) after this run's last change: it finished, %s, but another glance-manage may be running now. See `glance-manage db lock show`, then `glance-manage db check`.", where)
	}
	return exit(exitError, "ERROR: lost the migration lock (it was broken, or taken over after its lease expired); stopped before its next change, %s. Make sure no other glance-manage runs (`glance-manage db lock show`), then run `glance-manage %s` again.", where, commandName(cmd))
}

// standing says which revision the database is at, for the messages of a
// stopped run.
func (a *app) standing(ctx context.Context, s *session) string {
	heads, err := s.mgr.Heads(ctx)
	switch {
	case err != nil:
		return "(the revision could not be read: " + err.Error() + ")"
	case len(heads) == 0:
		return "with the database at no revision yet"
	}
	return "with the database at revision(s) " + strings.Join(heads, ", ")
}

// describeLock renders a held lock for people.
func describeLock(i *migrate.LockInfo) string {
	if i.Owner == "" {
		return "held by another run"
	}
	msg := fmt.Sprintf("held by %s since %s (last heartbeat %s ago",
		i.Holder, i.Acquired.Format("2006-01-02 15:04:05 MST"), i.Silence.Round(time.Second))
	switch {
	case i.Gone():
		msg += "; its process is gone"
	case i.Expired():
		msg += fmt.Sprintf("; lease expired %s ago", (-i.ExpiresIn).Round(time.Second))
	default:
		msg += fmt.Sprintf("; lease expires in %s", i.ExpiresIn.Round(time.Second))
	}
	return msg + ")"
}

// lockCommand is `db lock show` and `db lock break`.
func lockCommand(a *app) (*cobra.Command, *cobra.Command) {
	lock := &cobra.Command{
		Use:   "lock",
		Short: "Show or break the migration lock that keeps two glance-manage runs apart",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Show who holds the migration lock",
		Args:  cobra.NoArgs,
		RunE: a.withDB(func(ctx context.Context, s *session, _ []string) error {
			l, err := a.locker(s, "")
			if err != nil {
				return err
			}
			info, err := l.Show(ctx)
			if err != nil {
				return a.fail(err)
			}
			a.printLock(info)
			broken, err := l.Broken(ctx)
			if err != nil {
				return a.fail(err)
			}
			for _, b := range broken {
				a.printBroken(b)
			}
			return nil
		}),
	}
	var force bool
	var owner string
	brk := &cobra.Command{
		Use:   "break",
		Short: "Remove the migration lock of a run that is gone",
		Long: "Remove the migration lock of a run that is gone. A lock whose lease expired, or whose\n" +
			"process is known to be gone, is removed; a live one only with --force.\n\n" +
			"A run whose lock was broken changes nothing more: each of its changes confirms the\n" +
			"lock in the database first, so it stops before its next one and exits non-zero.\n" +
			"Breaking a live lock leaves a record of it; the next run that takes the lock waits,\n" +
			"before it touches anything, until the broken run has stopped (it removes the record)\n" +
			"or its lease (30s by default) has run out, and says so.",
		Args: cobra.NoArgs,
		RunE: a.withDB(func(ctx context.Context, s *session, _ []string) error {
			l, err := a.locker(s, "")
			if err != nil {
				return err
			}
			info, err := l.Show(ctx)
			if err != nil {
				return a.fail(err)
			}
			if info == nil {
				a.printf("The migration lock is free; nothing to break.")
				return nil
			}
			if owner != "" && owner != info.Owner {
				return exit(exitError, "ERROR: the migration lock is now held by another run (owner %s, not %s): %s. Run `glance-manage db lock show` again.", info.Owner, owner, describeLock(info))
			}
			if !info.Stale() && !force {
				return exit(exitError, "ERROR: the migration lock is %s: that run is probably still working. Wait for it or stop it; if you are sure it is gone, run `glance-manage db lock break --force`.", describeLock(info))
			}
			broken, err := l.Break(ctx, info.Owner)
			if err != nil {
				return a.fail(err)
			}
			if broken == nil {
				return exit(exitError, "ERROR: the migration lock changed hands while breaking it. Run `glance-manage db lock show` again.")
			}
			if broken.Stale() {
				a.printf("Broke the migration lock %s. Run that run's command again to finish the work.", describeLock(broken))
				return nil
			}
			a.printf("Broke the migration lock %s. That run stops before its next change; the next glance-manage run waits until it has stopped, or for up to %s (its lease), before it touches anything. Run that run's command again to finish the work.",
				describeLock(broken), (broken.Silence + broken.ExpiresIn).Round(time.Second))
			return nil
		}),
	}
	brk.Flags().BoolVar(&force, "force", false, "break the lock even though its holder looks alive")
	brk.Flags().StringVar(&owner, "owner", "", "break the lock only if its owner token (from `db lock show`) is this one")
	lock.AddCommand(show, brk)
	return lock, nil
}

func (a *app) printLock(info *migrate.LockInfo) {
	if info == nil {
		a.printf("The migration lock is free.")
		return
	}
	a.printf("The migration lock is %s.", describeLock(info))
	a.printf("  owner:    %s", info.Owner)
	state := "on another host (whether it runs cannot be seen from here)"
	switch {
	case info.Local && info.Alive:
		state = "running on this host"
	case info.Local:
		state = "gone (no such process on this host)"
	}
	a.printf("  process:  %s", state)
	if info.Stale() {
		a.printf("The lock is stale: the next glance-manage run takes it over, or remove it with `glance-manage db lock break`.")
	}
}

// printBroken describes a run whose lock was broken and that has not
// said it stopped (migrate.Locker.Broken).
func (a *app) printBroken(b migrate.LockInfo) {
	state := fmt.Sprintf("the next run waits for it to stop, %s at most", b.ExpiresIn.Round(time.Second))
	switch {
	case b.Gone():
		state = "its process is gone; the next run does not wait"
	case b.Expired():
		state = "its lease has run out; the next run does not wait"
	}
	a.printf("The migration lock of %s was broken at %s and that run has not said it stopped yet: %s.", b.Holder, b.Heartbeat.Format("2006-01-02 15:04:05 MST"), state)
}
