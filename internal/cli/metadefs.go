package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glance-manage/glance-manage/glance/metadefs"
	"github.com/glance-manage/glance-manage/migrate"
)

// loadArgs are load_metadefs' parameters.
type loadArgs struct {
	path string
	opts metadefs.LoadOptions
}

func (a *app) loadMetadefsCommands() (*cobra.Command, *cobra.Command) {
	opts := []pyOption{{name: "path"}, {name: "merge", boolean: true}, {name: "prefer_new", boolean: true}, {name: "overwrite", boolean: true}}
	cmd := pyCommand("load_metadefs [--path P] [--merge] [--prefer_new] [--overwrite] [PATH]", describe("load_metadefs"), func(cmd *cobra.Command, args []string) error {
		p, err := a.parseAction(cmd, args, opts)
		if err != nil {
			return err
		}
		if p.help {
			return cmd.Help()
		}
		// Upstream passes the three flags as keywords always, so only PATH
		// can be given as an argument.
		la := loadArgs{path: p.values["path"], opts: metadefs.LoadOptions{Merge: p.flags["merge"], PreferNew: p.flags["prefer_new"], Overwrite: p.flags["overwrite"]}}
		switch {
		case len(p.positional) > 1:
			return exit(exitError, "ERROR: db load_metadefs takes one argument (the path), got %d: %s; use --merge, --prefer_new and --overwrite for the others.", len(p.positional), strings.Join(p.positional, " "))
		case len(p.positional) == 1 && hasKey(p.values, "path"):
			return twice("load_metadefs", "path", 1)
		case len(p.positional) == 1:
			la.path = p.positional[0]
		}
		return a.withDB(func(ctx context.Context, s *session, _ []string) error { return a.loadMetadefs(ctx, s, la) })(cmd, nil)
	}, func(f *pflag.FlagSet) {
		f.String("path", "", "Path to the directory or file where json metadata is stored (default: [DEFAULT] metadata_source_path, "+"/etc/glance/metadefs/)")
		f.Bool("merge", false, "Merge files with data that is in the database. By default it prefers existing data over new. This logic can be changed by combining --merge option with one of these two options: --prefer_new or --overwrite.")
		f.Bool("prefer_new", false, "Prefer new metadata over existing. Existing metadata might be overwritten. Needs to be combined with --merge option.")
		f.Bool("overwrite", false, "Drop and rewrite metadata. Needs to be combined with --merge option")
	})
	cmd.Long = describe("load_metadefs") + "\n\nEvery file is checked before the database is touched, and the load runs in\none transaction: all files are loaded, or none."
	legacy := pyCommand("db_load_metadefs [PATH [MERGE [PREFER_NEW [OVERWRITE]]]]", describe("load_metadefs"), func(cmd *cobra.Command, args []string) error {
		p, err := a.parseAction(cmd, args, nil)
		if err != nil {
			return err
		}
		if p.help {
			return cmd.Help()
		}
		if len(p.positional) > 4 {
			return exit(exitUsage, "%s: error: unrecognized arguments: %s", cmd.CommandPath(), strings.Join(p.positional[4:], " "))
		}
		pos := append(p.positional, "", "", "", "")
		la := loadArgs{path: pos[0], opts: metadefs.LoadOptions{Merge: legacyBool(pos[1]), PreferNew: legacyBool(pos[2]), Overwrite: legacyBool(pos[3])}}
		return a.withDB(func(ctx context.Context, s *session, _ []string) error { return a.loadMetadefs(ctx, s, la) })(cmd, nil)
	}, nil)
	legacy.Hidden = true
	return cmd, legacy
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// legacyBool reads a db_load_metadefs flag argument. Upstream takes any
// non-empty string as true, "False" included; we also read the usual
// spellings of false as false.
func legacyBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "false", "f", "no", "n", "off", "none":
		return false
	}
	return true
}

func (a *app) info(msg string) { a.logLine("INFO  [glance-manage] "+msg, logMetadefs, 1) }

// metadefTablesExist refuses a database without the metadef tables.
func (a *app) metadefTablesExist(ctx context.Context, s *session) error {
	ok, err := s.mgr.Dialect.TableExists(ctx, s.mgr.DB, "metadef_namespaces")
	if err != nil {
		return a.fail(err)
	}
	if !ok {
		return exit(exitError, "ERROR: the database has no metadef tables: it holds no Glance schema yet. Run `glance-manage db sync` first.")
	}
	return nil
}

func (a *app) loadMetadefs(ctx context.Context, s *session, la loadArgs) error {
	if err := la.opts.Check(); err != nil {
		return exit(exitError, "ERROR: %v", err)
	}
	path := la.path
	if path == "" {
		path = s.cfg.MetadataSourcePath
	}
	defs, err := metadefs.ReadAll(path)
	if err != nil {
		return a.metadefsFail(err, path, "Nothing was loaded; fix the file and run the command again.")
	}
	if err := a.metadefTablesExist(ctx, s); err != nil {
		return err
	}
	la.opts.Log = a.info
	if _, err := metadefs.Load(ctx, s.mgr.DB, s.mgr.Dialect, defs, withFence(la.opts, s.fence)); err != nil {
		return a.metadefsFail(err, path, "Nothing was loaded (the load is one transaction).")
	}
	return nil
}

