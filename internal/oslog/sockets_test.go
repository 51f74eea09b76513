package oslog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// socketPath is a short path for a socket of the test's own (unix socket
// paths are limited to 108 bytes, which t.TempDir() may exceed).
func socketPath(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oslog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// listenGram listens on a unixgram socket the test owns.
func listenGram(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newSocketTest makes a Handler whose syslog or journal goes to path.
func newSocketTest(t *testing.T, o Options, env, path string) (*Handler, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	h, err := New(o, Env{Program: "glance-manage", Product: "glance", Stderr: &stderr, Getenv: func(k string) string {
		if k == env {
			return path
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, &stderr
}

func readGram(t *testing.T, c *net.UnixConn) ([]byte, []byte) {
	t.Helper()
	buf, oob := make([]byte, 1<<20), make([]byte, 1024)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n], oob[:oobn]
}

// syslogLine is what glibc's syslog(3) sends, checked against the
// message the test expects: "<PRI>Mmm dd hh:mm:ss glance-manage: LINE".
var syslogLine = regexp.MustCompile(`^<(\d+)>([A-Z][a-z]{2} [ 123]\d (\d\d:\d\d:\d\d)) glance-manage: (\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d)\.\d{3} \d+ ([A-Z]+) (\S+) \[-\] (.*))$`)

func TestSyslogDatagrams(t *testing.T) {
	path := socketPath(t, "log")
	srv := listenGram(t, path)
	o := Defaults()
	o.UseSyslog, o.SyslogFacility = true, "local3"
	h, stderr := newSocketTest(t, o, SyslogSocketEnv, path)
	if !h.Active() || stderr.Len() > 0 {
		t.Fatalf("syslog not set up: %s", stderr)
	}
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "Purging deleted rows")
	logAt(t, h, slog.LevelWarn, "glance-manage", "", "Kept 1 row(s)")
	logAt(t, h, slog.LevelError, "alembic.runtime.migration", "", "failed")
	for _, want := range []struct {
		pri                    string
		level, logger, message string
	}{
		{"158", "INFO", "glance-manage", "Purging deleted rows"}, // local3 (19<<3) + info (6)
		{"156", "WARNING", "glance-manage", "Kept 1 row(s)"},     // + warning (4)
		{"155", "ERROR", "alembic.runtime.migration", "failed"},  // + err (3)
	} {
		msg, _ := readGram(t, srv)
		m := syslogLine.FindSubmatch(msg)
		if m == nil {
			t.Fatalf("datagram %q is not what glibc sends", msg)
		}
		if string(m[1]) != want.pri || string(m[6]) != want.level || string(m[7]) != want.logger || string(m[8]) != want.message {
			t.Errorf("datagram %q: want PRI %s, %s %s %q", msg, want.pri, want.level, want.logger, want.message)
		}
		// The header's time is the record's, in local time.
		if string(m[3]) != string(m[5]) {
			t.Errorf("header time %s, record time %s", m[3], m[5])
		}
		if bytes.HasSuffix(msg, []byte("\n")) || bytes.Contains(msg, []byte{0}) {
			t.Errorf("datagram %q: no newline or NUL at the end", msg)
		}
	}
}

// TestSyslogStream: a stream /dev/log (syslog-ng's unix-stream) gets
// each message followed by a NUL byte, as glibc sends it.
func TestSyslogStream(t *testing.T) {
	path := socketPath(t, "log")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var msgs []string
		for len(msgs) < 2 {
			m, err := r.ReadString(0)
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		got <- msgs
	}()
	o := Defaults()
	o.UseSyslog = true
	h, stderr := newSocketTest(t, o, SyslogSocketEnv, path)
	if stderr.Len() > 0 {
		t.Fatal(stderr)
	}
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "one")
	logAt(t, h, slog.LevelDebug, "glance-manage", "", "not sent without debug")
	logAt(t, h, slog.LevelInfo, "glance-manage", "", "two")
	h.Close()
	msgs := <-got
	if len(msgs) != 2 {
		t.Fatalf("messages: %q", msgs)
	}
	for i, want := range []string{"one", "two"} {
		m := syslogLine.FindStringSubmatch(strings.TrimSuffix(msgs[i], "\x00"))
		if !strings.HasSuffix(msgs[i], "\x00") || m == nil || m[1] != "14" || m[8] != want {
			t.Errorf("message %d: %q", i+1, msgs[i])
		}
	}
}

func TestSyslogAbsent(t *testing.T) {
	o := Defaults()
	o.UseSyslog = true
	h, stderr := newSocketTest(t, o, SyslogSocketEnv, socketPath(t, "nobody-listens"))
	if h.Active() {
		t.Error("a syslog nobody listens on is a destination")
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "WARNING: use_syslog is set but no syslog daemon listens on ") {
		t.Errorf("stderr: %q", stderr)
	}
}

// parseJournal reads the native protocol: KEY=value lines, or KEY, a
// newline, a 64-bit little-endian length and the value and a newline.
func parseJournal(t *testing.T, b []byte) [][2]string {
	t.Helper()
	var out [][2]string
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("field without a newline: %q", b)
		}
		line := b[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			out = append(out, [2]string{string(k), string(v)})
			b = b[nl+1:]
			continue
		}
		rest := b[nl+1:]
		if len(rest) < 8 {
			t.Fatalf("binary field %q without its length", line)
		}
		n := binary.LittleEndian.Uint64(rest[:8])
		if uint64(len(rest)) < 8+n+1 || rest[8+n] != '\n' {
			t.Fatalf("binary field %q: bad length %d", line, n)
		}
		out = append(out, [2]string{string(line), string(rest[8 : 8+n])})
		b = rest[8+n+1:]
	}
	return out
}

func TestJournalNativeProtocol(t *testing.T) {
	path := socketPath(t, "socket")
	srv := listenGram(t, path)
	o := Defaults()
	o.UseJournal = true
	h, stderr := newSocketTest(t, o, JournalSocketEnv, path)
	if !h.Active() || stderr.Len() > 0 {
		t.Fatalf("journal not set up: %s", stderr)
	}
	logAt(t, h, slog.LevelWarn, "glance.db.sqlalchemy.api", "req-42", "Kept 3 row(s) of images")
	_, _, line, _ := runtime.Caller(0)
	logAt(t, h, slog.LevelError, "glance-manage", "", "first line\nsecond line")

	msg, _ := readGram(t, srv)
	fields := parseJournal(t, msg)
	var names []string
	for _, f := range fields {
		names = append(names, f[0])
	}
	if got := strings.Join(names, " "); got != "MESSAGE CODE_FILE CODE_LINE CODE_FUNC THREAD_NAME PROCESS_NAME LOGGER_NAME LOGGER_LEVEL SYSLOG_IDENTIFIER PRIORITY SYSLOG_FACILITY REQUEST_ID" {
		t.Errorf("fields: %s", got)
	}
	f := map[string]string{}
	for _, kv := range fields {
		f[kv[0]] = kv[1]
	}
	want := map[string]string{
		"CODE_LINE": fmt.Sprint(line - 1), "CODE_FUNC": "TestJournalNativeProtocol", "THREAD_NAME": "MainThread",
		"PROCESS_NAME": "MainProcess", "LOGGER_NAME": "glance.db.sqlalchemy.api", "LOGGER_LEVEL": "WARNING",
		"SYSLOG_IDENTIFIER": "glance-manage", "PRIORITY": "4", "SYSLOG_FACILITY": "8", "REQUEST_ID": "req-42",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s=%q, want %q", k, f[k], v)
		}
	}
	if filepath.Base(f["CODE_FILE"]) != "sockets_test.go" {
		t.Errorf("CODE_FILE=%q", f["CODE_FILE"])
	}
	// MESSAGE is the formatted record, as oslo.log's handler sends it.
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \d+ WARNING glance\.db\.sqlalchemy\.api \[None req-42 - - - - - -\] Kept 3 row\(s\) of images$`).MatchString(f["MESSAGE"]) {
		t.Errorf("MESSAGE=%q", f["MESSAGE"])
	}

	// A value with a newline goes in the binary form.
	msg, _ = readGram(t, srv)
	if !bytes.HasPrefix(msg, []byte("MESSAGE\n")) {
		t.Errorf("multi-line message not in the binary form: %q", msg[:min(len(msg), 40)])
	}
	fields = parseJournal(t, msg)
	if !strings.HasSuffix(fields[0][1], "ERROR glance-manage [-] first line\nsecond line") || fields[9][1] != "3" {
		t.Errorf("fields: %q", fields)
	}
}

func TestJournalAbsent(t *testing.T) {
	o := Defaults()
	o.UseJournal = true
	h, stderr := newSocketTest(t, o, JournalSocketEnv, socketPath(t, "no-journal"))
	if h.Active() {
		t.Error("an absent journal is a destination")
	}
	if !strings.HasPrefix(stderr.String(), "WARNING: use_journal is set but the journal cannot be reached at ") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr: %q", stderr)
	}
}
