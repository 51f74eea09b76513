//go:build unix

package dialect

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes available to an unprivileged user on the
// file system holding path (statfs).
func FreeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // the field types differ between systems
}

// CanWrite reports whether this process may write path (a file: write
// it; a directory: create files in it), as the kernel judges it for the
// process's real user (access(2)): root may write anything not on a
// read-only file system.
func CanWrite(path string, dir bool) bool {
	mode := uint32(unix.W_OK)
	if dir {
		mode |= unix.X_OK
	}
	return unix.Access(path, mode) == nil
}
