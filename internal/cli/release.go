package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/migrations"
)

// `db check --release NAME` (or [glance_manage] release): where the
// database stands against what an older release's services expect. Without
// it, db check answers as upstream does, against this tool's head.

// exitNewerThanRelease is db check's exit code when the database is newer
// than the release targeted: that release's glance-manage cannot read it.
// Only --release (or [glance_manage] release) can give it.
const exitNewerThanRelease = 6

// Our own db check messages, for a release older than the head's.
const (
	// release, the revisions found, what the release expects, the
	// oldest release that knows them. msgCheckNewer when later
	// contractions change the schema, msgCheckNewerTool when they are
	// empty (the services of the release find the schema they know).
	msgCheckNewer     = "The database is newer than release %s expects: it is at %s, where the services of that release expect %s. The later contractions remove what those services may use, and the glance-manage of that release does not know these revisions (its db sync and db expand fail with \"Can't locate revision\"). Upgrade Glance to %s or later, or restore the backup taken before the upgrade."
	msgCheckNewerTool = "The database is newer than release %s expects: it is at %s, where the services of that release expect %s. The later revisions only add to the schema, so those services keep working, but the glance-manage of that release does not know these revisions (its db sync and db expand fail with \"Can't locate revision\"): manage this database with this glance-manage, or upgrade Glance to %s or later."
	// On stderr, beside upstream's "up to date": release, the rows, the
	// release they come from.
	msgCheckExpandedBeyond = "NOTE: the database is expanded beyond release %s (it is at %s): the services of that release keep working on it, since expansions only add, but its glance-manage does not know them (its db sync and db expand fail with \"Can't locate revision\"). Finish with `glance-manage db migrate` and `glance-manage db contract` once every service runs %s or later."
	// release, what it expects, the revision to upgrade to.
	msgCheckReleaseExpand   = "Your database is not up to date for release %s, which expects %s. Your first step is to run `glance-manage db upgrade --version %s`."
	msgCheckReleaseMigrate  = "Your database is not up to date for release %s, which expects %s. Your next step is to run `glance-manage db upgrade --version %s`, which migrates the data and contracts: run it once no service of an older release runs."
	msgCheckReleaseContract = "Your database is not up to date for release %s, which expects %s. Your next step is to run `glance-manage db upgrade --version %s` (the contraction) once no service of an older release runs."
)

// checkLong is db check's help.
const checkLong = `Report any pending database upgrades.

Exit status: 0 up to date, 3 run ` + "`db expand`" + `, 4 run ` + "`db migrate`" + `, 5 run
` + "`db contract`" + ` (upstream's codes and messages). With --release NAME (or
[glance_manage] release in a configuration file) the answer is for the
services of that Glance release instead of this tool's head (2024.1): the
same codes, the steps named as ` + "`db upgrade --version REV`" + ` for an older
release, and 6 when the database is contracted beyond what the release
expects (its glance-manage no longer upgrades it).`

// releaseOption is the option's config-file spelling: [glance_manage]
// release in any file glance-manage reads (glance-manage.conf is one).
const releaseSection, releaseKey = "glance_manage", "release"

// findRelease resolves a --release (or config) value into a release, or
// the error a person reads.
func findRelease(name, from string) (glance.Release, error) {
	r, err := glance.FindRelease(name)
	if err == nil {
		return r, nil
	}
	code := exitUsage
	if from != "--release" {
		code = exitError
	}
	var re *glance.ReleaseError
	if errors.As(err, &re) && errors.Is(err, glance.ErrLegacyRelease) {
		return r, exit(code, "glance-manage: error: %s %q: release %s keeps its version in sqlalchemy-migrate's migrate_version table (version %d), which this glance-manage reads but never writes; name ocata or a later release",
			from, name, r.Name(), r.Legacy)
	}
	return r, exit(code, "glance-manage: error: %s %q is no Glance release this glance-manage knows; name one of %s (or its codename, or its Glance version such as 25.1.0)",
		from, name, strings.Join(glance.ReleaseNames(), ", "))
}

// targetRelease is the release db check answers for: --release, else
// [glance_manage] release from the configuration; ok is false for none.
func (a *app) targetRelease(s *session, flag string) (glance.Release, bool, error) {
	if flag != "" {
		r, err := findRelease(flag, "--release")
		return r, err == nil, err
	}
	if s.cfg == nil {
		return glance.Release{}, false, nil
	}
	v, ok := s.cfg.Get(releaseSection, releaseKey)
	if !ok || strings.TrimSpace(v) == "" {
		return glance.Release{}, false, nil
	}
	r, err := findRelease(v, "["+releaseSection+"] "+releaseKey)
	return r, err == nil, err
}