// metadefsFail turns a metadefs error into one line; then says what
// happened to the database.
func (a *app) metadefsFail(err error, path, then string) error {
	var (
		fe *metadefs.FileError
		de *metadefs.DBError
		ce *metadefs.ClashError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return exit(a.exitInterrupted(), "ERROR: interrupted. %s", then)
	case errors.Is(err, metadefs.ErrNoFiles):
		return exit(exitError, "ERROR: Json schema files not found in %s. Aborting. Give the directory of the *.json definition files with --path, or set [DEFAULT] metadata_source_path.", path)
	case errors.As(err, &fe) && fe.Line == 0 && fe.File == path:
		return exit(exitError, "ERROR: cannot read metadata definitions from %s: %s. Give the directory of the *.json definition files with --path, or set [DEFAULT] metadata_source_path.", path, fe.Msg)
	case errors.As(err, &fe):
		return exit(exitError, "ERROR: %v. %s", fe, then)
	case errors.As(err, &ce):
		return exit(exitError, "ERROR: namespaces %s and %s would both be exported to %s (file names come from display_name without its non-word characters). Change one display_name, then export again; no file was written.", ce.A, ce.B, ce.File)
	case errors.As(err, &de):
		return exit(exitError, "ERROR: %v. %s", de, then)
	}
	return a.fail(err)
}

func (a *app) unloadMetadefsCommands() (*cobra.Command, *cobra.Command) {
	mk := func(use string) *cobra.Command {
		return pyCommand(use, describe("unload_metadefs"), func(cmd *cobra.Command, args []string) error {
			p, err := a.parseAction(cmd, args, nil)
			if err != nil {
				return err
			}
			if p.help {
				return cmd.Help()
			}
			if len(p.positional) > 0 {
				return tooMany("unload_metadefs", p.positional)
			}
			return a.withDB(func(ctx context.Context, s *session, _ []string) error {
				if err := a.metadefTablesExist(ctx, s); err != nil {
					return err
				}
				if err := metadefs.Unload(ctx, s.mgr.DB, a.info, s.fence); err != nil {
					return a.metadefsFail(err, "", "Nothing was deleted (the unload is one transaction).")
				}
				return nil
			})(cmd, nil)
		}, nil)
	}
	legacy := mk("db_unload_metadefs")
	legacy.Hidden = true
	return mk("unload_metadefs"), legacy
}

func (a *app) exportMetadefsCommands() (*cobra.Command, *cobra.Command) {
	run := func(cmd *cobra.Command, path string) error {
		return a.withDB(func(ctx context.Context, s *session, _ []string) error {
			if path == "" {
				path = s.cfg.MetadataSourcePath
			}
			if err := a.metadefTablesExist(ctx, s); err != nil {
				return err
			}
			if _, err := metadefs.Export(ctx, s.mgr.DB, s.mgr.Dialect, metadefs.ExportOptions{Path: path, Log: a.info}); err != nil {
				return a.metadefsFail(err, path, "Files written before this one are complete; the others are unchanged.")
			}
			return nil
		})(cmd, nil)
	}
	cmd := pyCommand("export_metadefs [--path P] [PATH]", describe("export_metadefs"), func(cmd *cobra.Command, args []string) error {
		p, err := a.parseAction(cmd, args, []pyOption{{name: "path"}})
		if err != nil {
			return err
		}
		if p.help {
			return cmd.Help()
		}
		path := p.values["path"]
		switch {
		case len(p.positional) > 1:
			return tooMany("export_metadefs", p.positional, "path")
		case len(p.positional) == 1 && hasKey(p.values, "path"):
			return twice("export_metadefs", "path", 1)
		case len(p.positional) == 1:
			path = p.positional[0]
		}
		return run(cmd, path)
	}, func(f *pflag.FlagSet) {
		f.String("path", "", "Path to the directory where json metadata files should be saved (default: [DEFAULT] metadata_source_path). As upstream, it is a file-name prefix: end it with / for a directory.")
	})
	legacy := pyCommand("db_export_metadefs [PATH]", describe("export_metadefs"), func(cmd *cobra.Command, args []string) error {
		p, err := a.parseAction(cmd, args, nil)
		if err != nil {
			return err
		}
		if p.help {
			return cmd.Help()
		}
		if len(p.positional) > 1 {
			return exit(exitUsage, "%s: error: unrecognized arguments: %s", cmd.CommandPath(), strings.Join(p.positional[1:], " "))
		}
		return run(cmd, append(p.positional, "")[0])
	}, nil)
	legacy.Hidden = true
	return cmd, legacy
}

// withFence returns o confirming fence (see metadefs.LoadOptions.Fence).
func withFence(o metadefs.LoadOptions, fence migrate.Fence) metadefs.LoadOptions {
	o.Fence = fence
	return o
}
