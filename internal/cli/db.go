package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// extraDBCommands are the db actions beyond the upgrade workflow's (see
// coreCommands), in the order help lists them: each returns the
// `db <action>` command and, when it has one, its legacy `db_<action>`
// alias.
func (a *app) extraDBCommands() []func() (cmd, legacy *cobra.Command) {
	purgeCmd := func(name string, age int) func() (*cobra.Command, *cobra.Command) {
		return func() (*cobra.Command, *cobra.Command) { return a.purgeCommand(name, age), nil }
	}
	return []func() (cmd, legacy *cobra.Command){
		a.backupCommand, a.restoreCommand,
		a.historyCommand,
		func() (*cobra.Command, *cobra.Command) { return lockCommand(a) },
		a.loadMetadefsCommands, a.unloadMetadefsCommands, a.exportMetadefsCommands,
		func() (*cobra.Command, *cobra.Command) { return preflightCommand(a) },
		purgeCmd("purge", purge.DefaultAgeInDays),
		purgeCmd("purge_images_table", purge.DefaultImagesAgeInDays),
		func() (*cobra.Command, *cobra.Command) { return rehearseCommand(a) },
	}
}

// action is the shared body of `db <action>` and `db_<action>`.
type action func(ctx context.Context, s *session, args []string) error

// withDB wraps an action: it opens the database, takes the migration
// lock when the action writes (lock.go), runs the action, releases the
// lock and closes the database.
func (a *app) withDB(fn action) func(*cobra.Command, []string) error {
	return a.withDBChecked(nil, fn)
}

// withDBChecked is withDB with the preflight checks of a run (see
// preflight.go) between opening the database and taking the lock.
func (a *app) withDBChecked(run func(s *session) *preflightRun, fn action) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := a.open(cmd.Context())
		if err != nil {
			return err
		}
		defer s.Close()
		var pre *preflightRun
		again := false
		if run != nil {
			pre = run(s)
			if again, err = a.preflightBefore(cmd.Context(), cmd, s, pre, false); err != nil {
				return err
			}
		}
		ctx, done, err := a.takeLock(cmd, s)
		if err != nil {
			return err
		}
		defer func() {
			// Even a crash of the command gives the lock back first.
			if r := recover(); r != nil {
				_ = done(fmt.Errorf("panic: %v", r))
				panic(r)
			}
		}()
		if again {
			if _, err := a.preflightBefore(ctx, cmd, s, pre, true); err != nil {
				return done(err)
			}
		}
		return done(fn(ctx, s, args))
	}
}

// versionArg merges the positional VERSION and --version forms.
func versionArg(cmd *cobra.Command, args []string, flag string) (string, error) {
	if len(args) > 0 && flag != "" && args[0] != flag {
		return "", exit(exitUsage, "glance-manage: error: the version was given twice (%q and --version %q); give it once", args[0], flag)
	}
	if len(args) > 0 {
		return args[0], nil
	}
	return flag, nil
}

func (a *app) dbCommand() *cobra.Command {
	db := &cobra.Command{
		Use:   "db",
		Short: "Database management",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exit(exitUsage, "glance-manage db: error: invalid choice: %q (run 'glance-manage db' to list the actions)", args[0])
			}
			a.printf("Available actions for 'db':")
			for _, x := range dbActions {
				a.printf("\t%s - %s", x[0], x[1])
			}
			return exit(exitUsage, "")
		},
	}
	for _, c := range a.coreCommands() {
		db.AddCommand(c.cmd)
	}
	for _, mk := range a.extraDBCommands() {
		c, _ := mk()
		db.AddCommand(c)
	}
	return db
}

type pair struct{ cmd, legacy *cobra.Command }