// releaseCheckState is db check's outcome against release r. A release
// that expects this tool's head gets upstream's answer (checkState).
//
// A database newer than r on the contract branch gets exitNewerThanRelease
// (r's glance-manage can no longer upgrade it);
// one only expanded beyond it (a rolling upgrade to a newer release under
// way) is up to date for r's services, as r's own db check says too, and
// note is the warning for stderr.
func releaseCheckState(s *session, st *glance.Status, r glance.Release) (code int, msg, note string, ag glance.Against) {
	g := s.mgr.Graph()
	ag = glance.Compare(g, st.Rows, r)
	if r.Contract == s.mgr.ContractHead() && r.Expand == s.mgr.ExpandHead() {
		code, msg := checkState(st)
		return code, msg, "", ag
	}
	name := r.Name()
	newest := "a newer release"
	if k, ok := glance.FirstKnowing(g, st.Rows); ok {
		newest = k.Name()
	}
	rows := strings.Join(st.Rows, ", ")
	switch {
	case ag.Contracted:
		msg := msgCheckNewerTool
		if ag.Removes {
			msg = msgCheckNewer
		}
		return exitNewerThanRelease, fmt.Sprintf(msg, name, rows, r.Expects(), newest), "", ag
	case ag.NeedExpand:
		return exitNeedExpand, fmt.Sprintf(msgCheckReleaseExpand, name, r.Expects(), r.Expand), "", ag
	case ag.NeedContract && st.DataPending() > 0:
		return exitNeedMigrate, fmt.Sprintf(msgCheckReleaseMigrate, name, r.Expects(), r.Contract), "", ag
	case ag.NeedContract:
		return exitNeedContract, fmt.Sprintf(msgCheckReleaseContract, name, r.Expects(), r.Contract), "", ag
	case len(ag.Newer) > 0:
		return exitOK, msgCheckUpToDate, fmt.Sprintf(msgCheckExpandedBeyond, name, rows, newest), ag
	}
	return exitOK, msgCheckUpToDate, "", ag
}

// releaseJSON describes the release targeted, for --format json.
func releaseJSON(ag glance.Against) *releaseOut {
	r := ag.Release
	return &releaseOut{
		Series:   r.Series,
		Codename: r.Codename,
		Expand:   r.Expand,
		Contract: r.Contract,
		Newer:    nonNil(ag.Newer),
		// Newer revisions include contractions (exit 6), and some of
		// them change the schema.
		Contracted: ag.Contracted,
		Removes:    ag.Removes,
	}
}

// releaseOut is the "target_release" of `db check --release --format
// json`, its fields in the order of their keys.
type releaseOut struct {
	Codename   string   `json:"codename"`
	Contract   string   `json:"contract"`
	Contracted bool     `json:"contracted"`
	Expand     string   `json:"expand"`
	Newer      []string `json:"newer"`
	Removes    bool     `json:"removes"`
	Series     string   `json:"series"`
}

// versionText is what --version prints: the tool's version alone on the
// first line (scripts read it), then which Glance the schema head is and
// which releases expect it.
func versionText() string {
	g := migrations.Graph()
	contract := g.BranchHead(migrations.ContractBranch)
	expand := g.BranchHead(migrations.ExpandBranch)
	var b strings.Builder
	b.WriteString(Version + "\n")
	head, ok := glance.HeadRelease(contract)
	if !ok {
		fmt.Fprintf(&b, "Glance schema head: %s (expand %s)\n", contract, expand)
		return b.String()
	}
	fmt.Fprintf(&b, "Glance schema head: %s (expand %s), from Glance %s\n", contract, expand, head.Name())
	span, lastReleased, master := "Glance "+head.Series, head.Series, false
	for _, r := range glance.ExpectingHead(contract) {
		if r.Unreleased {
			master = true
		} else {
			lastReleased = r.Series
		}
	}
	if lastReleased != head.Series {
		span += " to " + lastReleased
	}
	if master {
		span += " and master"
	}
	fmt.Fprintf(&b, "%s expect it; for an older release's services see `glance-manage db check --release NAME`\n", span)
	return b.String()
}

// msgBeyondRelease warns before a run that takes the database beyond the
// release [glance_manage] release names: the release, the command, where
// it goes, what the release expects, the release's series twice, and the
// command that stays at the release.
const msgBeyondRelease = "WARNING: [glance_manage] release is %s, but glance-manage %s goes to %s, beyond %s, which its services expect: the glance-manage of %s will not know the database afterwards (its db sync and db expand fail with \"Can't locate revision\"), and the only way back is a backup. To keep the database at what %s expects, run `%s` instead."

// warnBeyondRelease warns, before a run to targets, when [glance_manage]
// release names a release older than this tool's head and the run would
// apply revisions that release does not know. db sync, db expand, db
// contract and db upgrade go where their arguments say (their head by
// default) whatever the option: it only changes db check's answer.
func (a *app) warnBeyondRelease(ctx context.Context, s *session, targets []string, stay string) {
	r, ok, err := a.targetRelease(s, "")
	if err != nil || !ok {
		return // db check reports a bad value; nothing to compare with
	}
	g := s.mgr.Graph()
	rows, err := s.mgr.Migrator.Heads(ctx)
	if err != nil {
		return
	}
	known, cur := g.Applied([]string{r.Expand, r.Contract}), g.Applied(rows)
	beyond := false
	for id := range g.Applied(targets) {
		if !known[id] && !cur[id] {
			beyond = true
			break
		}
	}
	if !beyond {
		return
	}
	a.logf(msgBeyondRelease, r.Name(), a.command, strings.Join(targets, ", "), r.Expects(), r.Series, r.Series, fmt.Sprintf(stay, r.Expand, r.Contract))
}
