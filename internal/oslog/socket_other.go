//go:build !unix

package oslog

import (
	"errors"
	"net"
)

// unconnectedUnixgram: no journald off Unix.
func unconnectedUnixgram() (*net.UnixConn, error) {
	return nil, errors.New("the journal is not available on this platform")
}
