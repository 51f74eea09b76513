package oslog

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Defaults of oslo.log's options, as in oslo_log/_options.py (oslo.log
// 5.x), except UseStderr: glance-manage sets use_stderr to true before
// parsing its configuration, and so does this tool.
const (
	DefaultDateFormat    = "%Y-%m-%d %H:%M:%S"
	DefaultFacility      = "LOG_USER"
	DefaultContextFormat = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s"
	DefaultFormat        = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s"
	DefaultDebugSuffix   = "%(funcName)s %(pathname)s:%(lineno)d"
	DefaultUserIdentity  = "%(user)s %(project)s %(domain)s %(system_scope)s %(user_domain)s %(project_domain)s"
)

// DefaultLogLevels is oslo.log's default for default_log_levels.
var DefaultLogLevels = []string{
	"amqp=WARN", "amqplib=WARN", "boto=WARN", "qpid=WARN", "sqlalchemy=WARN", "suds=INFO",
	"oslo.messaging=INFO", "oslo_messaging=INFO", "iso8601=WARN",
	"requests.packages.urllib3.connectionpool=WARN", "urllib3.connectionpool=WARN", "websocket=WARN",
	"requests.packages.urllib3.util.retry=WARN", "urllib3.util.retry=WARN",
	"keystonemiddleware=WARN", "routes.middleware=WARN", "stevedore=WARN", "taskflow=WARN",
	"keystoneauth=WARN", "oslo.cache=INFO", "oslo_policy=INFO", "dogpile.core.dogpile=INFO",
}

// Options are the oslo.log options this package acts on. Zero values are
// not oslo's defaults: start from Defaults() or use Resolve.
type Options struct {
	Debug bool
	// LogFile and LogDir: see LogPath.
	LogFile, LogDir string
	// LogConfigAppend names a Python logging configuration file. It is not
	// supported: New refuses a non-empty value with *UnsupportedError.
	LogConfigAppend string
	// DateFormat is log_date_format, a Python (C) strftime format for
	// %(asctime)s and the JSON "asctime".
	DateFormat string
	// WatchLogFile is accepted; the file is always reopened when it is
	// moved or removed (see New).
	WatchLogFile bool
	UseSyslog    bool
	UseJournal   bool
	UseJSON      bool
	UseStderr    bool
	// UseEventlog is Windows' event log: New refuses it, as oslo.log does
	// on other systems.
	UseEventlog bool
	// SyslogFacility is syslog_log_facility: "LOG_USER", "user",
	// "local0", ... (case-insensitive, "LOG_" optional).
	SyslogFacility string
	// The ContextFormatter's format strings (Python %-style, see
	// format.go).
	ContextFormat, DefaultFormat, DebugSuffix, UserIdentityFormat string
	// DefaultLogLevels are logger=LEVEL pairs.
	DefaultLogLevels []string

	// Where the values came from ("--log-file", "[DEFAULT] log_file in
	// /etc/glance/glance-api.conf"), by option name, for messages.
	Sources map[string]string
}

// Defaults returns oslo.log's defaults, with use_stderr true as
// glance-manage sets it.
func Defaults() Options {
	return Options{
		DateFormat:         DefaultDateFormat,
		UseStderr:          true,
		SyslogFacility:     DefaultFacility,
		ContextFormat:      DefaultContextFormat,
		DefaultFormat:      DefaultFormat,
		DebugSuffix:        DefaultDebugSuffix,
		UserIdentityFormat: DefaultUserIdentity,
		DefaultLogLevels:   append([]string(nil), DefaultLogLevels...),
		Sources:            map[string]string{},
	}
}

// LogPath is the file oslo.log writes to, "" for none: log_file alone;
// log_file joined to log_dir when both are set (an absolute log_file
// stays as it is, as Python's os.path.join does); with log_dir alone,
// <log_dir>/<program>.log.
func (o Options) LogPath(program string) string {
	switch {
	case o.LogFile != "" && o.LogDir == "":
		return o.LogFile
	case o.LogFile != "" && filepath.IsAbs(o.LogFile):
		return o.LogFile
	case o.LogFile != "":
		return filepath.Join(o.LogDir, o.LogFile)
	case o.LogDir != "":
		return filepath.Join(o.LogDir, program+".log")
	}
	return ""
}

// StderrLogs reports whether log records belong on stderr: use_stderr,
// or no other place to go (no log file, no journal). oslo.log sends
// records to stdout in that last case; this tool keeps stdout for what
// scripts parse and uses stderr.
func (o Options) StderrLogs(program string) bool {
	return o.UseStderr || (o.LogPath(program) == "" && !o.UseJournal)
}

// option describes one oslo.log option: its name in configuration files
// ([DEFAULT] section), its command-line flag ("" when oslo.log has none),
// deprecated names, and kind.
type option struct {
	name       string
	flag       string
	short      string
	deprecated []string // deprecated names, in files and (dashed) on the command line
	kind       kind
	help       string
	set        func(o *Options, v string) error
}

type kind int

const (
	kString kind = iota
	kBool
	kList
)

