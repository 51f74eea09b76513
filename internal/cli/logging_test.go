package cli_test

// Logging as oslo.log does (see internal/oslog): the log gets what a run
// prints on stderr, at the right level and logger, wherever the options
// (command line, environment, [DEFAULT] in the config files) say; stdout
// never changes, stderr only as use_stderr and use_json say.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/cli"
)

// logEnv runs the CLI with an environment of vars only (HOME an empty
// directory, so that no default config file is read).
type logEnv struct {
	t    *testing.T
	vars map[string]string
}

func newLogEnv(t *testing.T) *logEnv {
	dir := t.TempDir()
	return &logEnv{t: t, vars: map[string]string{
		"HOME":                    filepath.Join(dir, "home"),
		"OS_DATABASE__CONNECTION": "sqlite:///" + filepath.Join(dir, "glance.db"),
	}}
}

func (e *logEnv) run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return e.vars[k] }})
	return out.String(), errb.String(), code
}

func (e *logEnv) must(args ...string) (stdout, stderr string) {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
	return out, errs
}

// logLines reads a log file ("" lines when it does not exist).
func logLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) || len(b) == 0 {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// records joins the lines of multi-line records (a SQL statement): a
// line that does not start like a record continues the one before.
func records(lines []string, start *regexp.Regexp) []string {
	var out []string
	for _, l := range lines {
		if len(out) > 0 && !start.MatchString(l) {
			out[len(out)-1] += "\n" + l
			continue
		}
		out = append(out, l)
	}
	return out
}

var logPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ` + strconv.Itoa(os.Getpid()) + ` `)

// expectedRecord is the log line (after time and pid) for a stderr line:
// "INFO  [name] msg" is INFO of logger name, "WARNING: msg" and "ERROR:
// msg" are WARNING and ERROR of glance-manage, anything else INFO of
// glance-manage; ctx is the request-context part, "[-]" without one.
func expectedRecord(line string, rename map[string]string, ctx string) string {
	level, name, msg := "INFO", "glance-manage", line
	if m := regexp.MustCompile(`^(DEBUG|INFO|WARNING|ERROR) +\[(\S+)\] (.*)$`).FindStringSubmatch(line); m != nil {
		level, name, msg = m[1], m[2], m[3]
	} else if m := regexp.MustCompile(`^(WARNING|ERROR): (.*)$`).FindStringSubmatch(line); m != nil {
		level, msg = m[1], m[2]
	}
	for prefix, logger := range rename {
		if strings.HasPrefix(msg, prefix) {
			name = logger
		}
	}
	return level + " " + name + " " + ctx + " " + msg
}

// checkLogged fails unless the new lines of the log are the stderr lines
// as records, in order.
func checkLogged(t *testing.T, what string, stderr string, log []string, rename map[string]string, ctx *regexp.Regexp) {
	t.Helper()
	errLines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if stderr == "" {
		errLines = nil
	}
	if len(log) != len(errLines) {
		t.Fatalf("%s: %d log lines for %d stderr lines\nstderr:\n%s\nlog:\n%s", what, len(log), len(errLines), stderr, strings.Join(log, "\n"))
	}
	for i, l := range log {
		if !logPrefix.MatchString(l) {
			t.Errorf("%s: log line %q is not in oslo.log's format", what, l)
			continue
		}
		rest := logPrefix.ReplaceAllString(l, "")
		c := "[-]"
		if ctx != nil {
			c = ctx.FindString(rest)
		}
		if want := expectedRecord(errLines[i], rename, c); rest != want {
			t.Errorf("%s: log line\n%q\nwant\n%q", what, rest, want)
		}
	}
}

func TestLogFileGetsWhatStderrShows(t *testing.T) {
	e := newLogEnv(t)
	log := filepath.Join(t.TempDir(), "glance-manage.log")
	seen := 0
	newLines := func() []string {
		all := logLines(t, log)
		n := all[seen:]
		seen = len(all)
		return n
	}

	// Alembic's lines keep their logger, as upstream's lines name it.
	out, errs := e.must("--log-file", log, "db", "upgrade", "--version", "liberty")
	checkLogged(t, "upgrade to liberty", errs, newLines(), nil, nil)
	_, errs = e.must("--log-file", log, "db", "upgrade", "mitaka02")
	if !strings.Contains(errs, "INFO  [alembic.runtime.migration] Running upgrade liberty -> mitaka01") {
		t.Fatalf("no alembic line on stderr:\n%s", errs)
	}
	checkLogged(t, "upgrade to mitaka02", errs, newLines(), nil, nil)
	_ = out

	// stdout and stderr are the same with and without a log file.
	outPlain, errPlain := e.must("db", "version")
	outLog, errLog := e.must("--log-file", log, "db", "version")
	if outPlain != outLog || errPlain != errLog {
		t.Errorf("db version with --log-file differs:\nstdout %q / %q\nstderr %q / %q", outPlain, outLog, errPlain, errLog)
	}
	checkLogged(t, "db version", errLog, newLines(), nil, nil)

	// A deprecated option's warning, and an error (on stderr once, in
	// the log at ERROR).
	conf := writeFile(t, "legacy.conf", "[DEFAULT]\nsql_connection = "+e.vars["OS_DATABASE__CONNECTION"]+"\n")
	saved := e.vars["OS_DATABASE__CONNECTION"]
	delete(e.vars, "OS_DATABASE__CONNECTION")
	_, errs = e.must("--config-file", conf, "--log-file", log, "db", "version")
	if !strings.HasPrefix(errs, "WARNING: Option \"sql_connection\"") {
		t.Fatalf("no deprecation warning:\n%s", errs)
	}
	checkLogged(t, "deprecated name", errs, newLines(), nil, nil)
	e.vars["OS_DATABASE__CONNECTION"] = saved

	_, errs, code := e.run("db", "upgrade", "--log-file", log, "--version", "no_such_revision")
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "ERROR: unknown revision") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	checkLogged(t, "unknown revision", errs, newLines(), nil, nil)

	// db purge: upstream's logger and request context for its lines.
	e.must("db", "sync")
	newLines()
	_, errs = e.must("db", "purge", "--log-file", log, "--max_rows", "5")
	lines := newLines()
	req := regexp.MustCompile(`\[None req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} - - - - - -\]`)
	checkLogged(t, "db purge", errs, lines, map[string]string{"Purging deleted rows": "glance.db.sqlalchemy.api", "Deleted ": "glance.db.sqlalchemy.api"}, req)
	if len(lines) == 0 || req.FindString(lines[0]) != req.FindString(lines[len(lines)-1]) {
		t.Errorf("one request id per run: %q", lines)
	}
}

func TestLogOptionsFromFilesEnvironmentAndCommandLine(t *testing.T) {
	e := newLogEnv(t)
	e.must("db", "sync")
	dir := t.TempDir()
	fileLog, envLog, cliLog := filepath.Join(dir, "file.log"), filepath.Join(dir, "env.log"), filepath.Join(dir, "cli.log")
	conf := writeFile(t, "glance-api.conf", "[DEFAULT]\nlog_file = "+fileLog+"\nverbose = true\nlogging_exception_prefix = %(asctime)s TRACE\nlog_rotation_type = size\n")
	written := func(want string) {
		t.Helper()
		for _, p := range []string{fileLog, envLog, cliLog} {
			n := len(logLines(t, p))
			if (p == want) != (n > 0) {
				t.Errorf("%s: %d lines (the log should be %s)", filepath.Base(p), n, filepath.Base(want))
			}
			os.Remove(p)
		}
	}
	e.must("--config-file", conf, "db", "version")
	written(fileLog)
	e.vars["OS_DEFAULT__LOG_FILE"] = envLog
	e.must("--config-file", conf, "db", "version")
	written(envLog)
	e.must("--config-file", conf, "--log-file", cliLog, "db", "version")
	written(cliLog)
	delete(e.vars, "OS_DEFAULT__LOG_FILE")
	e.must("--config-file", conf, "--logfile", cliLog, "db", "version") // the deprecated spelling
	written(cliLog)

	// log_dir: with a relative log_file, the file in it; alone,
	// glance-manage.log in it.
	e.must("--log-dir", dir, "--log-file", "sub.log", "db", "version")
	if len(logLines(t, filepath.Join(dir, "sub.log"))) == 0 {
		t.Error("log_dir + log_file: nothing in <log_dir>/<log_file>")
	}
	conf2 := writeFile(t, "glance-api.conf", "[DEFAULT]\nlog_dir = "+dir+"\n")
	e.must("--config-file", conf2, "db", "version")
	if len(logLines(t, filepath.Join(dir, "glance-manage.log"))) == 0 {
		t.Error("log_dir alone: nothing in <log_dir>/glance-manage.log")
	}
}

func TestLogDateFormatAndDebug(t *testing.T) {
	e := newLogEnv(t)
	log := filepath.Join(t.TempDir(), "x.log")
	conf := writeFile(t, "glance-api.conf", "[DEFAULT]\ndebug = True\nlog_date_format = %d/%b/%Y %Hh%M\nlog_file = "+log+"\n")
	_, errs := e.must("--config-file", conf, "db", "sync")
	dated := regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4} \d\dh\d\d\.\d{3} \d+ `)
	lines := records(logLines(t, log), dated)
	if len(lines) == 0 {
		t.Fatal("nothing logged")
	}
	debug := 0
	for _, l := range lines {
		if !dated.MatchString(l) {
			t.Errorf("log_date_format not applied: %q", l)
		}
		// DEBUG records end with oslo.log's suffix: function, file:line.
		if strings.Contains(l, " DEBUG glance-manage [-] ") {
			debug++
			if !regexp.MustCompile(` \S+ \S+\.go:\d+$`).MatchString(l) {
				t.Errorf("DEBUG record without the debug suffix: %q", l)
			}
		}
	}
	// debug = True in the file: the statements, on stderr as with --debug.
	if debug == 0 || strings.Count(errs, "DEBUG [glance-manage] ") != debug {
		t.Errorf("%d DEBUG records, stderr:\n%s", debug, errs)
	}
	// --nodebug on the command line wins over the file.
	os.Remove(log)
	_, errs = e.must("--config-file", conf, "--nodebug", "db", "version")
	if strings.Contains(errs, "DEBUG") || strings.Contains(strings.Join(logLines(t, log), "\n"), "DEBUG") {
		t.Errorf("--nodebug: debug output\n%s", errs)
	}
}

