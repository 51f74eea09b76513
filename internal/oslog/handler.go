package oslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Environment variables that point the syslog and journal destinations at
// other sockets. They are for tests, which listen on sockets of their own.
const (
	SyslogSocketEnv  = "GLANCE_MANAGE_TEST_SYSLOG_SOCKET"
	JournalSocketEnv = "GLANCE_MANAGE_TEST_JOURNAL_SOCKET"
)

// Env is what New needs besides the options.
type Env struct {
	// Program names the log file under log_dir (<Program>.log), the
	// syslog tag and the journal's SYSLOG_IDENTIFIER, as oslo.log uses
	// the program's file name: "glance-manage".
	Program string
	// Product is %(project)s: "glance", as glance-manage passes to
	// oslo.log.
	Product string
	// Stderr receives JSON records when use_json and StderrLogs are
	// both true, and warnings about destinations that cannot be reached.
	Stderr io.Writer
	// Getenv reads SyslogSocketEnv and JournalSocketEnv; nil: os.Getenv.
	Getenv func(string) string
}

// Handler is an slog.Handler that writes records where oslo.log's options
// say, in oslo.log's formats: the log file (log_file, log_dir), syslog
// (use_syslog), the journal (use_journal) and, in JSON, stderr (use_json
// and StderrLogs). Records carry the logger's name under LoggerKey and,
// optionally, a request id under RequestIDKey. Writing never fails a
// record: a destination that cannot be written is reported once on
// Env.Stderr and skipped. Handler is safe for concurrent use.
type Handler struct {
	sh       *shared
	attrs    []slog.Attr
	group    string
	noStderr bool
}

// shared is what the Handlers made by WithAttrs and WithGroup share.
type shared struct {
	opts         Options
	env          Env
	pid          int
	hostname     jsonValue
	userIdentity string
	defaultF     *pyFormat // logging_default_format_string
	contextF     *pyFormat // logging_context_format_string
	defaultDebug *pyFormat // the same with logging_debug_format_suffix
	contextDebug *pyFormat
	rules        []levelRule
	minLevel     int // the lowest Python level any logger lets through

	mu     sync.Mutex
	dests  []destination
	warned map[string]bool
}

// destination is one place records go.
type destination interface {
	// write sends one formatted record.
	write(r *record, line string) error
	// describe names the destination in warnings.
	describe() string
	close() error
}

