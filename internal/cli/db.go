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
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// extraDBCommands lets other files of this package add db actions
// (purge, metadefs); each constructor returns the `db <action>` command
// and, when it has one, its legacy `db_<action>` alias.
var extraDBCommands []func(a *app) (cmd, legacy *cobra.Command)

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
	for _, mk := range extraDBCommands {
		c, _ := mk(a)
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
	for _, mk := range extraDBCommands {
		if _, l := mk(a); l != nil {
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
				return a.sync(ctx, s, v)
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
					return a.upgrade(ctx, s, v)
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
				return a.expand(ctx, s, true)
			})(cmd, args)
		}, func(c *cobra.Command) {
			expandPlan.register(c)
			backupFlag(c, &expandBackup)
			a.inPlaceFlag(c)
			a.thr.register(c, true)
			a.skipPreflightFlag(c)
		}),
		a.newPair("migrate", "", noArgs, a.withDB(func(ctx context.Context, s *session, _ []string) error {
			return a.migrate(ctx, s, maxRows)
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
				return a.contract(ctx, s, true)
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
			out["check"] = map[string]any{"exit_code": code, "message": msg}
			out["target_release"] = releaseJSON(against)
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

// prepare places a database under control (legacy versions) before an
// upgrade, printing what upstream printed when it did the same.
func (a *app) prepare(ctx context.Context, s *session) error {
	p, err := s.mgr.PlaceUnderControl(ctx)
	var le *glance.LegacyError
	switch {
	case errors.As(err, &le):
		a.printf("%s", msgLegacyNotControlled)
		if le.TooOld {
			a.printf(msgLegacyHead, le.Version)
			return exit(exitError, "%s", msgLegacyTooOld)
		}
		return exit(exitError, "%s", msgLegacyUnknown)
	case err != nil:
		return a.fail(err)
	case p.Revision != "":
		a.printf("%s", msgLegacyNotControlled)
		a.printf(msgLegacyPlacing, p.Revision)
	}
	return nil
}

// upgradeTo applies revisions up to targets and returns the heads.
func (a *app) upgradeTo(ctx context.Context, s *session, targets []string, o migrate.Options) ([]string, error) {
	o.InPlaceRebuild = a.inPlace
	var err error
	if o.LockWait, err = a.ddlLimit(); err != nil {
		return nil, err
	}
	if o.Online && !a.preflightRan {
		a.warnRebuilds(ctx, s, targets, o)
	}
	o.DataProgress = a.dataProgress()
	o.CopyProgress = a.copyProgress()
	if o.Throttle, err = a.sessionThrottle(ctx, s); err != nil {
		return nil, err
	}
	o.Threads = a.thr.threads
	fc, closeNodes := a.clusterThrottle(ctx, s)
	defer closeNodes()
	if fc != nil {
		o.Throttle = migrate.Throttlers(o.Throttle, fc)
	}
	s.mgr.Migrator.Observe = a.observer()
	res, err := s.mgr.Migrator.Upgrade(ctx, targets, o)
	a.clusterStats(fc)
	if err != nil {
		return nil, a.fail(err)
	}
	return res.Heads, nil
}

// warnRebuilds warns, before an online run, about each table the run will
// rebuild that is larger than the server's buffer cache (see
// dialect.Sizer). It only reads; a failure to read is no reason to stop.
func (a *app) warnRebuilds(ctx context.Context, s *session, targets []string, o migrate.Options) {
	if _, ok := s.mgr.Dialect.(dialect.Sizer); !ok {
		return // no sizes, no warning: skip reading the plan
	}
	rebuilds, err := s.mgr.Migrator.Rebuilds(ctx, targets, o)
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

func (a *app) sync(ctx context.Context, s *session, version string) error {
	if err := a.prepare(ctx, s); err != nil {
		return err
	}
	heads, err := s.mgr.CheckedHeads(ctx)
	if err != nil {
		return a.fail(err)
	}
	if version != "" {
		// Upstream ignores VERSION; we honour it, offline, running the data
		// migrations the revisions on the way need.
		targets, err := s.mgr.Graph().Resolve(version)
		if err != nil {
			return a.fail(err)
		}
		heads, err := a.upgradeTo(ctx, s, targets, migrate.Options{RunData: true})
		if err != nil {
			return err
		}
		a.printf(msgUpgradedTo, version, strings.Join(heads, ", "))
		a.printf("%s", msgSynced)
		return nil
	}
	if contains(heads, s.mgr.ContractHead()) {
		a.printf("%s", msgUpToDate)
		return nil
	}
	if len(heads) == 0 {
		// An empty database is built in one step (see migrate's
		// baseline); the phases' lines are upstream's, for scripts.
		res, err := a.upgradeTo(ctx, s, s.mgr.Graph().Heads(), migrate.Options{RunData: true})
		if err != nil {
			return err
		}
		a.printf(msgUpgradedTo, s.mgr.ExpandHead(), s.mgr.ExpandHead())
		a.printf("%s", msgMigrateUpToDate)
		a.printf(msgUpgradedTo, s.mgr.ContractHead(), strings.Join(res, ", "))
		a.printf("%s", msgSynced)
		return nil
	}
	if err := a.expand(ctx, s, false); err != nil {
		return err
	}
	if err := a.migrate(ctx, s, -1); err != nil {
		return err
	}
	if err := a.contract(ctx, s, false); err != nil {
		return err
	}
	a.printf("%s", msgSynced)
	return nil
}

func (a *app) upgrade(ctx context.Context, s *session, version string) error {
	if err := a.prepare(ctx, s); err != nil {
		return err
	}
	targets, err := s.mgr.Graph().Resolve(version)
	if err != nil {
		return a.fail(err)
	}
	heads, err := a.upgradeTo(ctx, s, targets, migrate.Options{Online: true, RunData: true})
	if err != nil {
		return err
	}
	if version == "heads" {
		a.printf(msgUpgraded, strings.Join(heads, ", "))
	} else {
		a.printf(msgUpgradedTo, version, strings.Join(heads, ", "))
	}
	return nil
}

func (a *app) versionControl(ctx context.Context, s *session, version string) error {
	targets, err := s.mgr.Graph().Resolve(version)
	if err != nil {
		return a.fail(err)
	}
	if err := s.mgr.Migrator.Stamp(ctx, targets); err != nil {
		return a.fail(err)
	}
	a.printf(msgPlaced, version)
	return nil
}

func (a *app) expand(ctx context.Context, s *session, online bool) error {
	if online {
		if err := a.prepare(ctx, s); err != nil {
			return err
		}
	}
	head := s.mgr.ExpandHead()
	if head == "" {
		return exit(exitError, "%s", msgExpandNoHead)
	}
	heads, err := s.mgr.CheckedHeads(ctx)
	if err != nil {
		return a.fail(err)
	}
	if contains(heads, s.mgr.ContractHead()) {
		a.printf("%s", msgUpToDate)
		return nil
	}
	if s.mgr.Graph().Applied(heads)[head] {
		a.printf("%s", msgExpandUpToDate)
		return nil
	}
	heads, err = a.upgradeTo(ctx, s, []string{head}, migrate.Options{Online: online})
	if err != nil {
		return err
	}
	a.printf(msgUpgradedTo, head, strings.Join(heads, ", "))
	if !s.mgr.Graph().Applied(heads)[head] {
		return exit(exitError, msgExpandFailed, head, pythonList(heads))
	}
	return nil
}

func (a *app) migrate(ctx context.Context, s *session, maxRows int64) error {
	st, err := s.mgr.Status(ctx)
	if err != nil {
		return a.fail(err)
	}
	if st.Contract.AtHead() {
		a.printf("%s", msgUpToDate)
		return nil
	}
	if !st.Expand.AtHead() {
		return exit(exitError, "%s", msgMigrateNoExpand)
	}
	if st.DataPending() == 0 {
		a.printf("%s", msgMigrateUpToDate)
		return nil
	}
	t, err := a.sessionThrottle(ctx, s)
	if err != nil {
		return err
	}
	o := migrate.Options{DataProgress: a.dataProgress(), Throttle: t, Threads: a.thr.threads}
	fc, closeNodes := a.clusterThrottle(ctx, s)
	defer closeNodes()
	if fc != nil {
		o.Throttle = migrate.Throttlers(o.Throttle, fc)
	}
	n, remaining, err := s.mgr.Migrator.RunData(ctx, maxRows, o)
	a.clusterStats(fc)
	if err != nil {
		return a.fail(err)
	}
	a.printf(msgMigrated, n)
	if remaining {
		return exit(exitError, "Data migration is not complete: rows remain after --max-rows %d. Run `glance-manage db migrate` again.", maxRows)
	}
	return nil
}

func (a *app) contract(ctx context.Context, s *session, online bool) error {
	head := s.mgr.ContractHead()
	if head == "" {
		return exit(exitError, "%s", msgContractNoHead)
	}
	st, err := s.mgr.Status(ctx)
	if err != nil {
		return a.fail(err)
	}
	if st.Contract.AtHead() {
		a.printf("%s", msgUpToDate)
		return nil
	}
	if !st.Expand.AtHead() {
		return exit(exitError, "%s", msgContractNoExpand)
	}
	if st.DataPending() > 0 {
		return exit(exitError, "%s", msgContractNeedsData)
	}
	heads, err := a.upgradeTo(ctx, s, []string{head}, migrate.Options{Online: online})
	if err != nil {
		return err
	}
	a.printf(msgUpgradedTo, head, strings.Join(heads, ", "))
	if !contains(heads, head) {
		// Upstream names the expand head here; the contract head is meant.
		return exit(exitError, msgContractFailed, head, pythonList(heads))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statusLockHolder, when set (by the migration-lock code), describes who
// holds the migration lock, for the "lock_holder" field of the JSON
// status: nil when nobody does.
var statusLockHolder func(s *session) any

// statusJSON is the machine-readable status of `db check/version --format json`.
func statusJSON(s *session, st *glance.Status, code int) map[string]any {
	lvl := func(l glance.Level) map[string]any {
		return map[string]any{"current": l.Current, "head": l.Head, "at_head": l.AtHead(), "pending": nonNil(l.Pending)}
	}
	out := map[string]any{
		"backend":        string(s.url.Backend),
		"heads":          nonNil(st.Rows),
		"expand":         lvl(st.Expand),
		"contract":       lvl(st.Contract),
		"data_pending":   st.Data,
		"data_rows":      st.DataPending(),
		"release":        st.Release,
		"under_control":  len(st.Rows) > 0,
		"composite":      composite(st),
		"tool_version":   Version,
		"base":           lvl(st.Base),
		"upgrade_needed": !st.Contract.AtHead(),
		"lock_holder":    nil,
		// Tables an interrupted expand or contract left half copied.
		"unfinished_copies": nonNil(st.UnfinishedCopies),
	}
	if statusLockHolder != nil {
		out["lock_holder"] = statusLockHolder(s)
	}
	if code >= 0 {
		_, msg := checkState(st)
		out["check"] = map[string]any{"exit_code": code, "message": msg}
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