// legacyCommands are upstream's db_<action> spellings.
func (a *app) legacyCommands() []*cobra.Command {
	var out []*cobra.Command
	for _, c := range a.coreCommands() {
		if c.legacy != nil {
			out = append(out, c.legacy)
		}
	}
	for _, mk := range a.extraDBCommands() {
		if _, l := mk(); l != nil {
			out = append(out, l)
		}
	}
	return out
}

// newPair builds `db <name>` and `db_<name>` around the same action.
func (a *app) newPair(name, use string, args cobra.PositionalArgs, run func(*cobra.Command, []string) error, flags func(*cobra.Command)) pair {
	mk := func(prefix string) *cobra.Command {
		c := &cobra.Command{Use: prefix + name + use, Short: describe(name), Args: args, RunE: run}
		if flags != nil {
			flags(c)
		}
		return c
	}
	legacy := mk("db_")
	legacy.Hidden = true
	return pair{mk(""), legacy}
}

func (a *app) coreCommands() []pair {
	var syncVersion, upgradeVersion, vcVersion, versionFormat, checkFormat, checkRelease string
	var maxRows int64
	var syncPlan, upgradePlan, expandPlan, contractPlan planFlags // --sql, --dry-run, --from (offline.go)
	var syncBackup, expandBackup string                           // --backup-to (backup.go)
	versionFlag := func(p *string, def string) func(*cobra.Command) {
		return func(c *cobra.Command) {
			c.Flags().StringVar(p, "version", def, "target revision")
		}
	}
	return []pair{
		a.newPair("version", "", noArgs, a.withDB(func(ctx context.Context, s *session, _ []string) error {
			return a.version(ctx, s, versionFormat)
		}), func(c *cobra.Command) {
			c.Flags().StringVar(&versionFormat, "format", "text", "output format: text or json")
		}),
		a.newPair("check", "", noArgs, func(cmd *cobra.Command, args []string) error {
			if checkRelease != "" {
				if _, err := findRelease(checkRelease, "--release"); err != nil {
					return err // before connecting: a usage error
				}
			}
			return a.withDB(func(ctx context.Context, s *session, _ []string) error {
				return a.check(ctx, s, checkFormat, checkRelease)
			})(cmd, args)
		}, func(c *cobra.Command) {
			c.Flags().StringVar(&checkFormat, "format", "text", "output format: text or json")
			c.Long = checkLong
			c.Flags().StringVar(&checkRelease, "release", "", "answer for the services of this Glance release (e.g. zed, 2023.1, 25.1.0) instead of this tool's head; default [glance_manage] release; exit 6 when the database is newer than it expects")
		}),
		a.newPair("sync", " [VERSION]", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(cmd, args, syncVersion)
			if err != nil {
				return err
			}
			if syncPlan.active() {
				return a.plan(cmd.Context(), "sync", v, &syncPlan, syncBackup)
			}
			return a.withDBChecked(func(s *session) *preflightRun { return syncPreflight(s, v) }, func(ctx context.Context, s *session, _ []string) error {
				if err := a.backupTo(ctx, s, syncBackup); err != nil {
					return err
				}
				if v == "" {
					a.warnBeyondRelease(ctx, s, s.mgr.Graph().Heads(), "glance-manage db sync %[2]s")
				}
				return a.run(ctx, s, glance.Sync, v, -1)
			})(cmd, args)
		}, func(c *cobra.Command) {
			versionFlag(&syncVersion, "")(c)
			syncPlan.register(c)
			backupFlag(c, &syncBackup)
			a.thr.register(c, true)
			a.skipPreflightFlag(c)
		}),
		a.newPair("upgrade", " [VERSION]", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(cmd, args, upgradeVersion)
			if err != nil {
				return err
			}
			if upgradePlan.active() {
				return a.plan(cmd.Context(), "upgrade", v, &upgradePlan, "")
			}
			if v == "" {
				v = "heads"
			}
			return a.withDBChecked(func(s *session) *preflightRun { return upgradePreflight(s, v) },
				func(ctx context.Context, s *session, _ []string) error {
					if v == "heads" {
						a.warnBeyondRelease(ctx, s, s.mgr.Graph().Heads(), "glance-manage db upgrade --version %[2]s")
					}
					return a.run(ctx, s, glance.Upgrade, v, -1)
				})(cmd, args)
		}, func(c *cobra.Command) {
			versionFlag(&upgradeVersion, "")(c)
			upgradePlan.register(c)
			a.inPlaceFlag(c)
			a.thr.register(c, true)
			a.skipPreflightFlag(c)
		}),
		a.newPair("version_control", " [VERSION]", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(cmd, args, vcVersion)
			if err != nil {
				return err
			}
			if v == "" || v == "None" {
				v = "liberty"
			}
			return a.withDB(func(ctx context.Context, s *session, _ []string) error { return a.versionControl(ctx, s, v) })(cmd, args)
		}, versionFlag(&vcVersion, "")),
		a.newPair("expand", "", noArgs, func(cmd *cobra.Command, args []string) error {
			if expandPlan.active() {
				return a.plan(cmd.Context(), "expand", "", &expandPlan, expandBackup)
			}
			return a.withDBChecked(func(s *session) *preflightRun { return phasePreflight(s, s.mgr.ExpandHead()) }, func(ctx context.Context, s *session, _ []string) error {
				if err := a.backupTo(ctx, s, expandBackup); err != nil {
					return err
				}
				a.warnBeyondRelease(ctx, s, []string{s.mgr.ExpandHead()}, "glance-manage db upgrade --version %[1]s")
				return a.run(ctx, s, glance.Expand, "", -1)
			})(cmd, args)
		}, func(c *cobra.Command) {
			expandPlan.register(c)
			backupFlag(c, &expandBackup)
			a.inPlaceFlag(c)
			a.thr.register(c, true)
			a.skipPreflightFlag(c)
		}),
		a.newPair("migrate", "", noArgs, a.withDB(func(ctx context.Context, s *session, _ []string) error {
			return a.run(ctx, s, glance.Migrate, "", maxRows)
		}), func(c *cobra.Command) {
			c.Flags().Int64Var(&maxRows, "max-rows", -1, "migrate at most N rows, then exit 0 if nothing remains or 1 with a message if work remains (-1: all)")
			a.thr.register(c, true)
		}),
		a.newPair("contract", "", noArgs, func(cmd *cobra.Command, args []string) error {
			if contractPlan.active() {
				return a.plan(cmd.Context(), "contract", "", &contractPlan, "")
			}
			return a.withDBChecked(func(s *session) *preflightRun { return phasePreflight(s, s.mgr.ContractHead()) }, func(ctx context.Context, s *session, _ []string) error {
				a.warnBeyondRelease(ctx, s, []string{s.mgr.ContractHead()}, "glance-manage db upgrade --version %[2]s")
				return a.run(ctx, s, glance.Contract, "", -1)
			})(cmd, args)
		}, func(c *cobra.Command) {
			contractPlan.register(c)
			a.inPlaceFlag(c)
			a.thr.register(c, true)
			a.skipPreflightFlag(c)
		}),
	}
}

