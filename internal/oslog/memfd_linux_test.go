package oslog

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestJournalLargeRecord: a record larger than any datagram goes in a
// sealed memfd whose descriptor is passed, as the protocol asks.
func TestJournalLargeRecord(t *testing.T) {
	path := socketPath(t, "socket")
	srv := listenGram(t, path)
	o := Defaults()
	o.UseJournal = true
	h, stderr := newSocketTest(t, o, JournalSocketEnv, path)
	big := strings.Repeat("x", 17<<20) // above the largest send buffer Linux allows (2 x 8 MiB asked)
	logAt(t, h, slog.LevelInfo, "glance-manage", "", big)
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", stderr)
	}
	payload, oob := readGram(t, srv)
	if len(payload) != 0 {
		t.Fatalf("payload of %d bytes; want the record in a descriptor", len(payload))
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "memfd")
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		t.Fatal(err)
	}
	fields := parseJournal(t, data)
	if fields[0][0] != "MESSAGE" || !strings.HasSuffix(fields[0][1], "INFO glance-manage [-] "+big) {
		t.Errorf("MESSAGE of %d bytes", len(fields[0][1]))
	}
	// journald refuses an unsealed memfd.
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals == 0 {
		t.Errorf("seals %#x, %v", seals, err)
	}
}