func TestUseStderrFalse(t *testing.T) {
	e := newLogEnv(t)
	log := filepath.Join(t.TempDir(), "x.log")
	conf := writeFile(t, "glance-api.conf", "[DEFAULT]\nuse_stderr = false\nlog_file = "+log+"\n")
	e.must("db", "sync")
	outPlain, _ := e.must("db", "version")
	out, errs := e.must("--config-file", conf, "db", "version")
	if out != outPlain || errs != "" {
		t.Errorf("use_stderr = false: stdout %q (want %q), stderr %q (want nothing)", out, outPlain, errs)
	}
	if l := logLines(t, log); len(l) != 1 || !strings.Contains(l[0], " INFO glance-manage [-] Composite version: expand 2024_1_expand01 (head)") {
		t.Errorf("log: %q", l)
	}
	// The error a run ends with still reaches stderr, one line.
	_, errs, code := e.run("--config-file", conf, "db", "upgrade", "no_such_revision")
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "ERROR: unknown revision") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if l := logLines(t, log); len(l) == 0 || !strings.Contains(l[len(l)-1], " ERROR glance-manage [-] unknown revision") {
		t.Errorf("log: %q", l)
	}
	// Nowhere else to go: stderr keeps the lines (oslo.log would use
	// stdout, which scripts parse).
	conf = writeFile(t, "glance-api.conf", "[DEFAULT]\nuse_stderr = false\n")
	_, errPlain := e.must("db", "version")
	if _, errs := e.must("--config-file", conf, "db", "version"); errs != errPlain {
		t.Errorf("use_stderr = false without a log file: stderr %q, want %q", errs, errPlain)
	}
}