// New checks the options and opens the destinations they name. It
// returns *UnsupportedError for log_config_append and use_eventlog,
// *ValueError for a bad syslog facility or default_log_levels entry, and
// the error of opening the log file (a *os.PathError). Syslog and journal
// sockets that are absent are no error: they are reported on Env.Stderr
// and left out, as no record could reach them.
func New(o Options, env Env) (*Handler, error) {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if o.Sources == nil {
		o.Sources = map[string]string{}
	}
	if o.LogConfigAppend != "" {
		return nil, &UnsupportedError{Option: "log_config_append", Where: o.Sources["log_config_append"]}
	}
	if o.UseEventlog {
		return nil, &UnsupportedError{Option: "use_eventlog", Where: o.Sources["use_eventlog"]}
	}
	sh := &shared{opts: o, env: env, pid: os.Getpid(), hostname: jsonValue{raw: "null"}, warned: map[string]bool{}}
	if hn, err := os.Hostname(); err == nil {
		sh.hostname = jsonString(hn)
	}
	sh.defaultF = parsePyFormat(o.DefaultFormat)
	sh.contextF = parsePyFormat(o.ContextFormat)
	suffix := ""
	if o.DebugSuffix != "" {
		suffix = " " + o.DebugSuffix
	}
	sh.defaultDebug = parsePyFormat(o.DefaultFormat + suffix)
	sh.contextDebug = parsePyFormat(o.ContextFormat + suffix)
	// The admin context's user identity: every field None, so "-".
	sh.userIdentity = parsePyFormat(o.UserIdentityFormat).format(func(string) (pyValue, bool) { return pyStr("-"), true })

	root := 20
	if o.Debug {
		root = 10
	}
	rules, err := parseLevels(o.DefaultLogLevels)
	if err != nil {
		return nil, &ValueError{Option: "default_log_levels", Where: o.Sources["default_log_levels"], Err: err}
	}
	sh.rules = rules
	sh.minLevel = root
	for _, r := range rules {
		sh.minLevel = min(sh.minLevel, r.level)
	}

	var facility int
	if o.UseSyslog || o.UseJournal {
		if facility, err = Facility(o.SyslogFacility); err != nil {
			return nil, &ValueError{Option: "syslog_log_facility", Where: o.Sources["syslog_log_facility"], Err: err}
		}
	}
	if path := o.LogPath(env.Program); path != "" {
		f, err := openLogFile(path)
		if err != nil {
			return nil, err
		}
		sh.dests = append(sh.dests, f)
	}
	if o.UseJSON && o.StderrLogs(env.Program) {
		sh.dests = append(sh.dests, &streamDest{w: env.Stderr})
	}
	if o.UseJournal {
		addr := journalSocket
		if s := env.Getenv(JournalSocketEnv); s != "" {
			addr = s
		}
		j, err := openJournal(addr, env.Program, facility)
		if err != nil {
			fmt.Fprintf(env.Stderr, "WARNING: use_journal is set but the journal cannot be reached at %s (%v); log records do not go to the journal.\n", addr, describeErr(err))
		} else {
			sh.dests = append(sh.dests, j)
		}
	}
	if o.UseSyslog {
		addr := syslogSocket
		if s := env.Getenv(SyslogSocketEnv); s != "" {
			addr = s
		}
		s, err := openSyslog(addr, env.Program, facility)
		if err != nil {
			fmt.Fprintf(env.Stderr, "WARNING: use_syslog is set but no syslog daemon listens on %s (%v); log records do not go to syslog.\n", addr, describeErr(err))
		} else {
			sh.dests = append(sh.dests, s)
		}
	}
	return &Handler{sh: sh}, nil
}

// describeErr gives an I/O error's cause without repeating its path.
func describeErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// Active reports whether any record goes anywhere: false when the options
// name no log file, syslog, journal or JSON stderr (the program then
// writes its own stderr lines, as without this package).
func (h *Handler) Active() bool {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	return len(h.sh.dests) > 0
}

// Path is the log file written, "" for none.
func (h *Handler) Path() string { return h.sh.opts.LogPath(h.sh.env.Program) }

// Enabled reports whether some logger lets records of level through; the
// logger's own level (default_log_levels) is applied by Handle.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	n, _ := pyLevel(l)
	return n >= h.sh.minLevel
}

// Handle formats r and writes it to every destination.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	rec := newRecord(r, h.attrs)
	sh := h.sh
	if rec.levelno < levelFor(sh.rules, rec.name, sh.opts.Debug) {
		return nil
	}
	var line string
	if sh.opts.UseJSON {
		line = sh.formatJSON(rec)
	} else {
		line = sh.formatText(rec)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, d := range sh.dests {
		if _, ok := d.(*streamDest); ok && h.noStderr {
			continue
		}
		if err := d.write(rec, line); err != nil && !sh.warned[d.describe()] {
			sh.warned[d.describe()] = true
			fmt.Fprintf(sh.env.Stderr, "WARNING: cannot write to %s (%v); log records may be missing there.\n", d.describe(), describeErr(err))
		}
	}
	return nil
}

// formatText is the ContextFormatter's line.
func (sh *shared) formatText(r *record) string {
	f := sh.defaultF
	switch {
	case r.requestID != "" && r.levelno == 10:
		f = sh.contextDebug
	case r.requestID != "":
		f = sh.contextF
	case r.levelno == 10:
		f = sh.defaultDebug
	}
	return f.format(func(key string) (pyValue, bool) { return sh.value(r, key) })
}

// WithoutStderr returns a Handler that writes to every destination but
// stderr: for a record the program prints on stderr in its own words.
func (h *Handler) WithoutStderr() *Handler {
	h2 := *h
	h2.noStderr = true
	return &h2
}

// WithAttrs returns a Handler whose records carry attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), h.prefixed(attrs)...)
	return &h2
}

