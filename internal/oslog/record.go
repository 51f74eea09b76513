package oslog

import (
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Attribute keys with a meaning for the handler; other attributes go to
// the JSON record's "extra".
const (
	// LoggerKey names the logger (Python's %(name)s): "alembic.runtime.migration",
	// "glance.db.sqlalchemy.api", "glance-manage".
	LoggerKey = "logger"
	// RequestIDKey gives the record a request context, as oslo.context's
	// RequestContext does: text lines then use
	// logging_context_format_string, JSON records carry "context".
	RequestIDKey = "request_id"
)

// LevelCritical is Python's CRITICAL; slog's levels map to Python's as
// Debug: DEBUG, Info: INFO, Warn: WARNING, Error: ERROR.
const LevelCritical = slog.LevelError + 4

// pyLevel maps a slog level to Python's levelno and levelname.
func pyLevel(l slog.Level) (int, string) {
	switch {
	case l < slog.LevelInfo:
		return 10, "DEBUG"
	case l < slog.LevelWarn:
		return 20, "INFO"
	case l < slog.LevelError:
		return 30, "WARNING"
	case l < LevelCritical:
		return 40, "ERROR"
	}
	return 50, "CRITICAL"
}

// syslogSeverity is oslo.log's SYSLOG_MAP.
func syslogSeverity(levelname string) int {
	switch levelname {
	case "CRITICAL":
		return 2
	case "ERROR":
		return 3
	case "WARNING":
		return 4
	case "INFO":
		return 6
	}
	return 7
}

// processStart stands for the time Python's logging module was loaded
// (relativeCreated counts from it).
var processStart = time.Now()

// record is a slog.Record with the attributes of a Python LogRecord.
type record struct {
	t         time.Time
	levelno   int
	levelname string
	name      string
	message   string
	requestID string
	pathname  string
	funcName  string
	lineno    int
	extra     []slog.Attr
}

func newRecord(r slog.Record, attrs []slog.Attr) *record {
	rec := &record{t: r.Time, name: "root", message: r.Message}
	if rec.t.IsZero() {
		rec.t = time.Now()
	}
	rec.levelno, rec.levelname = pyLevel(r.Level)
	take := func(a slog.Attr) bool {
		switch a.Key {
		case LoggerKey:
			rec.name = a.Value.String()
		case RequestIDKey:
			rec.requestID = a.Value.String()
		default:
			if !a.Equal(slog.Attr{}) {
				rec.extra = append(rec.extra, a)
			}
		}
		return true
	}
	for _, a := range attrs {
		take(a)
	}
	r.Attrs(take)
	if r.PC != 0 {
		fr, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		rec.pathname, rec.lineno = fr.File, fr.Line
		rec.funcName = shortFunc(fr.Function)
	}
	return rec
}

// shortFunc is the function's own name, as Python's funcName:
// "(*app).logf" for "github.com/x/y/internal/cli.(*app).logf".
func shortFunc(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		full = full[i+1:]
	}
	if i := strings.IndexByte(full, '.'); i >= 0 {
		full = full[i+1:]
	}
	return full
}

func (r *record) filename() string {
	if r.pathname == "" {
		return ""
	}
	return filepath.Base(r.pathname)
}

func (r *record) module() string {
	return strings.TrimSuffix(r.filename(), filepath.Ext(r.filename()))
}

func (r *record) created() float64 { return float64(r.t.UnixNano()) / 1e9 }

// msecs is Python 3.11's: the whole milliseconds of created, as a float.
func (r *record) msecs() float64 { return float64(r.t.Nanosecond() / 1e6) }

func (r *record) relativeCreated() float64 {
	return float64(r.t.Sub(processStart).Nanoseconds()) / 1e6
}

// isotime is oslo.log's %(isotime)s: local time in ISO 8601 with
// microseconds and the UTC offset.
func (r *record) isotime() string {
	return r.t.Format("2006-01-02T15:04:05.000000-07:00")
}

// contextValues is oslo.context's RequestContext.get_logging_values() of
// the admin context upstream's glance-manage creates (for db purge), in
// its order: everything empty but the request id and the admin flags.
func (r *record) contextValues() []kv {
	none := jsonValue{raw: "null"}
	return []kv{
		{"user_name", none}, {"project_name", none}, {"domain_name", none},
		{"user_domain_name", none}, {"project_domain_name", none},
		{"user", none}, {"project_id", none}, {"system_scope", none},
		{"project", none}, {"domain", none}, {"user_domain", none}, {"project_domain", none},
		{"is_admin", jsonValue{raw: "true"}}, {"read_only", jsonValue{raw: "false"}},
		{"show_deleted", jsonValue{raw: "true"}}, {"auth_token", none},
		{"request_id", jsonString(r.requestID)}, {"global_request_id", none},
		{"resource_uuid", none}, {"roles", jsonValue{raw: "[]"}},
		{"user_identity", jsonString("- - - - -")},
		{"is_admin_project", jsonValue{raw: "true"}}, {"service_catalog", none},
	}
}

// value is the record attribute key for %-formats, as oslo.log's
// ContextFormatter prepares the Python record.
func (h *shared) value(r *record, key string) (pyValue, bool) {
	if r.requestID != "" {
		// The context's values are copied onto the record; all of them
		// are None but these.
		switch key {
		case "request_id":
			return pyStr(r.requestID), true
		case "is_admin", "show_deleted", "is_admin_project":
			return pyStr("True"), true
		case "read_only":
			return pyStr("False"), true
		case "roles":
			return pyStr("[]"), true
		case "user_identity":
			return pyStr(h.userIdentity), true
		case "global_request_id", "user_name", "project_name", "domain_name", "user_domain_name",
			"project_domain_name", "user", "project_id", "system_scope", "project", "domain",
			"user_domain", "project_domain", "auth_token", "resource_uuid", "service_catalog":
			return pyNone, true
		}
	}
	switch key {
	case "asctime":
		return pyStr(pyStrftime(h.opts.DateFormat, r.t)), true
	case "msecs":
		return pyFloat(r.msecs()), true
	case "created":
		return pyFloat(r.created()), true
	case "relativeCreated":
		return pyFloat(r.relativeCreated()), true
	case "process":
		return pyInt(int64(h.pid)), true
	case "processName":
		return pyStr("MainProcess"), true
	case "thread":
		return pyInt(int64(threadID())), true
	case "threadName":
		return pyStr("MainThread"), true
	case "levelname":
		return pyStr(r.levelname), true
	case "levelno":
		return pyInt(int64(r.levelno)), true
	case "name":
		return pyStr(r.name), true
	case "message", "msg":
		return pyStr(r.message), true
	case "args":
		return pyStr("()"), true
	case "pathname":
		return pyStr(r.pathname), true
	case "filename":
		return pyStr(r.filename()), true
	case "module":
		return pyStr(r.module()), true
	case "lineno":
		return pyInt(int64(r.lineno)), true
	case "funcName":
		return pyStr(r.funcName), true
	case "isotime":
		return pyStr(r.isotime()), true
	case "project":
		return pyStr(h.env.Product), true
	case "version":
		return pyStr("unknown"), true
	case "instance", "color", "user_identity", "resource", "user_name", "project_name", "global_request_id":
		return pyStr(""), true
	case "error_summary":
		// No exception is ever active: oslo.log writes "-" where the
		// format asks for the summary.
		return pyStr("-"), true
	case "exc_info", "exc_text", "stack_info":
		return pyNone, true
	}
	return pyValue{}, false
}