func TestUseJSON(t *testing.T) {
	e := newLogEnv(t)
	log := filepath.Join(t.TempDir(), "x.log")
	e.must("db", "sync")
	outPlain, _ := e.must("db", "version")
	out, errs := e.must("--use-json", "--log-file", log, "db", "version")
	if out != outPlain {
		t.Errorf("stdout %q, want %q", out, outPlain)
	}
	// stderr (use_stderr) and the file get the same JSON records.
	lines := logLines(t, log)
	if strings.TrimSuffix(errs, "\n") != strings.Join(lines, "\n") || len(lines) == 0 {
		t.Errorf("stderr:\n%s\nlog:\n%s", errs, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for _, k := range []string{"message", "asctime", "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "lineno", "funcname", "created", "msecs", "relative_created", "thread", "thread_name", "process_name", "process", "traceback", "hostname", "error_summary", "context", "extra"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("no %q in %s", k, l)
			}
		}
		if rec["name"] != "glance-manage" || rec["levelname"] != "INFO" || rec["process"] != float64(os.Getpid()) {
			t.Errorf("record %s", l)
		}
	}
	// The error a run ends with: plain on stderr, a JSON record in the
	// file.
	_, errs, code := e.run("--use-json", "--log-file", log, "db", "upgrade", "no_such_revision")
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "ERROR: unknown revision") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	var last map[string]any
	if lines = logLines(t, log); len(lines) == 0 {
		t.Fatal("nothing logged")
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["levelname"] != "ERROR" || !strings.HasPrefix(last["message"].(string), "unknown revision") {
		t.Errorf("last record %q (%v)", lines[len(lines)-1], err)
	}
}

