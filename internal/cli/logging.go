package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/internal/config"
	"github.com/glance-manage/glance-manage/internal/oslog"
)

// Logging as oslo.log does it for upstream's glance-manage (package
// oslog): once the configuration is read, the oslo.log options of the
// command line and of [DEFAULT] decide where log records go besides
// stderr. What a.logf writes keeps its stderr form ("INFO  [name] msg",
// "WARNING: msg", plain lines); the log gets the same lines as records of
// the level and logger that form names (INFO and glance-manage for a
// plain line). Without a log file, syslog, journal or use_json nothing
// changes. stderr gets these lines while use_stderr is true (the
// default) or nothing else receives them; whatever the options, the
// error a run ends with is printed on stderr, one line, as upstream's
// sys.exit does, and a progress bar is drawn on a terminal only.

// logLevelLine reads the level and logger of a stderr line.
var (
	logLevelLine  = regexp.MustCompile(`^(DEBUG|INFO|WARNING|ERROR|CRITICAL) +\[([^\]\s]+)\] `)
	logPrefixLine = regexp.MustCompile(`^(WARNING|ERROR|CRITICAL): `)
)

var slogLevels = map[string]slog.Level{
	"DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo, "WARNING": slog.LevelWarn,
	"ERROR": slog.LevelError, "CRITICAL": oslog.LevelCritical,
}

// logName is the logger of the tool's own records.
const logName = "glance-manage"

// Loggers upstream's glance-manage writes the same lines under.
const (
	logPurge    = "glance.db.sqlalchemy.api"      // db purge's per-table lines
	logMetadefs = "glance.db.sqlalchemy.metadata" // metadefs' lines
)

// parseLogLine splits a stderr line into level, logger and message.
func parseLogLine(line string) (slog.Level, string, string) {
	if m := logLevelLine.FindStringSubmatch(line); m != nil {
		return slogLevels[m[1]], m[2], line[len(m[0]):]
	}
	if m := logPrefixLine.FindStringSubmatch(line); m != nil {
		return slogLevels[m[1]], logName, line[len(m[0]):]
	}
	return slog.LevelInfo, logName, line
}

// setupLogging resolves the oslo.log options and opens what they name.
// Errors are the one line a person reads, exit 1.
func (a *app) setupLogging(cfg *config.Config) error {
	if a.logh != nil || a.logCL == nil {
		return nil
	}
	conf := func(name string) (string, string, bool) {
		v, src, ok := cfg.Lookup("DEFAULT", name)
		if !ok {
			return "", "", false
		}
		if !strings.HasPrefix(src, "environment variable") {
			src = "[DEFAULT] " + name + " in " + src
		}
		return v, src, true
	}
	opts, err := oslog.Resolve(a.logCL.Lookup, conf)
	if err != nil {
		return logSetupError(err)
	}
	a.debug = opts.Debug
	program := filepath.Base(a.env.Argv0)
	h, err := oslog.New(opts, oslog.Env{Program: program, Product: "glance", Stderr: a.errw, Getenv: a.env.Getenv})
	if err != nil {
		return logSetupError(err)
	}
	if !h.Active() {
		_ = h.Close()
		return nil
	}
	a.logh = h
	a.quietStderr = !opts.StderrLogs(program) || opts.UseJSON
	return nil
}

// logSetupError explains options that cannot be used.
func logSetupError(err error) error {
	var (
		ue *oslog.UnsupportedError
		ve *oslog.ValueError
		pe *os.PathError
	)
	switch {
	case errors.As(err, &ue) && ue.Option == "use_eventlog":
		return exit(exitError, "ERROR: Windows Event Log is not available on this platform: remove use_eventlog (from %s).", ue.Where)
	case errors.As(err, &ue):
		return exit(exitError, "ERROR: log_config_append (from %s) is not supported: this glance-manage does not read Python logging configuration files. Remove it and use the oslo.log options instead: log_file or log_dir, use_json, use_syslog, use_journal, debug.", ue.Where)
	case errors.As(err, &ve):
		return exit(exitError, "ERROR: invalid %s (from %s): %v.", ve.Option, ve.Where, ve.Err)
	case errors.As(err, &pe):
		return exit(exitError, "ERROR: cannot open the log file %s: %v. Check that its directory exists and is writable, or set log_file/log_dir (--log-file, --log-dir) to another place.", pe.Path, pe.Err)
	}
	return exit(exitError, "ERROR: cannot set up logging: %v", err)
}

// logLine writes a line of a.logf: on stderr unless the options send
// records elsewhere only, and to the log as a record. name, when not "",
// is the record's logger in place of the line's. skip counts the callers
// between the line's origin and logLine.
func (a *app) logLine(line, name string, skip int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.quietStderr {
		fmt.Fprintln(a.errw, line)
	}
	a.record(line, name, skip+1, false)
}

// logOnly sends a line to the log only (progress while a bar is drawn).
func (a *app) logOnly(line string) { a.record(line, "", 1, false) }

// logging reports whether records go anywhere besides stderr.
func (a *app) logging() bool { return a.logh != nil }

func (a *app) record(line, name string, skip int, final bool) {
	if a.logh == nil {
		return
	}
	level, logger, msg := parseLogLine(line)
	if name != "" {
		logger = name
	}
	var pcs [1]uintptr
	runtime.Callers(skip+2, pcs[:])
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.AddAttrs(slog.String(oslog.LoggerKey, logger))
	if a.requestID != "" {
		r.AddAttrs(slog.String(oslog.RequestIDKey, a.requestID))
	}
	var h slog.Handler = a.logh
	if final {
		h = a.logh.WithoutStderr()
	}
	if h.Enabled(context.Background(), level) {
		_ = h.Handle(context.Background(), r)
	}
}

// finish prints the message a run ends with on stderr, always, records it
// in the log at ERROR, and closes the log.
func (a *app) finish(msg string) {
	if msg != "" {
		fmt.Fprintln(a.env.Stderr, msg)
		if !logLevelLine.MatchString(msg) && !logPrefixLine.MatchString(msg) {
			msg = "ERROR: " + msg
		}
		a.record(msg, "", 1, true)
	}
	if a.logh != nil {
		_ = a.logh.Close()
		a.logh = nil
	}
}

// purgeLog is db purge's log function: upstream logs its lines under
// glance.db.sqlalchemy.api with the request context of an admin context,
// so from here on the run's records carry a request id.
func (a *app) purgeLog() func(string) {
	a.requestID = newRequestID()
	return func(msg string) { a.logLine("INFO  ["+logName+"] "+msg, logPurge, 1) }
}

// newRequestID makes an id like oslo.context's: "req-" and a random UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("req-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
