//go:build !unix

package testdb

import "os"

// lockFile opens path; without flock(2) it does not lock (the private
// servers' scripts run on Linux only).
func lockFile(path string, waiting func()) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
}