func TestLoggingRefusals(t *testing.T) {
	e := newLogEnv(t)
	db := strings.TrimPrefix(e.vars["OS_DATABASE__CONNECTION"], "sqlite:///")
	appendConf := writeFile(t, "glance-api.conf", "[DEFAULT]\nlog_config_append = /etc/glance/logging.conf\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-config-append", "/etc/glance/logging.conf", "db", "sync"}, "ERROR: log_config_append (from --log-config-append) is not supported: "},
		{[]string{"--config-file", appendConf, "db", "sync"}, "ERROR: log_config_append (from [DEFAULT] log_config_append in " + appendConf + ") is not supported: "},
		{[]string{"--use-syslog", "--syslog-log-facility", "LOG_NOPE", "db", "sync"}, "ERROR: invalid syslog_log_facility (from --syslog-log-facility): syslog facility must be one of: 'LOG_KERN'"},
		{[]string{"--log-file", filepath.Join(t.TempDir(), "no", "such", "dir.log"), "db", "sync"}, "ERROR: cannot open the log file "},
		{[]string{"--use-eventlog", "db", "sync"}, "ERROR: Windows Event Log is not available on this platform"},
	} {
		_, errs, code := e.run(c.args...)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want one line starting %q", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Fatalf("%v: the database was touched", c.args)
		}
	}
}

// TestWatchLogFileAccepted: watch_log_file, from a file and as
// --watch-log-file / --nowatch-log-file, is accepted (oslo.log's
// WatchedFileHandler): the run goes on and logs as without it; a log file
// moved away between two runs is written again under its name.
func TestWatchLogFileAccepted(t *testing.T) {
	e := newLogEnv(t)
	e.must("db", "sync")
	dir := t.TempDir()
	log := filepath.Join(dir, "glance-manage.log")
	conf := writeFile(t, "glance-api.conf", "[DEFAULT]\nlog_file = "+log+"\nwatch_log_file = true\n")
	for _, args := range [][]string{
		{"--config-file", conf, "db", "version"},
		{"--config-file", conf, "--watch-log-file", "db", "version"},
		{"--config-file", conf, "--nowatch-log-file", "db", "version"},
	} {
		out, errs := e.must(args...)
		if out != "2024_1_contract01\n" {
			t.Errorf("%v: stdout %q (stderr %q)", args, out, errs)
		}
		lines := logLines(t, log)
		if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "Composite version") {
			t.Errorf("%v: log %q", args, lines)
		}
		if err := os.Rename(log, log+".1"); err != nil {
			t.Fatal(err)
		}
	}
}
