package oslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLogPath(t *testing.T) {
	for _, c := range []struct {
		file, dir, want string
	}{
		{"", "", ""},
		{"/var/log/glance/manage.log", "", "/var/log/glance/manage.log"},
		{"manage.log", "", "manage.log"},
		{"manage.log", "/var/log/glance", "/var/log/glance/manage.log"},
		{"sub/manage.log", "/var/log/glance", "/var/log/glance/sub/manage.log"},
		// os.path.join keeps an absolute second part.
		{"/tmp/manage.log", "/var/log/glance", "/tmp/manage.log"},
		{"", "/var/log/glance", "/var/log/glance/glance-manage.log"},
	} {
		o := Defaults()
		o.LogFile, o.LogDir = c.file, c.dir
		if got := o.LogPath("glance-manage"); got != c.want {
			t.Errorf("log_file %q log_dir %q: %q, want %q", c.file, c.dir, got, c.want)
		}
	}
}

// mapLookup is a Lookup over a map, naming where as given.
func mapLookup(where string, m map[string]string) Lookup {
	return func(name string) (string, string, bool) {
		v, ok := m[name]
		return v, where + " " + name, ok
	}
}

func TestResolvePrecedenceAndNames(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	cl := RegisterFlags(fs)
	if err := fs.Parse([]string{"--log-file", "/cli.log", "--use-json", "--nouse-json", "--use-syslog", "-d", "--syslog-log-facility=local3"}); err != nil {
		t.Fatal(err)
	}
	conf := mapLookup("file", map[string]string{
		"log_file": "/file.log", "logdir": "/deprecated-dir", "use_json": "true", "use_syslog": "false",
		"use_stderr": "False", "log_date_format": "%d/%m", "default_log_levels": "a=WARN, b.c=DEBUG,,",
		"logging_default_format_string": "%(message)s", "verbose": "true", "log_rotation_type": "size",
	})
	o, err := Resolve(cl.Lookup, conf)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"log_file from the command line", o.LogFile, "/cli.log"},
		{"log_dir by its deprecated name", o.LogDir, "/deprecated-dir"},
		{"--nouse-json after --use-json", o.UseJSON, false},
		{"--use-syslog over the file", o.UseSyslog, true},
		{"-d", o.Debug, true},
		{"use_stderr from the file", o.UseStderr, false},
		{"facility", o.SyslogFacility, "local3"},
		{"date format", o.DateFormat, "%d/%m"},
		{"levels", strings.Join(o.DefaultLogLevels, "|"), "a=WARN|b.c=DEBUG"},
		{"default format", o.DefaultFormat, "%(message)s"},
		{"context format keeps its default", o.ContextFormat, DefaultContextFormat},
		{"source of log_file", o.Sources["log_file"], "--log-file"},
		{"source of log_dir", o.Sources["log_dir"], "file logdir"},
		{"source of use_json", o.Sources["use_json"], "--nouse-json"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}

	// Defaults: glance-manage's use_stderr, oslo's others.
	d, err := Resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.UseStderr || d.Debug || d.UseJSON || d.DateFormat != "%Y-%m-%d %H:%M:%S" || d.SyslogFacility != "LOG_USER" || len(d.DefaultLogLevels) != len(DefaultLogLevels) {
		t.Errorf("defaults: %+v", d)
	}

	// A bad boolean names the option and where it came from.
	_, err = Resolve(nil, mapLookup("environment", map[string]string{"use_journal": "maybe"}))
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Option != "use_journal" || ve.Where != "environment use_journal" {
		t.Errorf("bad boolean: %v", err)
	}
}

func TestStrftimeAsGlibc(t *testing.T) {
	// Expected strings are what Python's time.strftime printed on glibc
	// for this time.
	tm := time.Date(2026, 3, 7, 5, 4, 9, 123456789, time.UTC)
	for _, c := range []struct{ f, want string }{
		{DefaultDateFormat, "2026-03-07 05:04:09"},
		{"%a %A %b %B %c", "Sat Saturday Mar March Sat Mar  7 05:04:09 2026"},
		{"%d %e %j %I %l %p %M %S", "07  7 066 05  5 AM 04 09"},
		{"%y %C %G %g %V %U %W %u %w", "26 20 2026 26 10 09 09 6 6"},
		{"%x %X %D %F %T %R %r", "03/07/26 05:04:09 03/07/26 2026-03-07 05:04:09 05:04 05:04:09 AM"},
		{"%z %Z %%", "+0000 UTC %"},
		{"%k %h %n|%t|", " 5 Mar \n|\t|"},
		{"%s", "1772859849"},
		{"%-d %Od %P", "7 07 am"},
		// glibc knows no %f, %q, %E, %L, %N, %Q: they stay as written.
		{"%f %q %E %L %N %Q", "%f %q %E %L %N %Q"},
		{"%d/%b/%Y %I:%M:%S %p %j %a %%", "07/Mar/2026 05:04:09 AM 066 Sat %"},
		{"trailing %", "trailing %"},
	} {
		if got := pyStrftime(c.f, tm); got != c.want {
			t.Errorf("%q: %q, want %q", c.f, got, c.want)
		}
	}
}

