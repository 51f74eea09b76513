// Package config loads glance-manage's configuration the way oslo.config
// does for upstream's glance-manage.
//
// # Files and directories
//
// Without --config-file, the default files are read: for each program in
// glance-api, glance-manage, the first glance.conf and the first
// <program>.conf found in the search directories (~/.glance/, ~/,
// /etc/glance/, /etc/, then $SNAP_COMMON/etc/glance and $SNAP/etc/glance
// when set). That gives [glance.conf, glance-api.conf, glance.conf,
// glance-manage.conf] minus missing ones: glance.conf is read twice, on
// purpose, so it overrides glance-api.conf. With --config-file, only the
// given files are read, in order. Later files win.
//
// Then, after all files (so overriding them), each config directory's
// *.conf files are read in sorted order (names starting with "." are
// skipped, as by Python's glob). Without --config-dir the default
// directories are glance.conf.d, glance-api.conf.d, glance.conf.d and
// glance-manage.conf.d, the first found of each; missing ones are skipped.
// A given --config-dir must exist.
//
// A missing or unreadable --config-file (or default file) is an error
// (*FileError) reported after all files are read, as oslo.config does; a
// syntax error (*ParseError) is reported at once.
//
// # Lookups
//
// A value is looked up, in order of precedence, in the environment
// (OS_<GROUP>__<OPTION>, both upper-cased; e.g. OS_DATABASE__CONNECTION),
// then the files from last to first. Within one file the last occurrence of
// a key wins. Group (section) names are matched case-insensitively except
// that only "DEFAULT" is the default group, keys case-sensitively (all as
// oslo.config). For [database] connection the deprecated names
// [DEFAULT] sql_connection, [DATABASE] sql_connection and [sql] connection
// are tried after the real name within each file, so, as in oslo.config, a
// deprecated name in a later file beats the real name in an earlier one;
// using one records a message in Config.Deprecations. The environment
// variable is only read under the real name.
//
// Values then go through oslo.config's template substitution: "$$" and
// "\$" become "$", and "$name" or "${name}" (name: letters, digits, '_',
// '.') is replaced by the value of option name in the same group, else in
// [DEFAULT] ("group.option" names another group). A reference to an option
// that is set nowhere is an error for the options Load resolves (upstream
// fails on it too, or silently substitutes ""), and is left as written by
// Get. So a '$' in a password must be written "$$" in the file, exactly as
// upstream requires; '%' needs no escaping.
//
// The INI dialect is described in ini.go.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
)

// Options says where to read the configuration from.
type Options struct {
	// ConfigFiles are the --config-file arguments, in order. If non-empty,
	// the default files are not read.
	ConfigFiles []string
	// ConfigDirs are the --config-dir arguments, in order. If non-empty,
	// the default directories are not read.
	ConfigDirs []string
	// Getenv reads environment variables; nil means the process
	// environment. With a custom Getenv an empty value counts as unset;
	// with nil, a variable set to "" is used (as oslo.config does).
	Getenv func(string) string
	// SearchDirs are where default files and directories are looked for;
	// nil means DefaultSearchDirs(Getenv).
	SearchDirs []string
}

// Defaults of the options Load resolves.
const (
	DefaultMySQLSQLMode       = "TRADITIONAL"
	DefaultMetadataSourcePath = "/etc/glance/metadefs/"
	// ConnectionEnvVar overrides [database] connection.
	ConnectionEnvVar = "OS_DATABASE__CONNECTION"
)

// ErrNoConnection is returned by RequireConnection when no database is
// configured. Its text is upstream's (oslo.db's CantStartEngineError).
//
//lint:ignore ST1005 upstream's exact text
var ErrNoConnection = errors.New("No sql_connection parameter is established")

// Config is the loaded configuration.
type Config struct {
	// Connection is [database] connection after the environment override
	// and deprecated names; "" if unset.
	Connection string
	// ConnectionSource says where Connection came from: a file path,
	// "environment variable OS_DATABASE__CONNECTION", or "" if unset.
	ConnectionSource string
	// MySQLSQLMode is [database] mysql_sql_mode, "TRADITIONAL" by default.
	// An explicitly empty value means: leave the server's sql_mode alone.
	MySQLSQLMode string
	// ConnectionParameters is [database] connection_parameters, an extra
	// URL query string.
	ConnectionParameters string
	// MetadataSourcePath is [DEFAULT] metadata_source_path,
	// "/etc/glance/metadefs/" by default.
	MetadataSourcePath string
	// Files are the files read, in order (a file read twice appears
	// twice), including those of config directories.
	Files []string
	// Deprecations are warnings about deprecated option names in use, in
	// oslo.config's wording.
	Deprecations []string

	files  []*iniFile
	lookup func(string) (string, bool)
}

// FileError reports a config file or directory that cannot be found or
// read.
type FileError struct {
	Op    string   // "find" or "read"
	Dir   bool     // a --config-dir rather than a file
	Paths []string // the files or directory concerned
	Err   error    // fs.ErrNotExist, fs.ErrPermission or another cause
}

