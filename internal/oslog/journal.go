package oslog

import (
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// journalSocket is the journal's native-protocol socket.
const journalSocket = "/run/systemd/journal/socket"

// journalDest sends records to systemd-journald over its native protocol
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/): one datagram per record
// of KEY=value lines, a value with a newline as KEY, a newline, its
// length in 64-bit little endian and the value; a record too large for a
// datagram goes in a sealed memfd whose descriptor is passed instead.
// The fields are those oslo.log's OSJournalHandler sends through
// python-systemd: MESSAGE (the formatted record), CODE_FILE, CODE_LINE,
// CODE_FUNC, THREAD_NAME, PROCESS_NAME, LOGGER_NAME, LOGGER_LEVEL,
// SYSLOG_IDENTIFIER, PRIORITY, SYSLOG_FACILITY (the facility's code as
// Python's syslog module has it: 8 for LOG_USER) and REQUEST_ID when the
// record has one. go-systemd's journal package and systemd's slog-journal
// are not used because their socket path is fixed, and tests send to a
// socket of their own (JournalSocketEnv).
type journalDest struct {
	addr     *net.UnixAddr
	program  string
	facility int
	conn     *net.UnixConn // unconnected: Go passes descriptors only on those
}

func openJournal(addr, program string, facility int) (*journalDest, error) {
	// Is journald there? (Connecting tells; records then go through an
	// unconnected socket.)
	probe, err := net.Dial("unixgram", addr)
	if err != nil {
		return nil, err
	}
	probe.Close()
	uc, err := unconnectedUnixgram()
	if err != nil {
		return nil, err
	}
	// journald takes datagrams as large as its buffer; a large send
	// buffer means ordinary records never need a memfd.
	_ = uc.SetWriteBuffer(8 << 20)
	return &journalDest{addr: &net.UnixAddr{Name: addr, Net: "unixgram"}, program: program, facility: facility, conn: uc}, nil
}

// journalFields are the fields of a record, in the order python-systemd
// sends them.
func journalFields(r *record, line, program string, facility int) [][2]string {
	f := [][2]string{
		{"MESSAGE", line},
		{"CODE_FILE", r.pathname},
		{"CODE_LINE", strconv.Itoa(r.lineno)},
		{"CODE_FUNC", r.funcName},
		{"THREAD_NAME", "MainThread"},
		{"PROCESS_NAME", "MainProcess"},
		{"LOGGER_NAME", r.name},
		{"LOGGER_LEVEL", r.levelname},
		{"SYSLOG_IDENTIFIER", program},
		{"PRIORITY", strconv.Itoa(syslogSeverity(r.levelname))},
		{"SYSLOG_FACILITY", strconv.Itoa(facility)},
	}
	if r.requestID != "" {
		f = append(f, [2]string{"REQUEST_ID", r.requestID})
	}
	return f
}

// journalPayload serializes fields in the native protocol.
func journalPayload(fields [][2]string) []byte {
	var b []byte
	for _, kv := range fields {
		if strings.ContainsRune(kv[1], '\n') {
			b = append(b, kv[0]...)
			b = append(b, '\n')
			b = binary.LittleEndian.AppendUint64(b, uint64(len(kv[1])))
			b = append(b, kv[1]...)
			b = append(b, '\n')
			continue
		}
		b = append(b, kv[0]...)
		b = append(b, '=')
		b = append(b, kv[1]...)
		b = append(b, '\n')
	}
	return b
}

func (d *journalDest) write(r *record, line string) error {
	payload := journalPayload(journalFields(r, line, d.program, d.facility))
	_, err := d.conn.WriteToUnix(payload, d.addr)
	if errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS) {
		return sendMemfd(d.conn, d.addr, payload)
	}
	return err
}

func (d *journalDest) describe() string { return "the journal at " + d.addr.Name }

func (d *journalDest) close() error { return d.conn.Close() }
