// Package cli implements the glance-manage command line: parsing, output
// and exit codes. It holds no SQL; the work is done by package glance.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/oslog"
	"github.com/glance-manage/glance-manage/migrate"
)

// Version is the tool's version, printed by --version.
var Version = "0.1.0"

// Env is what the command line reads and writes besides its arguments.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Argv0 is the program name as invoked (for the usage line).
	Argv0 string
	// Terminal reports whether Stderr is a terminal (progress bars).
	Terminal bool
	// Signals, when set, delivers the signals that ask the run to stop
	// (see signals.go): the first cancels it at a safe point, with an
	// exit code of 128 + the signal's number; later ones do not end it
	// sooner.
	Signals <-chan os.Signal
}

// exitErr carries an exit code through cobra.
type exitErr struct {
	code int
	msg  string // printed to stderr when non-empty
}

func (e *exitErr) Error() string { return e.msg }

func exit(code int, format string, args ...any) error {
	return &exitErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// app holds the global options and what the commands share.
type app struct {
	env         Env
	configFiles []string
	configDirs  []string
	debug       bool
	lockTimeout string
	busyTimeout string        // --busy-timeout (waits.go)
	ddlWait     string        // --ddl-wait (waits.go)
	inPlace     bool          // --in-place-rebuild
	thr         throttleFlags // --max-replica-lag, --replica, --max-load, --threads (throttle.go)
	command     string        // the command running ("db sync"), for messages
	sess        *session      // the open database, for messages after a failure
	out, errw   io.Writer

	// Logging (logging.go): the oslo.log flags, the handler once the
	// configuration is read (nil: stderr only), whether stderr is left
	// out, and the request id of the run's records.
	logCL       *oslog.CommandLine
	logh        *oslog.Handler
	quietStderr bool
	requestID   string
	mu          sync.Mutex      // serializes output: notices come from other goroutines
	ctx         context.Context // the run's, cancelled with an *Interrupted cause by a signal
	// skipPreflight: --skip-preflight; preflightRan: the checks ran
	// before this command (preflight.go).
	skipPreflight, preflightRan bool
}

func (a *app) printf(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.out, format+"\n", args...)
}
func (a *app) logf(format string, args ...any) { a.logLine(fmt.Sprintf(format, args...), "", 1) }

// Run runs glance-manage with args (without the program name) and returns
// the exit code. Cancelling ctx, or a signal from env.Signals, stops work
// at a safe point.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Argv0 == "" {
		env.Argv0 = "glance-manage"
	}
	a := &app{env: env, out: env.Stdout, errw: env.Stderr}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.ctx = ctx
	if env.Signals != nil {
		done := make(chan struct{})
		defer close(done)
		go a.watchSignals(env.Signals, cancel, done)
	}
	// Upstream prints a short usage and exits 2 when called with nothing.
	if len(args) == 0 {
		a.printf("%s category action [<args>]", env.Argv0)
		a.printf("Available categories:")
		a.printf("\tdb")
		return exitUsage
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if a.debug {
		dburl.SetDriverLog(nil)
	}
	if err == nil {
		a.finish("")
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		a.finish(ee.msg)
		return ee.code
	}
	// Cobra's own errors are usage errors: unknown command or flag, bad
	// flag value, wrong number of arguments.
	a.finish(fmt.Sprintf("glance-manage: error: %v (run '%s --help' for usage)", err, helpTarget(filepath.Base(env.Argv0), args)))
	return exitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "glance-manage",
		Short:         "Manage the Glance image service's database",
		Long:          "glance-manage manages the schema and data of an OpenStack Glance database\n(SQLite, MySQL/MariaDB or PostgreSQL), compatibly with upstream glance-manage.",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			a.command = commandName(cmd)
			if a.debug {
				dburl.SetDriverLog(func(line string) { a.logf("DEBUG [mysql] %s", line) })
			}
		},
	}
	root.SetVersionTemplate(versionText())
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringArrayVar(&a.configFiles, "config-file", nil, "configuration file to read (repeatable; later files win); replaces the default files")
	pf.StringArrayVar(&a.configDirs, "config-dir", nil, "directory of *.conf files read after the config files (repeatable)")
	pf.StringVar(&a.lockTimeout, "lock-timeout", "", "how long to wait for another glance-manage run to finish (e.g. 30s, 5m)")
	// oslo.log's options, --debug among them (logging.go).
	a.logCL = oslog.RegisterFlags(pf)
	pf.StringVar(&a.busyTimeout, "busy-timeout", "", "SQLite: how long a statement waits for another connection's write lock on the database file before giving up (default: the URL's ?timeout=, else "+dburl.DefaultSQLiteBusyTimeout.String()+"; 0 does not wait)")
	pf.StringVar(&a.ddlWait, "ddl-wait", "", "online DDL: how long in all a revision keeps retrying a statement that cannot get its table lock (behind a long transaction) before giving up and naming the sessions in the way (default "+migrate.DefaultLockWait.String()+"; 0 tries once)")
	root.AddCommand(a.dbCommand())
	for _, c := range a.legacyCommands() {
		root.AddCommand(c)
	}
	return root
}

// pythonList renders heads the way Python prints a list of strings, as
// upstream's failure messages do.
func pythonList(heads []string) string {
	q := make([]string, len(heads))
	for i, h := range heads {
		q[i] = "'" + h + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// helpTarget names the command whose --help explains a usage error:
// "glance-manage db sync" for `glance-manage db sync a b`.
func helpTarget(prog string, args []string) string {
	words := []string{prog}
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if a == "db" || (i > 0 && args[i-1] == "db") || strings.HasPrefix(a, "db_") {
			words = append(words, a)
			if a != "db" {
				break
			}
			continue
		}
		break
	}
	return strings.Join(words, " ")
}

// noArgs refuses positional arguments with a message that names them.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}