func (e *FileError) Error() string {
	what := "file"
	if e.Dir {
		what = "directory"
	}
	if e.Op == "find" {
		if len(e.Paths) > 1 {
			return fmt.Sprintf("config: failed to find config %ss %s", what, strings.Join(e.Paths, ", "))
		}
		return fmt.Sprintf("config: failed to find config %s %s", what, strings.Join(e.Paths, ""))
	}
	reason := "read error"
	switch {
	case errors.Is(e.Err, fs.ErrPermission):
		reason = "permission denied"
	case e.Err != nil:
		reason = describe(e.Err)
	}
	if len(e.Paths) > 1 {
		return fmt.Sprintf("config: cannot read config %ss %s: %s", what, strings.Join(e.Paths, ", "), reason)
	}
	return fmt.Sprintf("config: cannot read config %s %s: %s", what, strings.Join(e.Paths, ""), reason)
}

func (e *FileError) Unwrap() error { return e.Err }

// describe gives the cause of an I/O error without repeating its path.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// SubstitutionError reports a "$name" reference that cannot be resolved.
// It does not repeat the value, which might be a password.
type SubstitutionError struct {
	Section, Key string
	Source       string // where the value came from
	Reason       string
	Err          error // the cause (e.g. a reference loop)
}

func (e *SubstitutionError) Unwrap() error { return e.Err }

func (e *SubstitutionError) Error() string {
	return fmt.Sprintf("config: [%s] %s (from %s): %s", e.Section, e.Key, e.Source, e.Reason)
}

// DefaultSearchDirs returns oslo.config's search directories for project
// glance: ~/.glance, ~, /etc/glance, /etc, then $SNAP_COMMON/etc/glance and
// $SNAP/etc/glance if those are set. getenv nil means os.Getenv.
func DefaultSearchDirs(getenv func(string) string) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	var dirs []string
	if home := homeDir(getenv); home != "" {
		dirs = append(dirs, filepath.Join(home, ".glance"), home)
	}
	dirs = append(dirs, "/etc/glance", "/etc")
	if s := getenv("SNAP_COMMON"); s != "" {
		dirs = append(dirs, filepath.Join(s, "etc", "glance"))
	}
	if s := getenv("SNAP"); s != "" {
		dirs = append(dirs, filepath.Join(s, "etc", "glance"))
	}
	return dirs
}

func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// progs are the programs whose config upstream's glance-manage reads.
var progs = []string{"glance-api", "glance-manage"}

// DefaultFiles returns the config files upstream reads by default:
// for each program in glance-api, glance-manage, the first glance.conf and
// the first <program>.conf found in searchDirs (nil: DefaultSearchDirs).
// glance.conf may appear twice, as upstream.
func DefaultFiles(searchDirs []string) []string {
	return findDefaults(searchDirs, ".conf")
}

// DefaultDirs returns the config directories upstream reads by default,
// built like DefaultFiles from glance.conf.d and <program>.conf.d.
func DefaultDirs(searchDirs []string) []string {
	return findDefaults(searchDirs, ".conf.d")
}

func findDefaults(searchDirs []string, ext string) []string {
	if searchDirs == nil {
		searchDirs = DefaultSearchDirs(nil)
	}
	var out []string
	for _, prog := range progs {
		for _, name := range []string{"glance", prog} {
			for _, d := range searchDirs {
				p := filepath.Join(d, name+ext)
				if _, err := os.Stat(p); err == nil {
					out = append(out, p)
					break
				}
			}
		}
	}
	return out
}

// Load reads the configuration. See the package documentation.
func Load(o Options) (*Config, error) {
	var getenv func(string) string
	lookup := os.LookupEnv
	if o.Getenv != nil {
		getenv = o.Getenv
		lookup = func(k string) (string, bool) {
			v := o.Getenv(k)
			return v, v != ""
		}
	} else {
		getenv = os.Getenv
	}
	searchDirs := o.SearchDirs
	if searchDirs == nil {
		searchDirs = DefaultSearchDirs(getenv)
	}
	c := &Config{lookup: lookup}

	var missing, denied []string
	var deniedErr error
	readFile := func(path string) error {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, path)
			return nil
		case errors.Is(err, fs.ErrPermission):
			denied = append(denied, path)
			deniedErr = err
			return nil
		default:
			return &FileError{Op: "read", Paths: []string{path}, Err: err}
		}
		f, err := parseINI(path, data)
		if err != nil {
			return err
		}
		c.files = append(c.files, f)
		c.Files = append(c.Files, path)
		return nil
	}

	files := o.ConfigFiles
	if len(files) == 0 {
		files = DefaultFiles(searchDirs)
	}
	for _, f := range files {
		if err := readFile(fixPath(f, getenv)); err != nil {
			return nil, err
		}
	}

	dirs, explicit := o.ConfigDirs, true
	if len(dirs) == 0 {
		dirs, explicit = DefaultDirs(searchDirs), false
	}
	for _, d := range dirs {
		d = fixPath(d, getenv)
		entries, err := os.ReadDir(d)
		if err != nil {
			if !explicit {
				continue // upstream skips what it cannot list
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &FileError{Op: "find", Dir: true, Paths: []string{d}, Err: err}
			}
			return nil, &FileError{Op: "read", Dir: true, Paths: []string{d}, Err: err}
		}
		var names []string
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".conf") && !strings.HasPrefix(n, ".") {
				names = append(names, filepath.Join(d, n))
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if err := readFile(n); err != nil {
				return nil, err
			}
		}
	}
	if len(missing) > 0 {
		return nil, &FileError{Op: "find", Paths: missing, Err: fs.ErrNotExist}
	}
	if len(denied) > 0 {
		return nil, &FileError{Op: "read", Paths: denied, Err: deniedErr}
	}

	if err := c.resolve(); err != nil {
		return nil, err
	}
	return c, nil
}

