// Command glance-manage manages an OpenStack Glance database; a drop-in
// for upstream's `glance-manage db ...`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/glance-manage/glance-manage/internal/cli"
)

// stopSignals are the signals that would end the process by default and
// that a person or a supervisor sends to stop it: the run stops at its
// next safe point, releases the migration lock and exits with 128 + the
// signal's number; a second one does not end it sooner (see
// internal/cli/signals.go). Only SIGKILL ends it at once.
var stopSignals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGALRM, syscall.SIGUSR1, syscall.SIGUSR2}

func main() {
	// A reader of stdout or stderr that goes away (`db expand | head`)
	// must not end the run with SIGPIPE: with SIGPIPE notified (and the
	// notes dropped), a write to the closed pipe fails with EPIPE, which
	// the output ignores. Notify rather than Ignore, so that the tools
	// the backups run start with SIGPIPE as usual.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// A signal ignored when the process started stays ignored: `nohup
	// glance-manage db migrate &` must survive the hangup, and a shell
	// script's background job its SIGINT.
	var watch []os.Signal
	for _, s := range stopSignals {
		if !signal.Ignored(s) {
			watch = append(watch, s)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, watch...)
	code := cli.Run(context.Background(), os.Args[1:], cli.Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Argv0:    os.Args[0],
		Terminal: term.IsTerminal(int(os.Stderr.Fd())),
		Signals:  sigs,
	})
	os.Exit(code)
}
