//go:build !linux

package oslog

import "os"

// threadID stands for Python's thread identifier; without gettid, the
// process id.
func threadID() int { return os.Getpid() }
