package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/migrate"
)

// `db preflight` and the same checks at the start of db expand, db
// contract, db sync and db upgrade (package glance/preflight holds the
// rules; this file prints and sets the exit code).

func preflightCommand(a *app) (*cobra.Command, *cobra.Command) {
	var format string
	var offline bool
	c := &cobra.Command{
		Use:   "preflight",
		Short: "Check what would break the upgrade, before it starts",
		Long: "Check the database and its server for what would make the phases still to run\n" +
			"(expand, migrate, contract; for an empty database, the build) fail, or hold up the\n" +
			"services while they run. Prints one line per finding, BLOCKER: or WARNING: (NOTE:\n" +
			"for what cannot be checked); exits 0 when nothing blocks, 6 when something does.\n" +
			"Takes no lock and changes nothing.",
		Args: noArgs,
		RunE: a.withDB(func(ctx context.Context, s *session, _ []string) error {
			if format != "text" && format != "json" {
				return exit(exitUsage, "glance-manage: error: --format must be text or json, not %q", format)
			}
			r, err := preflight.Run(ctx, s.mgr, preflight.Options{Online: !offline, InPlaceRebuild: a.inPlace})
			if err != nil {
				return a.fail(fmt.Errorf("the preflight checks could not read the database: %w", err))
			}
			if format == "json" {
				if err := a.printJSON(r); err != nil {
					return err
				}
			} else {
				a.printReport(r)
			}
			if r.Blocked() {
				return exit(exitPreflight, "")
			}
			return nil
		}),
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().BoolVar(&offline, "offline", false, "check for db sync (services stopped) instead of the rolling phases")
	a.inPlaceFlag(c)
	return c, nil
}

func (a *app) printReport(r *preflight.Report) {
	if len(r.Phases) == 0 && len(r.Blockers)+len(r.Warnings)+len(r.Notes) == 0 {
		a.printf("Nothing to check: the database is up to date, no phase is left to run.")
		return
	}
	for _, f := range r.Blockers {
		a.printf("BLOCKER: %s", f.Message)
	}
	for _, f := range r.Warnings {
		a.printf("WARNING: %s", f.Message)
	}
	for _, f := range r.Notes {
		a.printf("NOTE: %s", f.Message)
	}
	phases := strings.Join(r.Phases, ", ")
	if phases == "" {
		phases = "which cannot be told: the database cannot be read"
	}
	switch {
	case r.Blocked():
		a.printf("Preflight: %d blocker(s), %d warning(s) for the phases still to run (%s). Fix the blockers before upgrading.", len(r.Blockers), len(r.Warnings), phases)
	case len(r.Warnings) > 0:
		a.printf("Preflight: nothing blocks the phases still to run (%s); %d warning(s).", phases, len(r.Warnings))
	default:
		a.printf("Preflight: no problems found for the phases still to run (%s).", phases)
	}
}

// skipPreflightFlag registers --skip-preflight.
func (a *app) skipPreflightFlag(c *cobra.Command) {
	c.Flags().BoolVar(&a.skipPreflight, "skip-preflight", false,
		"run even when the preflight checks (glance-manage db preflight) find a blocker")
}

// preflightTimeout bounds the checks a command makes before it acts.
const preflightTimeout = 30 * time.Second

// preflightRun is what a command is about to do, for the checks.
type preflightRun struct {
	targets []string // nil: every head
	online  bool
	skip    bool // the target cannot be resolved: the command says why
}

func phasePreflight(_ *session, head string) *preflightRun {
	if head == "" {
		return &preflightRun{skip: true}
	}
	return &preflightRun{targets: []string{head}, online: true}
}

func syncPreflight(s *session, version string) *preflightRun {
	if version == "" {
		return &preflightRun{}
	}
	t, err := s.mgr.Graph().Resolve(version)
	return &preflightRun{targets: t, skip: err != nil}
}

func upgradePreflight(s *session, version string) *preflightRun {
	t, err := s.mgr.Graph().Resolve(version)
	return &preflightRun{targets: t, online: true, skip: err != nil}
}

// preflightBefore runs the checks before cmd acts: it prints the
// warnings and refuses, with one line naming the first blocker and
// --skip-preflight, when anything blocks. Checks that cannot run are no
// reason to stop: the command goes on and meets the problem itself.
//
// Run before the migration lock is taken (locked false), the checks may
// find the transactions of another glance-manage run that holds it; then
// they report nothing and return again: the caller runs them once more
// when it holds the lock (locked true), when that run is over.
func (a *app) preflightBefore(ctx context.Context, cmd *cobra.Command, s *session, run *preflightRun, locked bool) (again bool, err error) {
	if a.skipPreflight || run.skip {
		return false, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// The checks read catalogs only; should a server make them wait
	// anyway, the command goes on without them after a while.
	pctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	r, err := preflight.Run(pctx, s.mgr, preflight.Options{Targets: run.targets, Online: run.online, InPlaceRebuild: a.inPlace, Before: true})
	if err != nil {
		if ctx.Err() != nil {
			return false, a.fail(ctx.Err())
		}
		a.logf("WARNING: the preflight checks could not run (%v); going on without them.", oneLine(err))
		return false, nil
	}
	if !locked && r.Has(preflight.CheckBlockingSession, preflight.CheckLongTransaction, preflight.CheckIdleInTransaction) {
		l := &migrate.Locker{DB: s.mgr.DB, Dialect: s.mgr.Dialect, Naming: glance.Naming}
		if info, err := l.Show(ctx); err == nil && info != nil && !info.Stale() {
			return true, nil
		}
	}
	a.preflightRan = true
	for _, f := range r.Warnings {
		a.logf("WARNING: %s", f.Message)
	}
	if !r.Blocked() {
		return false, nil
	}
	first := r.Blockers[0]
	more := ""
	if n := len(r.Blockers) - 1; n > 0 {
		var ids []string
		for _, f := range r.Blockers[1:] {
			ids = append(ids, f.Check)
		}
		more = fmt.Sprintf(" (and %d more: %s)", n, strings.Join(ids, ", "))
	}
	return false, exit(exitPreflight, "ERROR: glance-manage %s did not start: preflight check %s found a blocker%s: %s Nothing was changed. Fix it and run the command again (`glance-manage db preflight` lists every finding), or add --skip-preflight to run anyway.",
		commandName(cmd), first.Check, more, first.Message)
}
