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

	"github.com/spf13/cobra"
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
	inPlace     bool // --in-place-rebuild
	out, errw   io.Writer

	// skipPreflight: --skip-preflight; preflightRan: the checks ran
	// before this command (preflight.go).
	skipPreflight, preflightRan bool
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.out, format+"\n", args...) }
func (a *app) logf(format string, args ...any)   { fmt.Fprintf(a.errw, format+"\n", args...) }

// Run runs glance-manage with args (without the program name) and returns
// the exit code. Cancelling ctx (SIGINT, SIGTERM) stops work at a safe
// point.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Argv0 == "" {
		env.Argv0 = "glance-manage"
	}
	a := &app{env: env, out: env.Stdout, errw: env.Stderr}
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
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(env.Stderr, ee.msg)
		}
		return ee.code
	}
	// Cobra's own errors are usage errors: unknown command or flag, bad
	// flag value, wrong number of arguments.
	fmt.Fprintf(env.Stderr, "glance-manage: error: %v (run '%s --help' for usage)\n", err, helpTarget(filepath.Base(env.Argv0), args))
	return exitUsage
}

// loggingFlags are oslo.log's options: accepted so existing invocations
// keep working, and otherwise ignored (logs go to stderr).
var loggingFlags = []string{"log-config-append", "log-date-format", "log-dir", "log-file", "syslog-log-facility"}
var loggingBools = []string{"nodebug", "use-syslog", "nouse-syslog", "use-journal", "nouse-journal", "use-json", "nouse-json", "watch-log-file", "nowatch-log-file", "use-eventlog", "nouse-eventlog"}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "glance-manage",
		Short:         "Manage the Glance image service's database",
		Long:          "glance-manage manages the schema and data of an OpenStack Glance database\n(SQLite, MySQL/MariaDB or PostgreSQL), compatibly with upstream glance-manage.",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringArrayVar(&a.configFiles, "config-file", nil, "configuration file to read (repeatable; later files win); replaces the default files")
	pf.StringArrayVar(&a.configDirs, "config-dir", nil, "directory of *.conf files read after the config files (repeatable)")
	pf.BoolVarP(&a.debug, "debug", "d", false, "print debugging output, including each SQL statement")
	pf.StringVar(&a.lockTimeout, "lock-timeout", "", "how long to wait for another glance-manage run to finish (e.g. 30s, 5m)")
	for _, f := range loggingFlags {
		pf.String(f, "", "accepted for compatibility with oslo.log; ignored")
		_ = pf.MarkHidden(f)
	}
	for _, f := range loggingBools {
		pf.Bool(f, false, "accepted for compatibility with oslo.log; ignored")
		_ = pf.MarkHidden(f)
	}
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
