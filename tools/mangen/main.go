// Command mangen writes glance-manage's manual pages (one per command, from
// the cobra command tree, as github.com/spf13/cobra/doc renders them) and
// its bash and zsh completion scripts. The CLI has no `completion` command;
// packages install these files instead (packaging/build-deb.sh).
//
//	go run ./tools/mangen -man DIR -bash FILE -zsh FILE
//	go run ./tools/mangen -version
//
// The pages' date is SOURCE_DATE_EPOCH when it is set (reproducible
// builds), else today.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/glance-manage/glance-manage/internal/cli"
)

func main() {
	man := flag.String("man", "", "write the manual pages (section 1) to this directory")
	bash := flag.String("bash", "", "write the bash completion script to this file")
	zsh := flag.String("zsh", "", "write the zsh completion script to this file")
	version := flag.Bool("version", false, "print the tool's version and exit")
	flag.Parse()
	if *version {
		fmt.Println(cli.Version)
		return
	}
	if *man == "" && *bash == "" && *zsh == "" {
		fail(fmt.Errorf("nothing to write: give -man DIR, -bash FILE and/or -zsh FILE"))
	}
	root := cli.Command()
	if *man != "" {
		check(writeMan(root, *man))
	}
	if *bash != "" {
		check(writeFile(*bash, func(f *os.File) error { return root.GenBashCompletionV2(f, true) }))
	}
	if *zsh != "" {
		check(writeFile(*zsh, func(f *os.File) error { return root.GenZshCompletion(f) }))
	}
}

func writeMan(root *cobra.Command, dir string) error {
	date, err := sourceDate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root.DisableAutoGenTag = true // no generation date in the pages' text
	root.Long += manExtra
	escapeAngles(root)
	return doc.GenManTree(root, &doc.GenManHeader{
		Section: "1",
		Date:    &date,
		Source:  "glance-manage-go " + cli.Version,
		Manual:  "Glance database management",
	}, dir)
}

// manExtra ends glance-manage(1)'s description (markdown, as cobra/doc
// renders every page's text: each heading becomes a section).
const manExtra = `

Every command is under **db**: **glance-manage db** lists upstream's actions, and
each has its page, **glance-manage-db-sync**(1) and so on. Upstream's spellings
**db_sync**, **db_version**, ... work too.

# CONFIGURATION
As upstream's tool: **--config-file** and **--config-dir**, else the first of
glance.conf, glance-api.conf, glance-manage.conf found in ~/.glance, ~, /etc/glance
and /etc; **[database] connection** names the database, and the environment
variable **OS_DATABASE__CONNECTION** overrides it. **[glance_manage] release** is
the default of **db check --release**.

# EXIT STATUS
0 on success; 1 on an error (one line on standard error says what to do next);
2 for a usage error; 130 when stopped by SIGINT or SIGTERM (at a safe point). **db check**: 0 up to date, 3 run **db expand**, 4 run **db migrate**,
5 run **db contract**, 6 (only with **--release**) the database is newer than that
release expects.

# THE PYTHON TOOL
The Debian package glance-manage-go diverts the Python tool of glance-common
to /usr/bin/glance-manage.python (its page: **glance-manage.python**(1)) and puts
this one in its place; removing the package puts the Python tool back.
`

// escapeAngles escapes < and > in the flags' help texts, which cobra/doc
// passes through markdown, where "<log_dir>/glance-manage.log" would be
// an HTML tag and vanish from the page. The tree is the pages' own copy.
func escapeAngles(root *cobra.Command) {
	esc := strings.NewReplacer("<", `\<`, ">", `\>`)
	done := map[*pflag.Flag]bool{} // a flag is in several sets
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if !done[f] {
					done[f] = true
					f.Usage = esc.Replace(f.Usage)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func sourceDate() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Now().UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

func writeFile(path string, gen func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gen(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mangen:", err)
	os.Exit(1)
}
