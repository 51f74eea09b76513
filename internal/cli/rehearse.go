package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/backup"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/rehearse"
	"github.com/glance-manage/glance-manage/migrate"
)

// `db rehearse`: the upgrade on a scratch copy of the database, under a
// light load, measured (package glance/rehearse does the work).

func rehearseCommand(a *app) (*cobra.Command, *cobra.Command) {
	var format, scratch string
	c := &cobra.Command{
		Use:   "rehearse [--scratch URL]",
		Short: "Rehearse the upgrade on a scratch copy: how long, and what the services will feel",
		Long: "Copy the database (a consistent snapshot, as db backup takes) into a scratch database, run the\n" +
			"preflight checks there, then db expand, db migrate and db contract on the copy beside a light\n" +
			"load of old- and new-release writers, and print per phase its duration, the rows it wrote, the\n" +
			"longest lock wait and writer stall, the shadow copies and what was tried again; then the estimate\n" +
			"for the real run and the commands to use. The scratch database is dropped at the end, also after\n" +
			"a failure or Ctrl-C. The source database is only read.\n\n" +
			"The scratch database is, by default, the source database's name with _rehearse, on the\n" +
			"source's server (created, then dropped: the user needs the privilege to create databases), or\n" +
			"on SQLite a hidden file next to the source's. --scratch URL names another: a database that does\n" +
			"not exist yet on the same server, an empty database (emptied again at the end) or an SQLite file\n" +
			"that does not exist. Exit 0 when the rehearsal went through, 1 when it could not be made or a\n" +
			"phase failed on the copy, 6 when the preflight checks found a blocker.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return exit(exitUsage, "glance-manage: error: --format must be text or json, not %q", format)
			}
			return a.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				return a.rehearse(ctx, s, scratch, format)
			})
		},
	}
	c.Flags().StringVar(&scratch, "scratch", "", "the scratch database, an SQLAlchemy `URL` of the source's backend (default: the source database's name with _rehearse, on the same server, or a file next to the SQLite database)")
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	a.inPlaceFlag(c)
	return c, nil
}

func (a *app) rehearse(ctx context.Context, s *session, scratch, format string) error {
	lockWait, err := a.ddlLimit()
	if err != nil {
		return err
	}
	opts, err := a.openOptions()
	if err != nil {
		return err
	}
	raw := s.cfg.Connection
	if raw == "" {
		raw = "sqlite:///" + s.url.Path
	}
	rep, err := rehearse.Run(ctx, s.mgr, s.url, rehearse.Options{
		Scratch:     scratch,
		SourceRaw:   raw,
		OpenOptions: opts,
		Backup:      &backup.Options{ExcludePrefix: glance.Naming.BookkeepingPrefix()},
		Upgrade:     migrate.Options{InPlaceRebuild: a.inPlace, LockWait: lockWait},
		Notify:      func(line string) { a.logf("%s", line) },
	})
	if rep != nil {
		if format == "json" {
			if perr := a.printJSON(rep); perr != nil {
				return perr
			}
		} else {
			a.printRehearsal(rep)
		}
	}
	if err != nil {
		return a.rehearseFail(rep, err)
	}
	if rep.Blocked() {
		return exit(exitPreflight, "ERROR: the preflight checks found %d blocker(s) on the copy (listed above): the real `glance-manage db expand` would refuse to start. Fix them, then run `glance-manage db rehearse` again.", len(rep.Preflight.Blockers))
	}
	return nil
}

// rehearseFail is the one line of a rehearsal that could not be made or
// failed.
func (a *app) rehearseFail(rep *rehearse.Report, err error) error {
	var se *rehearse.ScratchError
	var pe *rehearse.PhaseError
	gone := "the scratch database was dropped"
	if rep != nil && rep.ScratchGone == "" {
		gone = "nothing was created"
	}
	if rep != nil && rep.ScratchGone != "" {
		gone = "the scratch copy is gone (" + rep.ScratchGone + ")"
	}
	switch {
	case errors.Is(err, context.Canceled):
		return exit(a.exitInterrupted(), "ERROR: the rehearsal was interrupted; %s and the source database was not changed.", gone)
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrSameDatabase):
		return exit(exitUsage, "ERROR: --scratch %s is the source database itself: a rehearsal runs on a copy. Name another database, or leave --scratch out to use a new one on the same server.", se.Name)
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrScratchNotEmpty):
		return exit(exitError, "ERROR: the scratch database %s is not empty (it has %s): db rehearse writes only into a new or empty database and never drops what it did not create. Name an empty one with --scratch, or drop those tables first.", se.Name, se.Detail)
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrScratchExists):
		return exit(exitError, "ERROR: the scratch file %s exists: db rehearse never overwrites a file. Name a file that does not exist with --scratch.", se.Name)
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrBackendMismatch):
		return exit(exitUsage, "ERROR: --scratch %s is of another backend (%s): the copy is made with the source backend's own dump tools. Name a database of the same backend.", se.Name, se.Detail)
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrScratchCreate):
		return exit(exitError, "ERROR: cannot create the scratch database %s on the server (%s). Create an empty database yourself and name it with --scratch URL.", se.Name, oneLine(errors.New(se.Detail)))
	case errors.As(err, &se) && errors.Is(err, rehearse.ErrScratchOpen):
		return exit(exitError, "ERROR: cannot open the scratch database %s (%s). Check --scratch: the database must exist and be empty (or not exist yet on the source's server).", se.Name, oneLine(errors.New(se.Detail)))
	case errors.As(err, &se):
		return exit(exitError, "ERROR: %s; %s. The source database was not changed.", oneLine(se), gone)
	case errors.Is(err, rehearse.ErrCopy):
		var te *backup.ToolError
		if errors.As(err, &te) {
			return exit(exitError, "ERROR: cannot copy the database into the scratch database: %s is not installed; install the Debian package %s.", te.Tool, te.Package)
		}
		return exit(exitError, "ERROR: cannot copy the database into the scratch database: %s; %s.", strings.TrimPrefix(oneLine(err), "rehearse: cannot copy the database: "), gone)
	case errors.As(err, &pe):
		why := oneLine(pe.Err)
		var le *glance.LegacyError
		if errors.As(err, &le) && le.TooOld {
			why += " (" + msgLegacyTooOld + ")"
		}
		return exit(exitError, "ERROR: the rehearsal's %s failed on the copy: %s. The real run would likely fail the same way; %s and the source database was not changed.", pe.Phase, why, gone)
	}
	return exit(exitError, "ERROR: the rehearsal could not run: %s; %s and the source database was not changed.", oneLine(err), gone)
}

func msDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (a *app) printRehearsal(r *rehearse.Report) {
	if r.NothingToDo != "" {
		a.printf("Nothing to rehearse: %s.", r.NothingToDo)
		return
	}
	from := strings.Join(r.From, ", ")
	if from == "" {
		from = "a legacy version (not under alembic control)"
	}
	a.printf("Rehearsal of the upgrade of the %s database %s from %s to %s", r.Backend, r.Source, from, r.To)
	if r.Copy != nil {
		var tables []string
		var total int64
		for t, n := range r.Copy.Rows {
			tables = append(tables, t)
			total += n
		}
		sort.Strings(tables)
		a.printf("Copy: %s, made in %s: %d rows in %d tables (images: %d), %s (the source: %s)", r.Scratch, msDur(r.Copy.Took.D()), total, len(tables), r.Copy.Rows["images"],
			humanBytes(r.Copy.ScratchBytes), humanBytes(r.Copy.SourceBytes))
	}
	if r.Preflight != nil {
		for _, f := range r.Preflight.Blockers {
			a.printf("Preflight on the copy: BLOCKER: %s", f.Message)
		}
		for _, f := range r.Preflight.Warnings {
			a.printf("Preflight on the copy: WARNING: %s", f.Message)
		}
		for _, f := range r.Preflight.Notes {
			a.printf("Preflight on the copy: NOTE: %s", f.Message)
		}
		if len(r.Preflight.Blockers)+len(r.Preflight.Warnings)+len(r.Preflight.Notes) == 0 {
			a.printf("Preflight on the copy: no problems found.")
		}
	}
	if r.Load != nil {
		a.printf("Load: %d old-release writer(s) (setting %s) from the start, %d new-release writer(s) (setting visibility) from migrate on, one write every %s each; old writers stop before contract",
			r.Load.OldWriters, r.Load.OldColumn, r.Load.NewWriters, r.Load.Pace.D())
	}
	if len(r.Phases) > 0 {
		a.printf("%-9s %10s %9s %11s %11s %11s %8s %7s %8s", "phase", "duration", "rows", "lock wait", "stall", "max write", "writes", "failed", "retries")
		for _, p := range r.Phases {
			var retries int64
			for _, x := range p.Retries {
				retries += x.Count
			}
			dur := msDur(p.Duration.D())
			if !p.Ran && r.Failed != p.Name {
				dur = "skipped"
			}
			a.printf("%-9s %10s %9d %11s %11s %11s %8d %7d %8d", p.Name, dur, p.Rows, msDur(p.LockWait.D()), msDur(p.Stall.D()), msDur(p.MaxWrite.D()), p.Writes, p.FailedWrites, retries)
		}
		for _, p := range r.Phases {
			if !p.Ran {
				if r.Failed != p.Name {
					a.printf("%s: nothing to do.", p.Name)
				}
				continue
			}
			for _, c := range p.ShadowCopies {
				a.printf("%s: shadow copy of %s: %d rows in %s", p.Name, c.Table, c.Rows, msDur(c.Took.D()))
			}
			if len(p.ShadowCopies) == 0 {
				a.printf("%s: no shadow copies", p.Name)
			}
			if p.LockWait > 0 {
				a.printf("%s: longest lock wait %s (%s)", p.Name, msDur(p.LockWait.D()), p.LockWaitOn)
			}
			if p.LongestStatement > 0 {
				a.printf("%s: longest statement %s: %s", p.Name, msDur(p.LongestStatement.D()), p.LongestStatementSQL)
			}
			if len(p.Retries) == 0 {
				a.printf("%s: nothing needed a retry", p.Name)
			}
			for _, x := range p.Retries {
				a.printf("%s: retried %d time(s): %s", p.Name, x.Count, x.What)
			}
		}
	}
	for _, w := range r.Writes {
		a.printf("failed write: %s", w)
	}
	if r.Failed != "" {
		a.printf("The rehearsal stopped: %s failed on the copy: %s", r.Failed, strings.Join(strings.Fields(r.Error), " "))
	}
	if e := r.Estimate; e != nil {
		var parts []string
		for _, p := range r.Phases {
			if p.Ran {
				parts = append(parts, fmt.Sprintf("%s %s", p.Name, msDur(e.Phases[p.Name].D())))
			}
		}
		a.printf("Estimate for the real run: %s; %s in all. How: %s.", strings.Join(parts, ", "), msDur(e.Total.D()), e.Basis)
	}
	if len(r.Commands) > 0 {
		a.printf("Commands for the real run:")
		for _, c := range r.Commands {
			if c.Run == "" {
				a.printf("  # %s", c.Note)
			} else {
				a.printf("  %-60s # %s", c.Run, c.Note)
			}
		}
	}
	if r.ScratchGone != "" {
		a.printf("Scratch copy: %s.", r.ScratchGone)
	}
}