// inPlaceFlag registers --in-place-rebuild (migrate.Options.InPlaceRebuild).
func (a *app) inPlaceFlag(c *cobra.Command) {
	c.Flags().BoolVar(&a.inPlace, "in-place-rebuild", false,
		"on MariaDB, rebuild a table in place (ALGORITHM=INPLACE) for a change of column instead of copying it into a shadow table and swapping it in")
}

// version prints the version-table rows, one per line, exactly as
// upstream does, and the composite (expand, contract) level on stderr.
func (a *app) version(ctx context.Context, s *session, format string) error {
	st, err := s.mgr.Status(ctx)
	if err != nil {
		return a.fail(err)
	}
	if format == "json" {
		return a.printJSON(statusJSON(s, st, -1))
	} else if format != "text" {
		return exit(exitUsage, "glance-manage: error: --format must be text or json, not %q", format)
	}
	if len(st.Rows) == 0 {
		a.printf("%s", msgNoControl)
		return nil
	}
	for _, r := range st.Rows {
		a.printf("%s", r)
	}
	a.logf("%s", composite(st))
	return nil
}

// composite renders the expand and contract levels for people.
func composite(st *glance.Status) string {
	lvl := func(l glance.Level) string {
		if l.Current == "" {
			if l.Head == "" || len(l.Pending) == 0 {
				return "none"
			}
			return fmt.Sprintf("none yet (%d to go to %s)", len(l.Pending), l.Head)
		}
		if l.AtHead() {
			return l.Current + " (head)"
		}
		return fmt.Sprintf("%s (%d behind %s)", l.Current, len(l.Pending), l.Head)
	}
	msg := fmt.Sprintf("Composite version: expand %s, contract %s", lvl(st.Expand), lvl(st.Contract))
	if st.Release != "" {
		msg += "; the database is fully at release " + st.Release
	} else if st.Expand.Current != "" {
		msg += "; a rolling upgrade is in progress (run `glance-manage db check`)"
	}
	return msg
}

