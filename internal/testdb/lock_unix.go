//go:build unix

package testdb

import (
	"os"
	"syscall"
	"time"
)

// lockFile opens path and takes an exclusive lock on it, calling waiting
// once if another process holds it for more than a moment. Closing the
// file releases the lock, as does the end of the process.
func lockFile(path string, waiting func()) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	for start := time.Now(); ; {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, err
		}
		if waiting != nil && time.Since(start) > 2*time.Second {
			waiting()
			waiting = nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
