package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Command returns glance-manage's command tree, from which its manual pages
// and shell completion scripts are generated (tools/mangen). Run, not
// this tree, is what executes a command line.
func Command() *cobra.Command {
	a := &app{env: Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: os.Getenv, Argv0: "glance-manage"}, out: io.Discard, errw: io.Discard}
	return a.rootCommand()
}
