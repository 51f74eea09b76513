package oslog

import (
	"strconv"

	"github.com/spf13/pflag"
)

// CommandLine holds the oslo.log options given on the command line. Its
// Lookup is the cli argument of Resolve.
type CommandLine struct {
	values map[string]string // option name -> value, the last given wins
	flags  map[string]string // option name -> the flag that set it
}

// RegisterFlags adds oslo.log's command-line options to fs, as
// oslo.config spells them: --debug/-d, --log-file PATH, --log-dir DIR,
// --log-date-format FMT, --log-config-append PATH, --syslog-log-facility F
// and the booleans --use-syslog, --use-journal, --use-json,
// --watch-log-file, each with its --noX form (the last one given wins),
// plus the deprecated spellings --logfile, --logdir and --log-config.
// Boolean flags report Type() "bool" and take an optional =VALUE.
func RegisterFlags(fs *pflag.FlagSet) *CommandLine {
	c := &CommandLine{values: map[string]string{}, flags: map[string]string{}}
	for _, opt := range options {
		if opt.flag == "" {
			continue
		}
		switch opt.kind {
		case kBool:
			f := fs.VarPF(&boolFlag{c: c, opt: opt.name, flag: opt.flag}, opt.flag, opt.short, opt.help)
			f.NoOptDefVal = "true"
			nf := fs.VarPF(&boolFlag{c: c, opt: opt.name, flag: "no" + opt.flag, negate: true}, "no"+opt.flag, "", "the opposite of --"+opt.flag)
			nf.NoOptDefVal = "true"
			nf.Hidden = true
		default:
			fs.Var(&stringFlag{c: c, opt: opt.name, flag: opt.flag}, opt.flag, opt.help)
			for _, d := range opt.deprecated {
				name := dashed(d)
				fs.Var(&stringFlag{c: c, opt: opt.name, flag: name}, name, "deprecated spelling of --"+opt.flag)
				_ = fs.MarkHidden(name)
			}
		}
	}
	return c
}

// Lookup returns the value given on the command line for option name
// (log_file) and the flag that gave it.
func (c *CommandLine) Lookup(name string) (string, string, bool) {
	v, ok := c.values[name]
	if !ok {
		return "", "", false
	}
	return v, "--" + c.flags[name], true
}

func dashed(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if ch == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

type stringFlag struct {
	c         *CommandLine
	opt, flag string
}

func (f *stringFlag) Set(v string) error {
	f.c.values[f.opt], f.c.flags[f.opt] = v, f.flag
	return nil
}

func (f *stringFlag) String() string {
	if f.c == nil {
		return ""
	}
	return f.c.values[f.opt]
}

func (f *stringFlag) Type() string { return "string" }

type boolFlag struct {
	c         *CommandLine
	opt, flag string
	negate    bool
}

func (f *boolFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	f.c.values[f.opt], f.c.flags[f.opt] = strconv.FormatBool(b != f.negate), f.flag
	return nil
}

func (f *boolFlag) String() string { return "false" }
func (f *boolFlag) Type() string   { return "bool" }
