package glance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/glance-manage/glance-manage/migrate"
)

// Release is an upstream Glance release series and the revisions its own
// glance-manage leaves in alembic_version after a full upgrade: the
// schema its services expect. From the release tags of openstack/glance
// (the files of alembic_migrations/versions at each tag).
type Release struct {
	Series   string // "zed", "2024.1"
	Codename string // "Zed", "Caracal"
	Major    int    // Glance's major version: 25 for Zed
	// Expand and Contract are the heads of the two branches the
	// release's tool knows ("" before Ocata, which had no branches).
	Expand, Contract string
	// Legacy is the sqlalchemy-migrate version (migrate_version) the
	// release's tool leaves, before alembic (Liberty to Newton); Base is
	// the revision that version maps to.
	Legacy int
	Base   string
	// SyncHead is what the release's own `db sync` leaves when it is not
	// Contract: Ocata's and Pike's monolithic revisions.
	SyncHead string
	// Unreleased marks the series being developed (master).
	Unreleased bool
}

// Name is how the release is written for people: `zed ("Zed")`, `2024.1
// ("Caracal")`.
func (r Release) Name() string {
	return fmt.Sprintf("%s (%q)", r.Series, r.Codename)
}

// Expects is the revision the release's services expect to find.
func (r Release) Expects() string {
	if r.Contract != "" {
		return r.Contract
	}
	return r.Base
}

// releases, oldest first. The empty xena, yoga and zed revisions were
// added in the 2023.1 cycle: Xena, Yoga and Zed themselves end at
// wallaby_contract01.
var releases = []Release{
	{Series: "liberty", Codename: "Liberty", Major: 11, Legacy: 42, Base: "liberty"},
	{Series: "mitaka", Codename: "Mitaka", Major: 12, Legacy: 44, Base: "mitaka02"},
	{Series: "newton", Codename: "Newton", Major: 13, Legacy: 44, Base: "mitaka02"},
	{Series: "ocata", Codename: "Ocata", Major: 14, Expand: "ocata_expand01", Contract: "ocata_contract01", SyncHead: "ocata01"},
	{Series: "pike", Codename: "Pike", Major: 15, Expand: "pike_expand01", Contract: "pike_contract01", SyncHead: "pike01"},
	{Series: "queens", Codename: "Queens", Major: 16, Expand: "queens_expand01", Contract: "queens_contract01"},
	{Series: "rocky", Codename: "Rocky", Major: 17, Expand: "rocky_expand02", Contract: "rocky_contract02"},
	{Series: "stein", Codename: "Stein", Major: 18, Expand: "rocky_expand02", Contract: "rocky_contract02"},
	{Series: "train", Codename: "Train", Major: 19, Expand: "train_expand01", Contract: "train_contract01"},
	{Series: "ussuri", Codename: "Ussuri", Major: 20, Expand: "ussuri_expand01", Contract: "ussuri_contract01"},
	{Series: "victoria", Codename: "Victoria", Major: 21, Expand: "ussuri_expand01", Contract: "ussuri_contract01"},
	{Series: "wallaby", Codename: "Wallaby", Major: 22, Expand: "wallaby_expand01", Contract: "wallaby_contract01"},
	{Series: "xena", Codename: "Xena", Major: 23, Expand: "wallaby_expand01", Contract: "wallaby_contract01"},
	{Series: "yoga", Codename: "Yoga", Major: 24, Expand: "wallaby_expand01", Contract: "wallaby_contract01"},
	{Series: "zed", Codename: "Zed", Major: 25, Expand: "wallaby_expand01", Contract: "wallaby_contract01"},
	{Series: "2023.1", Codename: "Antelope", Major: 26, Expand: "2023_1_expand01", Contract: "2023_1_contract01"},
	{Series: "2023.2", Codename: "Bobcat", Major: 27, Expand: "2023_1_expand01", Contract: "2023_1_contract01"},
	{Series: "2024.1", Codename: "Caracal", Major: 28, Expand: "2024_1_expand01", Contract: "2024_1_contract01"},
	{Series: "2024.2", Codename: "Dalmatian", Major: 29, Expand: "2024_1_expand01", Contract: "2024_1_contract01"},
	{Series: "2025.1", Codename: "Epoxy", Major: 30, Expand: "2024_1_expand01", Contract: "2024_1_contract01"},
	{Series: "2025.2", Codename: "Flamingo", Major: 31, Expand: "2024_1_expand01", Contract: "2024_1_contract01"},
	{Series: "2026.1", Codename: "Gazpacho", Major: 32, Expand: "2024_1_expand01", Contract: "2024_1_contract01"},
	{Series: "2026.2", Codename: "Hibiscus", Major: 33, Expand: "2024_1_expand01", Contract: "2024_1_contract01", Unreleased: true},
}