// WithGroup returns a Handler that prefixes the keys of further
// attributes with name and a dot.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func (h *Handler) prefixed(attrs []slog.Attr) []slog.Attr {
	if h.group == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: h.group + a.Key, Value: a.Value}
	}
	return out
}

// Close closes the log file and sockets.
func (h *Handler) Close() error {
	h.sh.mu.Lock()
	defer h.sh.mu.Unlock()
	var errs []error
	for _, d := range h.sh.dests {
		errs = append(errs, d.close())
	}
	h.sh.dests = nil
	return errors.Join(errs...)
}

// levelRule is one default_log_levels pair: a logger and its level.
type levelRule struct {
	logger string
	level  int
}

// pythonLevels are the names Python's Logger.setLevel takes.
var pythonLevels = map[string]int{"CRITICAL": 50, "FATAL": 50, "ERROR": 40, "WARN": 30, "WARNING": 30, "INFO": 20, "DEBUG": 10, "NOTSET": 0}

// parseLevels reads default_log_levels: "logger=LEVEL", LEVEL a name or
// a number. A logger set to NOTSET takes its parent's level, as in
// Python.
func parseLevels(pairs []string) ([]levelRule, error) {
	var rules []levelRule
	for _, p := range pairs {
		name, lvl, _ := strings.Cut(p, "=")
		name, lvl = strings.TrimSpace(name), strings.TrimSpace(lvl)
		n, err := strconv.Atoi(lvl)
		if err != nil {
			var ok bool
			if n, ok = pythonLevels[strings.ToUpper(lvl)]; !ok {
				return nil, fmt.Errorf("unknown level %q for logger %q", lvl, name)
			}
		}
		if n == 0 {
			continue
		}
		rules = append(rules, levelRule{logger: name, level: n})
	}
	return rules, nil
}

// levelFor is the effective level of logger name: that of the closest
// ancestor (or itself) in rules, else the root's (DEBUG with debug, INFO
// otherwise).
func levelFor(rules []levelRule, name string, debug bool) int {
	best, level := -1, 20
	if debug {
		level = 10
	}
	for _, r := range rules {
		if (name == r.logger || strings.HasPrefix(name, r.logger+".")) && len(r.logger) > best {
			best, level = len(r.logger), r.level
		}
	}
	return level
}

// Facility reads syslog_log_facility as oslo.log does ("LOG_USER",
// "user", "local0", case-insensitive) and returns its code (facility
// number times 8, as Python's syslog module has it).
func Facility(name string) (int, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "LOG_") {
		n = "LOG_" + n
	}
	for _, f := range facilities {
		if f.name == n {
			return f.code << 3, nil
		}
	}
	names := make([]string, len(facilities))
	for i, f := range facilities {
		names[i] = "'" + f.name + "'"
	}
	return 0, fmt.Errorf("syslog facility must be one of: %s", strings.Join(names, ", "))
}

// facilities are the ones oslo.log accepts, with glibc's numbers.
var facilities = []struct {
	name string
	code int
}{
	{"LOG_KERN", 0}, {"LOG_USER", 1}, {"LOG_MAIL", 2}, {"LOG_DAEMON", 3}, {"LOG_AUTH", 4},
	{"LOG_SYSLOG", 5}, {"LOG_LPR", 6}, {"LOG_NEWS", 7}, {"LOG_UUCP", 8}, {"LOG_CRON", 9},
	{"LOG_AUTHPRIV", 10}, {"LOG_FTP", 11},
	{"LOG_LOCAL0", 16}, {"LOG_LOCAL1", 17}, {"LOG_LOCAL2", 18}, {"LOG_LOCAL3", 19},
	{"LOG_LOCAL4", 20}, {"LOG_LOCAL5", 21}, {"LOG_LOCAL6", 22}, {"LOG_LOCAL7", 23},
}

// streamDest writes JSON records to stderr.
type streamDest struct{ w io.Writer }

func (s *streamDest) write(_ *record, line string) error {
	_, err := io.WriteString(s.w, line+"\n")
	return err
}
func (s *streamDest) describe() string { return "stderr" }
func (s *streamDest) close() error     { return nil }
