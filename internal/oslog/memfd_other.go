//go:build !linux

package oslog

import (
	"errors"
	"net"
)

// sendMemfd: there is no journald without Linux.
func sendMemfd(*net.UnixConn, *net.UnixAddr, []byte) error {
	return errors.New("record too large for one datagram")
}
