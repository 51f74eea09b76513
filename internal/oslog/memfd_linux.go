package oslog

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendMemfd passes payload to journald in a sealed memfd, as the native
// protocol wants for a record larger than a datagram.
func sendMemfd(conn *net.UnixConn, addr *net.UnixAddr, payload []byte) error {
	fd, err := unix.MemfdCreate("glance-manage-journal", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	defer f.Close()
	if _, err := f.Write(payload); err != nil {
		return err
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	_, _, err = conn.WriteMsgUnix(nil, syscall.UnixRights(int(f.Fd())), addr)
	return err
}
