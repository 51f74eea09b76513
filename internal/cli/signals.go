package cli

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// Stopping by signal. The first stop signal (Env.Signals) cancels the
// run's context with an *Interrupted cause: the run stops at its next
// safe point (a backoff sleep, a wait for a lock and a statement waiting
// on the server end at once), releases the migration lock and exits with
// 128 + the signal's number, as a shell reports a process ended by that
// signal. Later signals do not end the process sooner: they only say that
// it is still stopping (coreutils timeout sends its signal twice, to the
// process and to its process group). Only SIGKILL ends a run at once,
// and leaves the lock held until its lease expires.

// Interrupted is the cause of the run's cancellation when a signal
// stopped it.
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string { return "interrupted by " + signalName(e.Signal) }

// signalName names a signal as people write it (SIGTERM).
func signalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		switch n {
		case syscall.SIGHUP:
			return "SIGHUP"
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGQUIT:
			return "SIGQUIT"
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGALRM:
			return "SIGALRM"
		}
	}
	return s.String()
}

// exitInterrupted is the exit code of a run that a signal stopped: 128
// + the signal's number (130 for SIGINT, 143 for SIGTERM); 130 when the
// run was cancelled otherwise.
func (a *app) exitInterrupted() int {
	var in *Interrupted
	if a.ctx != nil && errors.As(context.Cause(a.ctx), &in) {
		if n, ok := in.Signal.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return 128 + int(syscall.SIGINT)
}

// watchSignals turns the signals of sigs into a cancellation of the run
// (the first) and notes (the others), until done is closed.
func (a *app) watchSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, done <-chan struct{}) {
	n := 0
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			n++
			switch n {
			case 1:
				a.logf("glance-manage: received %s: stopping at the next safe point; the migration lock is released before the process ends.", signalName(s))
				cancel(&Interrupted{Signal: s})
			case 2:
				a.logf("glance-manage: received %s again: still stopping (the statement in progress ends first; SIGKILL would leave the migration lock held until its lease expires).", signalName(s))
			}
		}
	}
}
