//go:build !unix

package dialect

import (
	"errors"
	"os"
)

// FreeSpace is not available on this system.
func FreeSpace(string) (int64, error) {
	return 0, errors.New("free space cannot be read on this system")
}

// CanWrite reports whether path's permission bits allow writing (a best
// guess on systems without access(2)).
func CanWrite(path string, _ bool) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o200 != 0
}