// checkState is the outcome of `db check`.
func checkState(st *glance.Status) (int, string) {
	switch {
	case st.Contract.AtHead():
		return exitOK, msgCheckUpToDate
	case !st.Expand.AtHead():
		return exitNeedExpand, msgCheckExpand
	case st.DataPending() > 0:
		return exitNeedMigrate, msgCheckMigrate
	default:
		return exitNeedContract, msgCheckContract
	}
}

func (a *app) check(ctx context.Context, s *session, format, release string) error {
	rel, targeted, err := a.targetRelease(s, release)
	if err != nil {
		return err
	}
	st, err := s.mgr.Status(ctx)
	if err != nil {
		return a.fail(err)
	}
	code, msg := checkState(st)
	var against glance.Against
	note := ""
	if targeted {
		code, msg, note, against = releaseCheckState(s, st, rel)
	}
	for _, t := range st.UnfinishedCopies {
		a.logf(msgUnfinishedCopy, t)
	}
	if note != "" {
		a.logf("%s", note)
	}
	switch format {
	case "json":
		out := statusJSON(s, st, code)
		if targeted {
			out.Check = &checkOut{ExitCode: code, Message: msg}
			out.TargetRelease = releaseJSON(against)
		}
		if err := a.printJSON(out); err != nil {
			return err
		}
	case "text":
		a.printf("%s", msg)
	default:
		return exit(exitUsage, "glance-manage: error: --format must be text or json, not %q", format)
	}
	if code != exitOK {
		return exit(code, "")
	}
	return nil
}

// run carries out cmd up to version (sync, upgrade) as the library plans
// it (glance.Manager.Plan, Run), printing what upstream prints as the
// phases end. maxRows bounds a `db migrate` (-1: no bound).
func (a *app) run(ctx context.Context, s *session, cmd glance.Command, version string, maxRows int64) error {
	p, err := s.mgr.Plan(ctx, cmd, version)
	if err != nil {
		return a.runFail(err)
	}
	o := glance.RunOptions{MaxRows: maxRows}
	if cmd != glance.Migrate {
		if o.Options.LockWait, err = a.ddlLimit(); err != nil {
			return err
		}
		o.Options.InPlaceRebuild = a.inPlace
		o.Options.CopyProgress = a.copyProgress()
		o.Observe = a.observer()
	}
	o.Options.DataProgress = a.dataProgress()
	if o.Options.Throttle, err = a.sessionThrottle(ctx, s); err != nil {
		return err
	}
	o.Options.Threads = a.thr.threads
	fc, closeNodes := a.clusterThrottle(ctx, s)
	defer closeNodes()
	if fc != nil {
		o.Options.Throttle = migrate.Throttlers(o.Options.Throttle, fc)
	}
	o.Placed = func(pl glance.Placement) {
		a.printf("%s", msgLegacyNotControlled)
		a.printf(msgLegacyPlacing, pl.Revision)
	}
	o.BeforeUpgrade = func(ctx context.Context, targets []string, opts migrate.Options) {
		if opts.Online && !a.preflightRan {
			a.warnRebuilds(ctx, s, targets, opts)
		}
	}
	o.PhaseDone = func(r glance.PhaseResult) error { return a.phaseDone(p, r, maxRows) }
	err = s.mgr.Run(ctx, p, o)
	a.clusterStats(fc)
	if err != nil {
		return a.runFail(err)
	}
	switch p.UpToDate {
	case glance.AllUpToDate:
		a.printf("%s", msgUpToDate)
	case glance.ExpandUpToDate:
		a.printf("%s", msgExpandUpToDate)
	case glance.DataUpToDate:
		a.printf("%s", msgMigrateUpToDate)
	default:
		if cmd == glance.Sync {
			a.printf("%s", msgSynced)
		}
	}
	return nil
}