// options lists oslo.log's options (oslo_log/_options.py), in its order.
// Those without set are accepted and ignored; see the package
// documentation.
var options = []option{
	{name: "debug", flag: "debug", short: "d", kind: kBool, help: "log at DEBUG level instead of INFO, including each SQL statement", set: boolSetter(func(o *Options) *bool { return &o.Debug })},
	{name: "log_config_append", flag: "log-config-append", deprecated: []string{"log_config"}, kind: kString, help: "a Python logging configuration file: not supported (refused); use the options below", set: func(o *Options, v string) error { o.LogConfigAppend = v; return nil }},
	{name: "log_date_format", flag: "log-date-format", kind: kString, help: "strftime format of the time in log records (default \"" + DefaultDateFormat + "\")", set: func(o *Options, v string) error { o.DateFormat = v; return nil }},
	{name: "log_file", flag: "log-file", deprecated: []string{"logfile"}, kind: kString, help: "append log records to this file (relative to --log-dir when that is set)", set: func(o *Options, v string) error { o.LogFile = v; return nil }},
	{name: "log_dir", flag: "log-dir", deprecated: []string{"logdir"}, kind: kString, help: "directory of the log file; without --log-file the file is <dir>/glance-manage.log", set: func(o *Options, v string) error { o.LogDir = v; return nil }},
	{name: "watch_log_file", flag: "watch-log-file", kind: kBool, help: "accepted; the log file is always reopened when moved or removed", set: boolSetter(func(o *Options) *bool { return &o.WatchLogFile })},
	{name: "use_syslog", flag: "use-syslog", kind: kBool, help: "also send log records to syslog (/dev/log)", set: boolSetter(func(o *Options) *bool { return &o.UseSyslog })},
	{name: "use_journal", flag: "use-journal", kind: kBool, help: "also send log records to the systemd journal (native protocol)", set: boolSetter(func(o *Options) *bool { return &o.UseJournal })},
	{name: "syslog_log_facility", flag: "syslog-log-facility", kind: kString, help: "syslog facility of syslog and journal records (default LOG_USER)", set: func(o *Options, v string) error { o.SyslogFacility = v; return nil }},
	{name: "use_json", flag: "use-json", kind: kBool, help: "write log records as JSON, with oslo.log's keys", set: boolSetter(func(o *Options) *bool { return &o.UseJSON })},
	// generic_log_opts: configuration files only. use_eventlog has no
	// flag in oslo.log; this tool has long accepted --use-eventlog.
	{name: "use_stderr", kind: kBool, set: boolSetter(func(o *Options) *bool { return &o.UseStderr })},
	{name: "use_eventlog", flag: "use-eventlog", kind: kBool, help: "Windows' event log: refused on this system", set: boolSetter(func(o *Options) *bool { return &o.UseEventlog })},
	{name: "log_rotate_interval"},
	{name: "log_rotate_interval_type"},
	{name: "max_logfile_count"},
	{name: "max_logfile_size_mb"},
	{name: "log_rotation_type"},
	// log_opts.
	{name: "logging_context_format_string", kind: kString, set: func(o *Options, v string) error { o.ContextFormat = v; return nil }},
	{name: "logging_default_format_string", kind: kString, set: func(o *Options, v string) error { o.DefaultFormat = v; return nil }},
	{name: "logging_debug_format_suffix", kind: kString, set: func(o *Options, v string) error { o.DebugSuffix = v; return nil }},
	{name: "logging_exception_prefix"},
	{name: "logging_user_identity_format", kind: kString, set: func(o *Options, v string) error { o.UserIdentityFormat = v; return nil }},
	{name: "default_log_levels", kind: kList, set: func(o *Options, v string) error { o.DefaultLogLevels = splitList(v); return nil }},
	{name: "publish_errors"},
	{name: "instance_format"},
	{name: "instance_uuid_format"},
	{name: "rate_limit_interval"},
	{name: "rate_limit_burst"},
	{name: "rate_limit_except_level"},
}

func boolSetter(field func(*Options) *bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*field(o) = b
		return nil
	}
}

// parseBool reads a boolean as oslo.config's types.Boolean does.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("unexpected boolean value %q (use true or false)", v)
}

// splitList reads an oslo.config ListOpt: comma-separated, each item
// stripped, empty items dropped.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Lookup finds one option's value in a source: name is the option's name
// in configuration files (log_file). It returns the value, a description
// of where it was found for messages, and whether it was.
type Lookup func(name string) (value, where string, ok bool)

// ValueError reports an option whose value cannot be used.
type ValueError struct {
	Option string // log_file, use_json, ...
	Where  string // where the value came from
	Err    error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("oslog: invalid value for %s (from %s): %v", e.Option, e.Where, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// Resolve computes the options from the command line and the
// configuration (files and environment, as internal/config resolves
// them): the command line wins, as with oslo.config. Each lookup tries an
// option's name, then its deprecated names. Options oslo.log has but this
// package ignores are not looked up.
func Resolve(cli, conf Lookup) (Options, error) {
	o := Defaults()
	for _, opt := range options {
		if opt.set == nil {
			continue
		}
		v, where, ok := find(cli, opt)
		if !ok {
			v, where, ok = find(conf, opt)
		}
		if !ok {
			continue
		}
		if err := opt.set(&o, v); err != nil {
			return Options{}, &ValueError{Option: opt.name, Where: where, Err: err}
		}
		o.Sources[opt.name] = where
	}
	return o, nil
}

func find(l Lookup, opt option) (string, string, bool) {
	if l == nil {
		return "", "", false
	}
	for _, n := range append([]string{opt.name}, opt.deprecated...) {
		if v, where, ok := l(n); ok {
			return v, where, true
		}
	}
	return "", "", false
}

// ErrUnsupported is wrapped by *UnsupportedError.
var ErrUnsupported = errors.New("oslog: not supported")

// UnsupportedError reports an option this package refuses
// (log_config_append, use_eventlog).
type UnsupportedError struct {
	Option string
	Where  string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("oslog: %s (from %s) is not supported", e.Option, e.Where)
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