func TestPyFormat(t *testing.T) {
	vals := map[string]pyValue{
		"name": pyStr("alembic.runtime.migration"), "levelname": pyStr("WARNING"),
		"msecs": pyFloat(7), "lineno": pyInt(42), "created": pyFloat(1796162227.9897623),
		"none": pyNone, "neg": pyInt(-5), "accent": pyStr("ééé"),
	}
	get := func(k string) (pyValue, bool) { v, ok := vals[k]; return v, ok }
	for _, c := range []struct{ f, want string }{
		{"%(msecs)03d", "007"},
		{"%(levelname)-5.5s|", "WARNI|"},
		{"%(levelname)8s|", " WARNING|"},
		{"%(accent)-6s|", "ééé   |"},
		{"%(levelname)-8s|", "WARNING |"},
		{"%(lineno)5d|%(lineno)-4d|", "   42|42  |"},
		{"%(created)f %(created).3f %(created)s", "1796162227.989762 1796162227.990 1796162227.9897623"},
		{"%(msecs)s %(msecs)d", "7.0 7"},
		{"%(name)r", "'alembic.runtime.migration'"},
		{"%(none)s", "None"},
		{"%(neg)05d %(lineno)+d %(lineno)x %(lineno)#o", "-0005 +42 2a 0o52"},
		{"100%% %(unknown)s [%(unknown)d]", "100% - [-]"},
		{"%s %(name %(", "%s %(name %("},
		{"%(name)", "%(name)"},
	} {
		if got := parsePyFormat(c.f).format(get); got != c.want {
			t.Errorf("%q: %q, want %q", c.f, got, c.want)
		}
	}
}

// newTest makes a Handler writing to a log file in a temporary directory.
func newTest(t *testing.T, o Options) (*Handler, string, *bytes.Buffer) {
	t.Helper()
	if o.LogFile == "" && o.LogDir == "" {
		o.LogFile = filepath.Join(t.TempDir(), "glance-manage.log")
	}
	var stderr bytes.Buffer
	h, err := New(o, Env{Program: "glance-manage", Product: "glance", Stderr: &stderr, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, o.LogPath("glance-manage"), &stderr
}

// logAt sends one record as the CLI does: logger name, optional request
// id, the caller's PC.
func logAt(t *testing.T, h slog.Handler, level slog.Level, logger, reqID, msg string) {
	t.Helper()
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.AddAttrs(slog.String(LoggerKey, logger))
	if reqID != "" {
		r.AddAttrs(slog.String(RequestIDKey, reqID))
	}
	if h.Enabled(context.Background(), level) {
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestTextRecords(t *testing.T) {
	o := Defaults()
	o.Debug = true
	h, path, _ := newTest(t, o)
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "message one")
	logAt(t, h, slog.LevelWarn, "alembic.runtime.migration", "", "Running upgrade a -> b")
	logAt(t, h, slog.LevelInfo, "glance.db.sqlalchemy.api", "req-1b4e28ba-2fa1-11d2-883f-0016d3cca427", "Purging deleted rows")
	logAt(t, h, slog.LevelDebug, "glance-manage", "", "SELECT 1")
	logAt(t, h, slog.LevelError, "glance-manage", "", "two\nlines")
	lines := readLines(t, path)
	pid := strconv.Itoa(os.Getpid())
	stamp := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ` + pid + ` `
	want := []string{
		`^` + stamp + `INFO glance-manage \[-\] message one$`,
		`^` + stamp + `WARNING alembic\.runtime\.migration \[-\] Running upgrade a -> b$`,
		`^` + stamp + `INFO glance\.db\.sqlalchemy\.api \[None req-1b4e28ba-2fa1-11d2-883f-0016d3cca427 - - - - - -\] Purging deleted rows$`,
		// The debug suffix: function, file and line of the caller.
		`^` + stamp + `DEBUG glance-manage \[-\] SELECT 1 TestTextRecords .*oslog_test\.go:\d+$`,
		`^` + stamp + `ERROR glance-manage \[-\] two$`,
		`^lines$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, lines[i], w)
		}
	}
}

