package cli

import (
	"context"
	"fmt"
	"io"
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
	if p.dryRun {
		if hasStart {
			return exit(exitUsage, "glance-manage: error: --dry-run reads the starting revision from the database; a START: or --from is for --sql")
		}
		s, err := a.open(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		rows, err := s.mgr.Migrator.Heads(ctx)
		if err != nil {
			return a.fail(err)
		}
		rows = renamedRows(rows)
		if len(rows) == 0 {
			empty, err := s.mgr.Migrator.IsEmpty(ctx)
			if err != nil {
				return a.fail(err)
			}
			if !empty {
				return exit(exitError, "ERROR: the database has tables but no alembic_version rows; a real run would first place it under migration control (or refuse), which a dry run cannot plan. Run `glance-manage db version` to see its state.")
			}
		}
		if err := s.mgr.Graph().CheckRows(rows); err != nil {
			return a.fail(err)
		}
		return a.renderPlan(ctx, kind, end, rows, s, s.mgr)
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
	return a.renderPlan(ctx, kind, end, rows, nil, mgr)
}

// renamedRows applies upstream's renaming of Ocata's and Pike's monolithic
// revision ids in memory (a dry run writes nothing).
func renamedRows(rows []string) []string {
	out := append([]string(nil), rows...)
	for _, old := range []string{"pike01", "ocata01"} {
		for i, r := range out {
			if r == old {
				out[i] = strings.TrimSuffix(old, "01") + "_contract01"
				return out
			}
		}
	}
	return out
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

// phase is one upgrade a command performs: sync runs two (expand, then
// contract), the others one.
type phase struct {
	targets []string
	opts    migrate.Options
}

// renderPlan prints what command kind would do to a database whose version
// table holds rows. s is the open session of a dry run (nil for --sql).
func (a *app) renderPlan(ctx context.Context, kind, version string, rows []string, s *session, mgr *glance.Manager) error {
	g := mgr.Graph()
	applied := g.Applied(rows)
	expandHead, contractHead := mgr.ExpandHead(), mgr.ContractHead()
	var phases []phase
	var upToDate string
	switch kind {
	case "sync":
		if version != "" {
			targets, err := g.Resolve(version)
			if err != nil {
				return a.fail(err)
			}
			phases = []phase{{targets, migrate.Options{RunData: true}}}
		} else if applied[contractHead] {
			upToDate = msgUpToDate
		} else {
			phases = []phase{{[]string{expandHead}, migrate.Options{}}, {[]string{contractHead}, migrate.Options{RunData: true}}}
		}
	case "upgrade":
		targets, err := g.Resolve(version)
		if err != nil {
			return a.fail(err)
		}
		phases = []phase{{targets, migrate.Options{Online: true, RunData: true}}}
	case "expand":
		switch {
		case applied[contractHead]:
			upToDate = msgUpToDate
		case applied[expandHead]:
			upToDate = msgExpandUpToDate
		default:
			phases = []phase{{[]string{expandHead}, migrate.Options{Online: true}}}
		}
	case "contract":
		switch {
		case applied[contractHead]:
			upToDate = msgUpToDate
		case !applied[expandHead]:
			return exit(exitError, "%s", msgContractNoExpand)
		default:
			phases = []phase{{[]string{contractHead}, migrate.Options{Online: true}}}
		}
	default:
		return fmt.Errorf("plan: unknown command %q", kind)
	}

	var pending map[string]int64
	if s != nil {
		var err error
		if pending, err = s.mgr.Migrator.PendingData(ctx); err != nil {
			return a.fail(err)
		}
		if kind == "contract" {
			for _, n := range pending {
				if n > 0 {
					return exit(exitError, "%s", msgContractNeedsData)
				}
			}
		}
	}

	// The revisions in order, each with the options of its phase.
	type step struct {
		rev  *migrate.Revision
		opts migrate.Options
	}
	var steps []step
	cur := rows
	for _, ph := range phases {
		plan, err := g.Plan(cur, ph.targets)
		if err != nil {
			return a.fail(err)
		}
		for _, r := range plan {
			steps = append(steps, step{r, ph.opts})
			cur = g.ApplyStep(cur, r.ID)
		}
	}

	w := &sqlWriter{w: a.out, mysql: mgr.Dialect.Name() == "mysql"}
	mode := "--sql"
	if s != nil {
		mode = "--dry-run"
	}
	w.comment("glance-manage db %s %s: %s statements", kind, mode, mgr.Dialect.Name())
	if s != nil {
		w.comment("Dry run: nothing was changed. Current revision(s): %s", orNone(rows, "none (empty database)"))
	} else {
		w.comment("Starting revision(s): %s. Nothing was connected to.", orNone(rows, "none (an empty database)"))
	}
	if upToDate != "" {
		w.comment("%s", upToDate)
		return nil
	}
	ids := make([]string, len(steps))
	for i, st := range steps {
		ids[i] = st.rev.ID
	}
	if len(steps) == 0 {
		w.comment("Nothing to apply: the database is already at %s.", strings.Join(rows, ", "))
		return nil
	}
	w.comment("Revisions to apply (%d): %s", len(steps), strings.Join(ids, " "))
	w.comment("Resulting revision(s): %s", strings.Join(cur, ", "))
	if len(rows) == 0 && s != nil && len(steps) > 1 {
		w.comment("This database is empty: the real run creates the resulting schema in one step")
		w.comment("(the same tables, columns, indexes and version rows); below, the revisions one by one.")
	}

	cur = rows
	transactional := mgr.Dialect.TransactionalDDL()
	for _, st := range steps {
		for _, dm := range mgr.Migrator.Data {
			if dm.Before == st.rev.ID && (st.opts.RunData || kind == "contract") {
				a.dataNote(w, dm, mgr.Dialect, rows, pending, s != nil, g.Applied(cur)[expandHead])
			}
		}
		stmts, err := mgr.Migrator.RenderSQL(cur, []string{st.rev.ID}, st.opts)
		if err != nil {
			return a.fail(err)
		}
		w.blank()
		head := fmt.Sprintf("Running upgrade %s -> %s", st.rev.Down, st.rev.ID)
		if st.rev.Message != "" {
			head += ", " + st.rev.Message
		}
		if st.rev.Release != "" {
			head += " [" + st.rev.Release + "]"
		}
		w.comment("%s", head)
		if transactional {
			w.stmt("BEGIN")
		}
		for _, sq := range stmts {
			if strings.HasPrefix(sq, "-- Running upgrade ") {
				continue // our own header says it, with the message
			}
			w.stmt(sq)
		}
		if transactional {
			w.stmt("COMMIT")
		}
		cur = g.ApplyStep(cur, st.rev.ID)
	}
	return w.err
}

// dataNote writes, at the point where it must run, a data migration: in a
// script for a database that may hold rows, its statements (dm.SQL: every
// row at once, as an offline upgrade does); otherwise a note saying why
// there is nothing to run. atExpandHead says whether the expand branch is
// fully applied there (what `db migrate` needs).
func (a *app) dataNote(w *sqlWriter, dm *migrate.DataMigration, d dialect.Dialect, start []string, pending map[string]int64, live, atExpandHead bool) {
	w.blank()
	w.comment("Data migration %s (release %s) must be complete here, before %s.", dm.Name, dm.Release, dm.Before)
	switch {
	case live:
		if n, ok := pending[dm.Name]; ok {
			w.comment("It would now change %d row(s), in short keyed batches; it is not shown as SQL.", n)
		} else {
			w.comment("It runs on the rows present once %s is applied, in short keyed batches; it is not shown as SQL.", dm.After)
		}
	case len(start) == 0:
		w.comment("This script starts from an empty database, so there are no rows to migrate.")
	case dm.SQL != nil:
		w.comment("Here it migrates every row still to migrate at once (db migrate does the same in short keyed batches).")
		if d.TransactionalDDL() {
			w.stmt("BEGIN")
		}
		for _, q := range dm.SQL(d) {
			w.stmt(q)
		}
		if d.TransactionalDDL() {
			w.stmt("COMMIT")
		}
	case atExpandHead:
		w.comment("It changes the rows present in keyed batches and cannot be written as SQL ahead of time.")
		w.comment("If the database holds rows, apply this script up to here, run `glance-manage db migrate`, then apply the rest.")
	default:
		w.comment("It changes the rows present in keyed batches and cannot be written as SQL ahead of time.")
		w.comment("If the database holds rows, this script cannot carry them over: upgrade online with `glance-manage db upgrade %s` instead.", dm.Before)
	}
}

func orNone(rows []string, none string) string {
	if len(rows) == 0 {
		return none
	}
	return strings.Join(rows, ", ")
}

// sqlWriter prints statements the way the backend's command-line client
// reads them: each ends with ";" and a blank line follows it; on MySQL a
// statement with ";" inside (a trigger body) is wrapped in DELIMITER
// lines, as the mysql client needs.
type sqlWriter struct {
	w      io.Writer
	mysql  bool
	err    error
	spaced bool // the output ends with a blank line (or is empty)
}

func (s *sqlWriter) printf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if s.err == nil && text != "" {
		_, s.err = io.WriteString(s.w, text)
		s.spaced = strings.HasSuffix(text, "\n\n")
	}
}

func (s *sqlWriter) comment(format string, args ...any) {
	s.printf("-- %s\n", fmt.Sprintf(format, args...))
}

func (s *sqlWriter) blank() {
	if !s.spaced {
		s.printf("\n")
		s.spaced = true
	}
}

func (s *sqlWriter) stmt(sql string) {
	sql = strings.TrimRight(strings.TrimSpace(sql), ";")
	if isComment(sql) {
		s.printf("%s\n\n", sql)
		return
	}
	if s.mysql && strings.Contains(sql, ";") {
		s.printf("DELIMITER $$\n%s$$\nDELIMITER ;\n\n", sql)
		return
	}
	s.printf("%s;\n\n", sql)
}

// isComment reports whether every line of s is an SQL comment.
func isComment(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			return false
		}
	}
	return true
}
