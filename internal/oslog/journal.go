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
	addr     string
	program  string
	facility int
	conn     *net.UnixConn
}

func openJournal(addr, program string, facility int) (*journalDest, error) {
	d := &journalDest{addr: addr, program: program, facility: facility}
	if err := d.dial(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *journalDest) dial() error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: d.addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	// journald accepts datagrams of up to its own buffer size; ask for a
	// large send buffer so that ordinary records never need a memfd.
	_ = c.SetWriteBuffer(8 << 20)
	d.conn = c
	return nil
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
	send := func() error {
		if d.conn == nil {
			if err := d.dial(); err != nil {
				return err
			}
		}
		_, err := d.conn.Write(payload)
		if errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS) {
			return sendMemfd(d.conn, payload)
		}
		return err
	}
	if err := send(); err != nil {
		// journald restarted: reconnect and try once more.
		if d.conn != nil {
			d.conn.Close()
			d.conn = nil
		}
		return send()
	}
	return nil
}

func (d *journalDest) describe() string { return "the journal at " + d.addr }

func (d *journalDest) close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