func TestDateFormatAndCustomFormats(t *testing.T) {
	o := Defaults()
	o.DateFormat = "%d/%b/%Y:%H"
	o.DefaultFormat = "%(asctime)s %(levelname)-7s %(name)s: %(message)s (%(project)s %(unknown)s)"
	o.ContextFormat = "%(asctime)s [%(request_id)s %(user_identity)s %(global_request_id)s] %(message)s"
	o.UserIdentityFormat = "%(user)s/%(project)s"
	h, path, _ := newTest(t, o)
	before := time.Now()
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "plain")
	logAt(t, h, slog.LevelInfo, "glance-manage", "req-x", "in context")
	lines := readLines(t, path)
	day := before.Format("02/Jan/2006:15")
	if want := day + " INFO    glance-manage: plain (glance -)"; lines[0] != want {
		t.Errorf("default format: %q, want %q", lines[0], want)
	}
	if want := day + " [req-x -/- None] in context"; lines[1] != want {
		t.Errorf("context format: %q, want %q", lines[1], want)
	}
}

// jsonKeys are oslo.log's JSONFormatter keys, in its order.
var jsonKeys = []string{"message", "asctime", "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "lineno", "funcname", "created", "msecs", "relative_created", "thread", "thread_name", "process_name", "process", "traceback", "hostname", "error_summary", "context", "extra"}

// orderedKeys lists the keys of a JSON object in their order.
func orderedKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %q", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestJSONRecords(t *testing.T) {
	o := Defaults()
	o.UseJSON = true
	h, path, _ := newTest(t, o)
	start := time.Now()
	logAt(t, h, slog.LevelWarn, "glance-manage", "", "Kept 2 row(s) of images: é ✓ \"quoted\" <tag> 😀")
	logAt(t, h.WithAttrs([]slog.Attr{slog.Int("batch", 3)}), slog.LevelInfo, "glance.db.sqlalchemy.api", "req-abc", "Deleted 0 row(s) from table tasks")
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		if got := strings.Join(orderedKeys(t, l), ","); got != strings.Join(jsonKeys, ",") {
			t.Errorf("record %d keys:\n%s\nwant\n%s", i+1, got, strings.Join(jsonKeys, ","))
		}
	}
	// Python's json.dumps: ", " and ": ", ASCII only.
	if !strings.HasPrefix(lines[0], `{"message": "Kept 2 row(s) of images: \u00e9 \u2713 \"quoted\" <tag> \ud83d\ude00", "asctime": "`) {
		t.Errorf("encoding: %s", lines[0])
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	created := rec["created"].(float64)
	for k, want := range map[string]any{
		"message": "Kept 2 row(s) of images: é ✓ \"quoted\" <tag> 😀", "name": "glance-manage", "levelname": "WARNING",
		"levelno": 30.0, "filename": "oslog_test.go", "module": "oslog_test", "funcname": "TestJSONRecords",
		"thread_name": "MainThread", "process_name": "MainProcess", "process": float64(os.Getpid()),
		"traceback": nil, "hostname": host, "error_summary": "", "msg": rec["message"],
	} {
		if rec[k] != want {
			t.Errorf("%s: %#v, want %#v", k, rec[k], want)
		}
	}
	if created < float64(start.Unix())-1 || created > float64(time.Now().Unix())+1 {
		t.Errorf("created %v", created)
	}
	if ms := rec["msecs"].(float64); ms != float64(int(ms)) || ms < 0 || ms >= 1000 {
		t.Errorf("msecs %v", ms)
	}
	if !regexp.MustCompile(`"msecs": \d+\.0, `).MatchString(lines[0]) {
		t.Errorf("msecs is not written as a Python float: %s", lines[0])
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(rec["asctime"].(string)) {
		t.Errorf("asctime %q", rec["asctime"])
	}
	if args, ok := rec["args"].([]any); !ok || len(args) != 0 {
		t.Errorf("args %#v", rec["args"])
	}
	if c, ok := rec["context"].(map[string]any); !ok || len(c) != 0 {
		t.Errorf("context without a request: %#v", rec["context"])
	}

	// With a request id: oslo.context's admin context, and extra attributes.
	var rec2 map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec2); err != nil {
		t.Fatal(err)
	}
	ctx := rec2["context"].(map[string]any)
	if ctx["request_id"] != "req-abc" || ctx["is_admin"] != true || ctx["user_identity"] != "- - - - -" || ctx["global_request_id"] != nil {
		t.Errorf("context %#v", ctx)
	}
	if extra := rec2["extra"].(map[string]any); extra["batch"] != 3.0 || len(extra) != 1 {
		t.Errorf("extra %#v", extra)
	}
}