// Releases lists the upstream releases, oldest first.
func Releases() []Release { return append([]Release(nil), releases...) }

// HeadRelease is the release whose revisions are the schema head: the
// oldest release that expects the graph's contract head.
func HeadRelease(head string) (Release, bool) {
	for _, r := range releases {
		if r.Contract == head {
			return r, true
		}
	}
	return Release{}, false
}

// ExpectingHead lists the releases whose services expect head.
func ExpectingHead(head string) []Release {
	var out []Release
	for _, r := range releases {
		if r.Contract == head {
			out = append(out, r)
		}
	}
	return out
}

// Errors of FindRelease.
var (
	// ErrUnknownRelease: the name is no release of the table.
	ErrUnknownRelease = errors.New("unknown Glance release")
	// ErrLegacyRelease: the release's tool keeps its version in
	// sqlalchemy-migrate's migrate_version table, which this tool reads
	// but never writes, so a database cannot be kept at what it expects.
	ErrLegacyRelease = errors.New("the release predates alembic")
)

// ReleaseError is FindRelease's error: the name asked for and why.
type ReleaseError struct {
	Name    string
	Release Release // for ErrLegacyRelease
	Err     error
}

func (e *ReleaseError) Error() string {
	if errors.Is(e.Err, ErrLegacyRelease) {
		return fmt.Sprintf("glance: release %s keeps its version in sqlalchemy-migrate's migrate_version table (version %d)", e.Release.Name(), e.Release.Legacy)
	}
	return fmt.Sprintf("glance: %v %q", e.Err, e.Name)
}
func (e *ReleaseError) Unwrap() error { return e.Err }

// FindRelease finds a release by series ("zed", "2024.1", also written
// "2024_1" as upstream's revision ids and CURRENT_RELEASE do), by
// codename ("Caracal") or by a Glance version number ("25", "25.1.0", as
// the release's `glance-manage --version` prints it), case-insensitively.
// Releases before Ocata are refused with ErrLegacyRelease.
func FindRelease(name string) (Release, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	major := n
	if i := strings.IndexByte(n, '.'); i > 0 && !strings.HasPrefix(n, "20") {
		major = n[:i]
	}
	for _, r := range releases {
		if n == r.Series || n == strings.ReplaceAll(r.Series, ".", "_") || n == strings.ToLower(r.Codename) || major == fmt.Sprint(r.Major) {
			if r.Contract == "" {
				return r, &ReleaseError{Name: name, Release: r, Err: ErrLegacyRelease}
			}
			return r, nil
		}
	}
	return Release{}, &ReleaseError{Name: name, Err: ErrUnknownRelease}
}

// ReleaseNames lists the names FindRelease accepts for the releases it
// does not refuse, by series.
func ReleaseNames() []string {
	var out []string
	for _, r := range releases {
		if r.Contract != "" {
			out = append(out, r.Series)
		}
	}
	return out
}

// Against says where a database stands against what a release expects.
type Against struct {
	Release Release
	// Newer are the applied revisions the release's tool does not know,
	// in walk order: the database is newer than the release expects.
	Newer []string
	// Contracted: some of Newer are contractions, after which the
	// release's glance-manage can no longer upgrade the database.
	// Expansions alone only add: the release's services keep working, as
	// between `db expand` and `db contract` of a rolling upgrade.
	Contracted bool
	// Removes: some of those contractions change the schema (drop or
	// tighten something), which the release's services may use; the
	// others are empty.
	Removes bool
	// NeedExpand: the release's expand head is not applied yet;
	// NeedContract: its contract head is not.
	NeedExpand, NeedContract bool
}

// Compare tells where the database whose version table holds rows stands
// against release r, on graph g.
func Compare(g *migrate.Graph, rows []string, r Release) Against {
	known := g.Applied([]string{r.Expand, r.Contract})
	applied := g.Applied(rows)
	out := Against{Release: r, NeedExpand: !applied[r.Expand], NeedContract: !applied[r.Contract]}
	for _, id := range g.WalkOrder() {
		if applied[id] && !known[id] {
			out.Newer = append(out.Newer, id)
			if rev := g.Revision(id); rev.Branch == migrate.Contract {
				out.Contracted = true
				out.Removes = out.Removes || rev.Ops != nil
			}
		}
	}
	return out
}

// FirstKnowing is the oldest release whose tool knows every revision of
// ids ("" when none does).
func FirstKnowing(g *migrate.Graph, ids []string) (Release, bool) {
	for _, r := range releases {
		if r.Contract == "" {
			continue
		}
		known := g.Applied([]string{r.Expand, r.Contract})
		all := true
		for _, id := range ids {
			all = all && known[id]
		}
		if all {
			return r, true
		}
	}
	return Release{}, false
}
