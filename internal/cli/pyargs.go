package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glance-manage/glance-manage/glance/purge"
)

// The purge and metadefs actions parse their arguments the way upstream's
// argparse subparsers do, which cobra cannot: positional arguments that
// look like negative numbers (`db purge 1 -1`), abbreviated options
// (`--age 5`), `--opt=value`, and upstream's messages for bad option
// values. Their commands set DisableFlagParsing and call parseAction; the
// cobra flags they declare only document the options in --help. Global
// options (--config-file, --debug, …) are accepted anywhere, as on every
// other command.

// pyOption is one option of an action.
type pyOption struct {
	name    string // "age_in_days" for --age_in_days
	boolean bool   // store_true
	integer bool   // type=int: the value must parse as a Python int
	repeat  bool   // action=append: every value is kept (pyArgs.lists)
}

// pyArgs is a parsed action command line.
type pyArgs struct {
	values     map[string]string   // value options given (the last one wins)
	lists      map[string][]string // repeatable options, every value in order
	flags      map[string]bool     // store_true options given
	positional []string
	help       bool
}

var negativeNumber = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

// parseAction parses args (everything after the action's name, plus any
// global options before it) against opts. Usage errors exit 2 with
// argparse's wording.
func (a *app) parseAction(cmd *cobra.Command, args []string, opts []pyOption) (*pyArgs, error) {
	prog := cmd.CommandPath()
	usage := func(format string, x ...any) error {
		return exit(exitUsage, "%s: error: %s\nRun '%s --help' for usage.", prog, fmt.Sprintf(format, x...), prog)
	}
	globals := cmd.Root().PersistentFlags()
	p := &pyArgs{values: map[string]string{}, lists: map[string][]string{}, flags: map[string]bool{}}
	for i := 0; i < len(args); i++ {
		tok := args[i]
		switch {
		case tok == "--":
			p.positional = append(p.positional, args[i+1:]...)
			return p, nil
		case tok == "-h":
			p.help = true
			continue
		case tok == "-d":
			if err := globals.Set("debug", "true"); err != nil {
				return nil, usage("%v", err)
			}
			continue
		case !strings.HasPrefix(tok, "-") || tok == "-" || negativeNumber.MatchString(tok):
			p.positional = append(p.positional, tok)
			continue
		case !strings.HasPrefix(tok, "--"):
			return nil, usage("unrecognized arguments: %s", strings.Join(args[i:], " "))
		}
		name, val, hasVal := strings.Cut(tok[2:], "=")
		// Global options first, by their exact name.
		if g := globals.Lookup(name); g != nil {
			if g.Value.Type() == "bool" && !hasVal {
				val, hasVal = "true", true
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, usage("argument --%s: expected one argument", name)
				}
				i++
				val = args[i]
			}
			if err := globals.Set(name, val); err != nil {
				return nil, usage("argument --%s: %v", name, err)
			}
			continue
		}
		opt, err := matchOption(name, opts)
		if err != nil {
			return nil, usage("%v", err)
		}
		switch {
		case opt == nil:
			return nil, usage("unrecognized arguments: %s", tok)
		case opt.name == "help":
			p.help = true
		case opt.boolean:
			if hasVal {
				return nil, usage("argument --%s: ignored explicit argument '%s'", opt.name, val)
			}
			p.flags[opt.name] = true
		default:
			if !hasVal {
				if i+1 >= len(args) || (strings.HasPrefix(args[i+1], "-") && !negativeNumber.MatchString(args[i+1])) {
					return nil, usage("argument --%s: expected one argument", opt.name)
				}
				i++
				val = args[i]
			}
			if opt.integer {
				n, ok := purge.ParseInt(val)
				if !ok {
					return nil, usage("argument --%s: invalid int value: '%s'", opt.name, val)
				}
				val = n.String()
			}
			p.values[opt.name] = val
			if opt.repeat {
				p.lists[opt.name] = append(p.lists[opt.name], val)
			}
		}
	}
	return p, nil
}

// matchOption finds the option called name or, as argparse allows, the
// only one whose name starts with it. nil means no match.
func matchOption(name string, opts []pyOption) (*pyOption, error) {
	all := append([]pyOption{{name: "help", boolean: true}}, opts...)
	var found []*pyOption
	for i := range all {
		if all[i].name == name {
			return &all[i], nil
		}
		if name != "" && strings.HasPrefix(all[i].name, name) {
			found = append(found, &all[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	var names []string
	for _, o := range found {
		names = append(names, "--"+o.name)
	}
	return nil, fmt.Errorf("ambiguous option: --%s could match %s", name, strings.Join(names, ", "))
}

// pyCommand builds a command whose arguments parseAction handles; flags
// only documents the options for --help.
func pyCommand(use, short string, run func(*cobra.Command, []string) error, flags func(*pflag.FlagSet)) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, DisableFlagParsing: true, RunE: run}
	if flags != nil {
		flags(c.Flags())
	}
	return c
}

// twice is the error for a parameter given both as an argument and as an
// option (upstream: a TypeError, exit 1).
func twice(action, param string, pos int) error {
	return exit(exitError, "ERROR: %s was given twice, as argument %d and as --%s; give it once (glance-manage db %s --help).", param, pos, param, action)
}

// tooMany is the error for extra positional arguments (upstream: a
// TypeError, exit 1).
func tooMany(action string, got []string, params ...string) error {
	if len(params) == 0 {
		return exit(exitError, "ERROR: db %s takes no arguments, got %s (glance-manage db %s --help).", action, strings.Join(got, " "), action)
	}
	return exit(exitError, "ERROR: db %s takes at most %d argument(s) (%s), got %d: %s (glance-manage db %s --help).",
		action, len(params), strings.Join(params, ", "), len(got), strings.Join(got, " "), action)
}
