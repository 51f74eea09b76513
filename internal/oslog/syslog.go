package oslog

import (
	"errors"
	"net"
	"strconv"
	"syscall"
)

// syslogSocket is where glibc's syslog(3), which oslo.log's handler calls
// through Python's syslog module, sends messages.
const syslogSocket = "/dev/log"

// syslogDest sends records to the local syslog socket with the bytes
// glibc's syslog(3) sends after openlog(program, 0, facility), as
// oslo.log's OSSysLogHandler sets it up: "<PRI>Mmm dd hh:mm:ss program: "
// and the formatted record, local time, no pid (no LOG_PID), no trailing
// newline; on a stream socket each message ends with a NUL byte. PRI is
// the facility's code plus the severity of oslo.log's SYSLOG_MAP.
// log/syslog is not used because its header differs (it adds "[pid]" and,
// on any address other than the default ones, uses another format).
type syslogDest struct {
	addr     string
	program  string
	facility int
	conn     net.Conn
	stream   bool
}

func openSyslog(addr, program string, facility int) (*syslogDest, error) {
	d := &syslogDest{addr: addr, program: program, facility: facility}
	if err := d.dial(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *syslogDest) dial() error {
	c, err := net.Dial("unixgram", d.addr)
	if errors.Is(err, syscall.EPROTOTYPE) {
		c, err = net.Dial("unix", d.addr)
		d.stream = err == nil
	}
	if err != nil {
		return err
	}
	d.conn = c
	return nil
}

// syslogMessage is the datagram for a record.
func syslogMessage(r *record, line, program string, facility int) []byte {
	b := make([]byte, 0, len(line)+64)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facility|syslogSeverity(r.levelname)), 10)
	b = append(b, '>')
	b = r.t.AppendFormat(b, "Jan _2 15:04:05")
	b = append(b, ' ')
	b = append(b, program...)
	b = append(b, ": "...)
	return append(b, line...)
}

func (d *syslogDest) write(r *record, line string) error {
	msg := syslogMessage(r, line, d.program, d.facility)
	send := func() error {
		if d.conn == nil {
			if err := d.dial(); err != nil {
				return err
			}
		}
		m := msg
		if d.stream {
			m = append(m, 0)
		}
		_, err := d.conn.Write(m)
		return err
	}
	// As glibc: on a failure, reconnect (the daemon may have restarted)
	// and try once more.
	if err := send(); err != nil {
		if d.conn != nil {
			d.conn.Close()
			d.conn = nil
		}
		return send()
	}
	return nil
}

func (d *syslogDest) describe() string { return "syslog at " + d.addr }

func (d *syslogDest) close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
