package oslog

import "syscall"

// threadID stands for Python's thread identifier: the OS thread's id.
func threadID() int { return syscall.Gettid() }
