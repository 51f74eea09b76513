package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// planFlags are the --sql, --dry-run and --from options of sync, upgrade,
// expand and contract.
type planFlags struct {
	sql    bool
	dryRun bool
	from   string
}

const sqlHelp = "print the SQL statements this command would run on the configured backend, without connecting to the database " +
	"(alembic's offline mode); the database is assumed empty unless the starting revision is given, as START:VERSION or with --from. " +
	"Data migrations work in batches on the rows present and are shown as comments, not as SQL"

func (p *planFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&p.sql, "sql", false, sqlHelp)
	c.Flags().BoolVar(&p.dryRun, "dry-run", false, "connect, read the version table and print the revisions and statements this command would run, changing nothing")
	c.Flags().StringVar(&p.from, "from", "", "with --sql: the revision(s) the database is at, `START` (comma-separated; default: an empty database)")
}

func (p *planFlags) active() bool { return p.sql || p.dryRun || p.from != "" }

// splitStart separates alembic's offline START:END form.
func splitStart(version string) (start, end string, ok bool) {
	return strings.Cut(version, ":")
}

// plan runs --sql or --dry-run for command kind (sync, upgrade, expand,
// contract) with the target version (sync, upgrade).
func (a *app) plan(ctx context.Context, kind, version string, p *planFlags, backupTo string) error {
	switch {
	case p.sql && p.dryRun:
		return exit(exitUsage, "glance-manage: error: --sql and --dry-run exclude each other: --sql does not connect, --dry-run does")
	case !p.sql && !p.dryRun:
		return exit(exitUsage, "glance-manage: error: --from only applies to --sql")
	case backupTo != "":
		return exit(exitUsage, "glance-manage: error: --backup-to makes no sense with --sql or --dry-run, which change nothing")
	}
	start, end, hasStart := splitStart(version)
	if !hasStart {
		end = version
	}
	if hasStart && p.from != "" {
		return exit(exitUsage, "glance-manage: error: the starting revision was given twice (%q and --from %q); give it once", start, p.from)
	}
	if p.from != "" {
		start, hasStart = p.from, true
	}
	if kind == "upgrade" && end == "" {
		end = "heads"
	}
	cmd := glance.Command(kind)
	if p.dryRun {
		if hasStart {
			return exit(exitUsage, "glance-manage: error: --dry-run reads the starting revision from the database; a START: or --from is for --sql")
		}
		s, err := a.open(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		pl, err := s.mgr.Plan(ctx, cmd, end)
		var le *glance.LegacyError
		var fe *glance.ForeignDatabaseError
		if errors.As(err, &le) || errors.As(err, &fe) || (err == nil && len(pl.Read) == 0 && !pl.Empty) {
			return exit(exitError, "ERROR: the database has tables but no alembic_version rows; a real run would first place it under migration control (or refuse), which a dry run cannot plan. Run `glance-manage db version` to see its state.")
		}
		if err != nil {
			return a.runFail(err)
		}
		return a.renderPlan(pl, s.mgr)
	}
	u, err := a.offlineURL()
	if err != nil {
		return err
	}
	mgr, err := glance.New(nil, u.Dialect)
	if err != nil {
		return exit(exitError, "ERROR: %v", err)
	}
	var rows []string
	if hasStart {
		if rows, err = startRows(mgr.Graph(), start); err != nil {
			return a.fail(err)
		}
	}
	pl, err := mgr.PlanFrom(cmd, end, rows)
	if err != nil {
		return a.runFail(err)
	}
	return a.renderPlan(pl, mgr)
}

// startRows resolves a START (revision ids, labels or "base", comma-separated)
// to the version-table rows of a database at those revisions.
func startRows(g *migrate.Graph, start string) ([]string, error) {
	var ids []string
	for _, spec := range strings.Split(start, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		r, err := g.Resolve(spec)
		if err != nil {
			return nil, err
		}
		ids = append(ids, r...)
	}
	return g.Minimal(ids), nil
}

// offlineURL finds the configured database URL without connecting: --sql
// only needs its backend.
func (a *app) offlineURL() (*dburl.URL, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	conn := cfg.Connection
	if conn == "" {
		if len(a.configFiles) > 0 {
			return nil, exit(exitError, "ERROR: no database connection is configured: set [database] connection in %s (or the OS_DATABASE__CONNECTION environment variable)", configNames(cfg))
		}
		conn = "sqlite:///" + DefaultSQLiteFile // the default database; only its backend matters here
	}
	u, err := dburl.Parse(conn)
	if err != nil {
		return nil, exit(exitError, "ERROR: invalid [database] connection (from %s): %v", sourceOf(cfg), err)
	}
	return u, nil
}

// renderPlan prints pl as a script in the dialect's syntax: a header
// saying where it starts, then each revision with the data migrations that
// must be complete before it.
func (a *app) renderPlan(pl *glance.Plan, mgr *glance.Manager) error {
	w, err := dialect.NewScriptWriter(a.out, mgr.Dialect)
	if err != nil {
		return exit(exitError, "ERROR: %v", err)
	}
	mode := "--sql"
	if pl.Live {
		mode = "--dry-run"
	}
	w.Comment("glance-manage db %s %s: %s statements", pl.Command, mode, mgr.Dialect.Name())
	if pl.Live {
		w.Comment("Dry run: nothing was changed. Current revision(s): %s", orNone(pl.Start, "none (empty database)"))
	} else {
		w.Comment("Starting revision(s): %s. Nothing was connected to.", orNone(pl.Start, "none (an empty database)"))
	}
	switch pl.UpToDate {
	case glance.NotUpToDate:
	case glance.ExpandUpToDate:
		w.Comment("%s", msgExpandUpToDate)
		return w.Err()
	default:
		w.Comment("%s", msgUpToDate)
		return w.Err()
	}
	steps := pl.Steps()
	if len(steps) == 0 {
		w.Comment("Nothing to apply: the database is already at %s.", strings.Join(pl.Start, ", "))
		return w.Err()
	}
	ids := make([]string, len(steps))
	for i, st := range steps {
		ids[i] = st.Revision.ID
	}
	w.Comment("Revisions to apply (%d): %s", len(steps), strings.Join(ids, " "))
	w.Comment("Resulting revision(s): %s", strings.Join(pl.Result, ", "))
	if len(pl.Start) == 0 && pl.Live && len(steps) > 1 {
		w.Comment("This database is empty: the real run creates the resulting schema in one step")
		w.Comment("(the same tables, columns, indexes and version rows); below, the revisions one by one.")
	}
	for _, st := range steps {
		for _, ds := range st.Data {
			dataNote(w, ds)
		}
		w.Blank()
		rev := st.Revision
		head := fmt.Sprintf("Running upgrade %s -> %s", rev.Down, rev.ID)
		if rev.Message != "" {
			head += ", " + rev.Message
		}
		if rev.Release != "" {
			head += " [" + rev.Release + "]"
		}
		w.Comment("%s", head)
		w.Transaction(st.SQL)
	}
	return w.Err()
}

// dataNote writes, at the point where it must run, a data migration: its
// statements where the script migrates the rows at once, otherwise a note
// saying why there is nothing to run (see glance.DataMode).
func dataNote(w *dialect.ScriptWriter, ds glance.DataStep) {
	dm := ds.Migration
	w.Blank()
	w.Comment("Data migration %s (release %s) must be complete here, before %s.", dm.Name, dm.Release, dm.Before)
	switch ds.Mode {
	case glance.DataBatched:
		if ds.Rows >= 0 {
			w.Comment("It would now change %d row(s), in short keyed batches; it is not shown as SQL.", ds.Rows)
		} else {
			w.Comment("It runs on the rows present once %s is applied, in short keyed batches; it is not shown as SQL.", dm.After)
		}
	case glance.DataNoRows:
		w.Comment("This script starts from an empty database, so there are no rows to migrate.")
	case glance.DataAtOnce:
		w.Comment("Here it migrates every row still to migrate at once (db migrate does the same in short keyed batches).")
		w.Transaction(ds.SQL)
	case glance.DataMigrateHere:
		w.Comment("It changes the rows present in keyed batches and cannot be written as SQL ahead of time.")
		w.Comment("If the database holds rows, apply this script up to here, run `glance-manage db migrate`, then apply the rest.")
	default:
		w.Comment("It changes the rows present in keyed batches and cannot be written as SQL ahead of time.")
		w.Comment("If the database holds rows, this script cannot carry them over: upgrade online with `glance-manage db upgrade %s` instead.", dm.Before)
	}
}

func orNone(rows []string, none string) string {
	if len(rows) == 0 {
		return none
	}
	return strings.Join(rows, ", ")
}
