// Package clitest runs the command line in process for the test suites
// of several packages. It is imported by tests only.
package clitest

import (
	"bytes"
	"context"
	"testing"

	"github.com/glance-manage/glance-manage/internal/cli"
)

// Run runs glance-manage with args, OS_DATABASE__CONNECTION=url and a
// HOME of its own, and nothing else from the environment.
func Run(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	home := t.TempDir()
	code = cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		switch k {
		case "OS_DATABASE__CONNECTION":
			return url
		case "HOME":
			return home
		}
		return ""
	}})
	return out.String(), errb.String(), code
}