func TestLevels(t *testing.T) {
	o := Defaults()
	o.DefaultLogLevels = []string{"glance=WARN", "glance.db.sqlalchemy.metadata=INFO", "alembic=40", "x=NOTSET"}
	h, path, _ := newTest(t, o)
	logAt(t, h, slog.LevelDebug, "glance-manage", "", "debug: dropped without debug")
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "kept: glance-manage is not a child of glance")
	logAt(t, h, slog.LevelInfo, "glance.db.sqlalchemy.api", "", "dropped by glance=WARN")
	logAt(t, h, slog.LevelWarn, "glance.db.sqlalchemy.api", "", "kept: a warning")
	logAt(t, h, slog.LevelInfo, "glance.db.sqlalchemy.metadata", "", "kept: the closer rule")
	logAt(t, h, slog.LevelWarn, "alembic.runtime.migration", "", "dropped by alembic=40")
	logAt(t, h, slog.LevelInfo, "x.y", "", "kept: NOTSET inherits the root's")
	var got []string
	for _, l := range readLines(t, path) {
		got = append(got, l[strings.Index(l, "] ")+2:])
	}
	want := []string{"kept: glance-manage is not a child of glance", "kept: a warning", "kept: the closer rule", "kept: NOTSET inherits the root's"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	o.DefaultLogLevels = []string{"glance=LOUD"}
	o.Sources = map[string]string{"default_log_levels": "glance-api.conf"}
	_, err := New(o, Env{Program: "glance-manage"})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Option != "default_log_levels" || !strings.Contains(err.Error(), `"LOUD"`) {
		t.Errorf("bad level: %v", err)
	}
}

func TestRefusedOptions(t *testing.T) {
	o := Defaults()
	o.LogConfigAppend = "/etc/glance/logging.conf"
	o.Sources["log_config_append"] = "--log-config-append"
	_, err := New(o, Env{Program: "glance-manage"})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Option != "log_config_append" || ue.Where != "--log-config-append" || !errors.Is(err, ErrUnsupported) {
		t.Errorf("log_config_append: %v", err)
	}
	o = Defaults()
	o.UseEventlog = true
	if _, err := New(o, Env{Program: "glance-manage"}); !errors.As(err, &ue) || ue.Option != "use_eventlog" {
		t.Errorf("use_eventlog: %v", err)
	}
	o = Defaults()
	o.UseSyslog, o.SyslogFacility = true, "LOG_NOPE"
	var ve *ValueError
	if _, err := New(o, Env{Program: "glance-manage"}); !errors.As(err, &ve) || !strings.Contains(err.Error(), "'LOG_LOCAL7'") {
		t.Errorf("facility: %v", err)
	}
	o = Defaults()
	o.LogFile = filepath.Join(t.TempDir(), "missing-dir", "x.log")
	var pe *os.PathError
	if _, err := New(o, Env{Program: "glance-manage"}); !errors.As(err, &pe) {
		t.Errorf("log file in a missing directory: %v", err)
	}
}

func TestFacilities(t *testing.T) {
	for name, want := range map[string]int{"LOG_USER": 8, "user": 8, "local3": 152, "LOG_local7": 184, "daemon": 24, "LOG_KERN": 0} {
		if got, err := Facility(name); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", name, got, err, want)
		}
	}
}

// TestFileReopened: as Python's WatchedFileHandler, a log file moved away
// (logrotate) or removed is created again at the next record.
func TestFileReopened(t *testing.T) {
	h, path, _ := newTest(t, Defaults())
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "first")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "second")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "third")
	for file, want := range map[string]string{path + ".1": "first", path: "third"} {
		lines := readLines(t, file)
		if len(lines) != 1 || !strings.HasSuffix(lines[0], "] "+want) {
			t.Errorf("%s: %q, want one line ending in %q", filepath.Base(file), lines, want)
		}
	}
}

// TestStderrJSON: with use_json, records on stderr are JSON too, and
// WithoutStderr leaves stderr out.
func TestStderrJSON(t *testing.T) {
	o := Defaults()
	o.UseJSON = true
	var stderr bytes.Buffer
	h, err := New(o, Env{Program: "glance-manage", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.Active() || !o.StderrLogs("glance-manage") {
		t.Fatal("JSON on stderr is a destination")
	}
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "to stderr")
	logAt(t, h.WithoutStderr(), slog.LevelError, "glance-manage", "", "not to stderr")
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], `{"message": "to stderr", `) {
		t.Errorf("stderr: %q", stderr.String())
	}

	// Without JSON, a log file or other destination there is nothing to do.
	h2, err := New(Defaults(), Env{Program: "glance-manage", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if h2.Active() {
		t.Error("defaults: active")
	}
	// use_stderr false with a log file: stderr gets no records; with
	// nothing else to go to, stderr still does.
	o = Defaults()
	o.UseStderr = false
	if !o.StderrLogs("glance-manage") {
		t.Error("no destination but stderr: stderr must keep the records")
	}
	o.LogFile = "x.log"
	if o.StderrLogs("glance-manage") {
		t.Error("use_stderr false with a log file: records on stderr")
	}
	o.LogFile, o.UseJournal = "", true
	if o.StderrLogs("glance-manage") {
		t.Error("use_stderr false with the journal: records on stderr")
	}
}