// phaseDone prints the line of a phase that ended.
func (a *app) phaseDone(p *glance.Plan, r glance.PhaseResult, maxRows int64) error {
	switch r.Skipped {
	case glance.AllUpToDate:
		a.printf("%s", msgUpToDate)
		return nil
	case glance.ExpandUpToDate:
		a.printf("%s", msgExpandUpToDate)
		return nil
	case glance.DataUpToDate:
		a.printf("%s", msgMigrateUpToDate)
		return nil
	}
	heads := strings.Join(r.Heads, ", ")
	switch r.Phase.Kind {
	case glance.PhaseUpgrade:
		if p.Command == glance.Upgrade && p.Target == "heads" {
			a.printf(msgUpgraded, heads)
		} else {
			a.printf(msgUpgradedTo, p.Target, heads)
		}
	case glance.PhaseExpand, glance.PhaseContract:
		a.printf(msgUpgradedTo, r.Phase.Head(), heads)
	case glance.PhaseMigrate:
		a.printf(msgMigrated, r.Migrated)
		if r.Remaining {
			return exit(exitError, "Data migration is not complete: rows remain after --max-rows %d. Run `glance-manage db migrate` again.", maxRows)
		}
	}
	return nil
}

// runFail turns the library's refusals into upstream's lines.
func (a *app) runFail(err error) error {
	var le *glance.LegacyError
	var re *glance.RefusalError
	var ie *glance.IncompleteError
	switch {
	case errors.As(err, &le):
		a.printf("%s", msgLegacyNotControlled)
		if le.TooOld {
			a.printf(msgLegacyHead, le.Version)
			return exit(exitError, "%s", msgLegacyTooOld)
		}
		return exit(exitError, "%s", msgLegacyUnknown)
	case errors.As(err, &re):
		switch {
		case errors.Is(err, glance.ErrNoExpandHead):
			return exit(exitError, "%s", msgExpandNoHead)
		case errors.Is(err, glance.ErrNoContractHead):
			return exit(exitError, "%s", msgContractNoHead)
		case errors.Is(err, glance.ErrExpandFirst) && re.Phase == glance.PhaseMigrate:
			return exit(exitError, "%s", msgMigrateNoExpand)
		case errors.Is(err, glance.ErrExpandFirst):
			return exit(exitError, "%s", msgContractNoExpand)
		case errors.Is(err, glance.ErrDataFirst):
			return exit(exitError, "%s", msgContractNeedsData)
		}
	case errors.As(err, &ie):
		if ie.Phase == glance.PhaseExpand {
			return exit(exitError, msgExpandFailed, ie.Head, pythonList(ie.Heads))
		}
		// Upstream names the expand head here; the contract head is meant.
		return exit(exitError, msgContractFailed, ie.Head, pythonList(ie.Heads))
	}
	return a.fail(err)
}

