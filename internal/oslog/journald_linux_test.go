package oslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// realJournal is a running systemd-journald: the system's, or a private
// one this test starts in a journal namespace of its own.
type realJournal struct {
	socket, devLog string   // its native and syslog sockets
	query          []string // journalctl arguments that read it
}

// startJournal finds or starts a journald, or skips the test saying why.
func startJournal(t *testing.T) realJournal {
	t.Helper()
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("no journalctl here (package systemd): the native protocol is tested against the test's own socket only")
	}
	if _, err := os.Stat(journalSocket); err == nil {
		if err := exec.Command("journalctl", "-n", "0", "--no-pager").Run(); err == nil {
			return realJournal{socket: journalSocket, devLog: "/run/systemd/journal/dev-log", query: nil}
		}
	}
	var bin string
	for _, p := range []string{"/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	machineID, _ := os.ReadFile("/etc/machine-id")
	switch {
	case bin == "":
		t.Skip("no journald running and no systemd-journald binary to start one: the native protocol is tested against the test's own socket only")
	case os.Geteuid() != 0:
		t.Skip("no journald running, and starting a private one (a journal namespace) needs root: the native protocol is tested against the test's own socket only")
	case len(bytes.TrimSpace(machineID)) == 0:
		t.Skip("no journald running, and a private one needs /etc/machine-id")
	}
	// A journal namespace of this test's own: its sockets under
	// /run/systemd/journal.<ns>/, its files under /var/log/journal/<machine-id>.<ns>.
	ns := fmt.Sprintf("oslogtest%d", os.Getpid())
	mid := string(bytes.TrimSpace(machineID))
	var out bytes.Buffer
	cmd := exec.Command(bin, ns)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", bin, ns, err)
	}
	dir := "/run/systemd/journal." + ns
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		for _, d := range []string{dir, "/var/log/journal/" + mid + "." + ns, "/run/log/journal/" + mid + "." + ns} {
			_ = os.RemoveAll(d)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "socket")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s made no socket in %s:\n%s", bin, ns, dir, out.String())
		}
	}
	return realJournal{socket: filepath.Join(dir, "socket"), devLog: filepath.Join(dir, "dev-log"), query: []string{"--namespace=" + ns}}
}

// entries reads the journal's entries whose MESSAGE contains marker,
// waiting until there are n of them (journald writes asynchronously).
func (j realJournal) entries(t *testing.T, marker string, n int) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		cmd := exec.Command("journalctl", append(append([]string{}, j.query...), "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=glance-manage")...)
		raw, err := cmd.Output()
		var found []map[string]any
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil && strings.Contains(fmt.Sprint(e["MESSAGE"]), marker) {
				found = append(found, e)
			}
		}
		if len(found) >= n {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("journalctl %s: %d entries with %s, want %d (%v)", strings.Join(cmd.Args[1:], " "), len(found), marker, n, err)
		}
	}
}

// TestRealJournald writes a record through the native protocol and one
// through syslog's socket to a real journald, and reads both back with
// journalctl: journald must take our bytes as what oslo.log sends.
func TestRealJournald(t *testing.T) {
	j := startJournal(t)
	marker := fmt.Sprintf("oslog-%d-%d", os.Getpid(), time.Now().UnixNano())
	o := Defaults()
	o.UseJournal, o.UseSyslog, o.SyslogFacility = true, true, "LOG_LOCAL3"
	var stderr bytes.Buffer
	h, err := New(o, Env{Program: "glance-manage", Product: "glance", Stderr: &stderr, Getenv: func(k string) string {
		switch k {
		case JournalSocketEnv:
			return j.socket
		case SyslogSocketEnv:
			return j.devLog
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", stderr.String())
	}
	logAt(t, h, slog.LevelWarn, "glance.db.sqlalchemy.api", "req-"+marker, "Kept 2 row(s) "+marker)
	var native, viaSyslog map[string]any
	for _, e := range j.entries(t, marker, 2) {
		switch e["_TRANSPORT"] {
		case "journal":
			native = e
		case "syslog":
			viaSyslog = e
		}
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \d+ WARNING glance\.db\.sqlalchemy\.api \[None req-` + marker + ` - - - - - -\] Kept 2 row\(s\) ` + marker + `$`)
	if native == nil || viaSyslog == nil {
		t.Fatalf("entries: native %v, syslog %v", native, viaSyslog)
	}
	for k, want := range map[string]string{
		"PRIORITY": "4", "SYSLOG_IDENTIFIER": "glance-manage", "LOGGER_NAME": "glance.db.sqlalchemy.api",
		"LOGGER_LEVEL": "WARNING", "REQUEST_ID": "req-" + marker, "SYSLOG_FACILITY": "152",
		"CODE_FUNC": "TestRealJournald", "THREAD_NAME": "MainThread",
	} {
		if native[k] != want {
			t.Errorf("journal entry %s=%v, want %s", k, native[k], want)
		}
	}
	if !line.MatchString(fmt.Sprint(native["MESSAGE"])) {
		t.Errorf("journal entry MESSAGE=%q", native["MESSAGE"])
	}
	// journald parsed our syslog header: facility local3 (19), warning.
	for k, want := range map[string]string{"PRIORITY": "4", "SYSLOG_IDENTIFIER": "glance-manage", "SYSLOG_FACILITY": "19"} {
		if viaSyslog[k] != want {
			t.Errorf("syslog entry %s=%v, want %s", k, viaSyslog[k], want)
		}
	}
	if !line.MatchString(fmt.Sprint(viaSyslog["MESSAGE"])) {
		t.Errorf("syslog entry MESSAGE=%q", viaSyslog["MESSAGE"])
	}
}