// fixPath expands a leading "~" and makes the path absolute, as oslo.config
// does with the files it is given.
func fixPath(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home := homeDir(getenv); home != "" {
			p = home + p[1:]
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// name is a (group, option) pair.
type name struct{ group, opt string }

// connectionNames are [database] connection and its deprecated names, in
// the order oslo.config tries them.
var connectionNames = []name{
	{"database", "connection"},
	{"DEFAULT", "sql_connection"},
	{"DATABASE", "sql_connection"},
	{"sql", "connection"},
}

// defaults are values of registered options that substitution may refer
// to even when no file sets them.
var defaults = map[name]string{
	{"database", "mysql_sql_mode"}:      DefaultMySQLSQLMode,
	{"DEFAULT", "metadata_source_path"}: DefaultMetadataSourcePath,
}

func envName(group, opt string) string {
	return "OS_" + strings.ToUpper(group) + "__" + strings.ToUpper(opt)
}

// raw finds the unsubstituted value of an option: the environment (under
// the first name only), then the files from last to first, trying every
// name within a file. It returns the value, where it came from, and the
// name that matched.
func (c *Config) raw(names ...name) (value, source string, matched name, ok bool) {
	first := names[0]
	if v, ok := c.lookup(envName(first.group, first.opt)); ok {
		return v, "environment variable " + envName(first.group, first.opt), first, true
	}
	for i := len(c.files) - 1; i >= 0; i-- {
		for _, n := range names {
			if v, ok := c.files[i].lookup(n.group, n.opt); ok {
				return v, c.files[i].path, n, true
			}
		}
	}
	return "", "", name{}, false
}

// Get returns the value of key in section, with the environment override
// (OS_<SECTION>__<KEY>) and "$" substitution applied; references that
// cannot be resolved are left as written. ok is false when the option is
// set nowhere.
func (c *Config) Get(section, key string) (string, bool) {
	v, _, ok := c.Lookup(section, key)
	return v, ok
}

// Lookup is Get that also says where the value came from: a file path or
// "environment variable OS_<SECTION>__<KEY>" (for messages about a bad
// value).
func (c *Config) Lookup(section, key string) (value, source string, ok bool) {
	v, src, _, ok := c.raw(name{section, key})
	if !ok {
		return "", "", false
	}
	s, err := c.substitute(v, section, 0, true)
	if err != nil {
		return v, src, true
	}
	return s, src, true
}

// RequireConnection returns ErrNoConnection if no database connection is
// configured.
func (c *Config) RequireConnection() error {
	if c.Connection == "" {
		return ErrNoConnection
	}
	return nil
}

func (c *Config) resolve() error {
	get := func(n name, def string) (string, error) {
		v, src, _, ok := c.raw(n)
		if !ok {
			return def, nil
		}
		s, err := c.substitute(v, n.group, 0, false)
		if err != nil {
			return "", &SubstitutionError{Section: n.group, Key: n.opt, Source: src, Reason: err.Error(), Err: err}
		}
		return s, nil
	}

	if v, src, matched, ok := c.raw(connectionNames...); ok {
		if matched != connectionNames[0] {
			c.Deprecations = append(c.Deprecations, fmt.Sprintf(
				"Option %q from group %q is deprecated. Use option %q from group %q.",
				matched.opt, normalizeSection(matched.group), "connection", "database"))
		}
		s, err := c.substitute(v, matched.group, 0, false)
		if err != nil {
			return &SubstitutionError{Section: matched.group, Key: matched.opt, Source: src, Reason: err.Error(), Err: err}
		}
		c.Connection, c.ConnectionSource = s, src
	}
	var err error
	if c.MySQLSQLMode, err = get(name{"database", "mysql_sql_mode"}, DefaultMySQLSQLMode); err != nil {
		return err
	}
	if c.ConnectionParameters, err = get(name{"database", "connection_parameters"}, ""); err != nil {
		return err
	}
	if c.MetadataSourcePath, err = get(name{"DEFAULT", "metadata_source_path"}, DefaultMetadataSourcePath); err != nil {
		return err
	}
	return nil
}