// warnRebuilds warns, before an online run, about each table the run will
// rebuild that is larger than the server's buffer cache (see
// dialect.Sizer). It only reads; a failure to read is no reason to stop.
func (a *app) warnRebuilds(ctx context.Context, s *session, targets []string, o migrate.Options) {
	if _, ok := s.mgr.Dialect.(dialect.Sizer); !ok {
		return // no sizes, no warning: skip reading the plan
	}
	rebuilds, err := s.mgr.Rebuilds(ctx, targets, o)
	if err != nil {
		return
	}
	for _, r := range rebuilds {
		if w := rebuildWarning(r); w != "" {
			a.logf("%s", w)
		}
	}
}

// rebuildWarning is the warning for r, or "" when the table fits in the
// server's buffer cache (or the server does not say).
func rebuildWarning(r migrate.Rebuild) string {
	f := preflight.RebuildFinding(r)
	if f == nil {
		return ""
	}
	return "WARNING: " + f.Message
}

func (a *app) versionControl(ctx context.Context, s *session, version string) error {
	targets, err := s.mgr.Graph().Resolve(version)
	if err != nil {
		return a.fail(err)
	}
	if err := s.mgr.Stamp(ctx, targets); err != nil {
		return a.fail(err)
	}
	a.printf(msgPlaced, version)
	return nil
}

// statusOut is the machine-readable status of `db check/version --format
// json`. The fields are in the order of their keys (the order the output
// has always had).
type statusOut struct {
	Backend       string           `json:"backend"`
	Base          levelOut         `json:"base"`
	Check         *checkOut        `json:"check,omitempty"`
	Composite     string           `json:"composite"`
	Contract      levelOut         `json:"contract"`
	DataPending   map[string]int64 `json:"data_pending"`
	DataRows      int64            `json:"data_rows"`
	Expand        levelOut         `json:"expand"`
	Heads         []string         `json:"heads"`
	LockHolder    *lockHolderOut   `json:"lock_holder"`
	Release       string           `json:"release"`
	TargetRelease *releaseOut      `json:"target_release,omitempty"`
	ToolVersion   string           `json:"tool_version"`
	UnderControl  bool             `json:"under_control"`
	// Tables an interrupted expand or contract left half copied.
	UnfinishedCopies []string `json:"unfinished_copies"`
	UpgradeNeeded    bool     `json:"upgrade_needed"`
}

type levelOut struct {
	AtHead  bool     `json:"at_head"`
	Current string   `json:"current"`
	Head    string   `json:"head"`
	Pending []string `json:"pending"`
}

type checkOut struct {
	ExitCode int    `json:"exit_code"`
	Message  string `json:"message"`
}

// statusJSON is the status of `db check/version --format json`; code is
// the check's exit code (<0: no "check" field).
func statusJSON(s *session, st *glance.Status, code int) *statusOut {
	lvl := func(l glance.Level) levelOut {
		return levelOut{Current: l.Current, Head: l.Head, AtHead: l.AtHead(), Pending: nonNil(l.Pending)}
	}
	out := &statusOut{
		Backend:          string(s.url.Backend),
		Heads:            nonNil(st.Rows),
		Expand:           lvl(st.Expand),
		Contract:         lvl(st.Contract),
		DataPending:      st.Data,
		DataRows:         st.DataPending(),
		Release:          st.Release,
		UnderControl:     len(st.Rows) > 0,
		Composite:        composite(st),
		ToolVersion:      Version,
		Base:             lvl(st.Base),
		UpgradeNeeded:    !st.Contract.AtHead(),
		LockHolder:       lockHolderJSON(s),
		UnfinishedCopies: nonNil(st.UnfinishedCopies),
	}
	if code >= 0 {
		_, msg := checkState(st)
		out.Check = &checkOut{ExitCode: code, Message: msg}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
