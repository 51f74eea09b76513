//go:build unix

package oslog

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// unconnectedUnixgram makes a datagram socket that sends to any address
// (Go's net package only makes connected ones or bound ones).
func unconnectedUnixgram() (*net.UnixConn, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "journal")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("journal socket: unexpected %T", c)
	}
	return uc, nil
}
