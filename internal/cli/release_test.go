package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/cli"
	"github.com/glance-manage/glance-manage/internal/testdb"
)

const upToDate = "Database is up to date. No upgrades needed.\n"

// TestCheckRelease: db check --release against each state a database goes
// through on its way from empty to our head, on every backend; each phase
// checks every release asked about. Without --release the answers are
// upstream's, against our head.
func TestCheckRelease(t *testing.T) {
	type want struct {
		args   []string
		code   int
		stdout string // exact when it starts with "=", else a substring
		stderr string // a substring ("" : stderr must be empty)
	}
	phases := []struct {
		name  string
		steps [][]string // run before the checks
		wants []want
	}{
		{"empty", nil, []want{
			{[]string{"db", "check"}, 3, "=Your database is not up to date. Your first step is to run `glance-manage db expand`.\n", ""},
			{[]string{"db", "check", "--release", "2024.1"}, 3, "=Your database is not up to date. Your first step is to run `glance-manage db expand`.\n", ""},
			{[]string{"db", "check", "--release", "zed"}, 3, "=Your database is not up to date for release zed (\"Zed\"), which expects wallaby_contract01. Your first step is to run `glance-manage db upgrade --version wallaby_expand01`.\n", ""},
		}},
		{"at wallaby_expand01", [][]string{{"db", "upgrade", "--version", "wallaby_expand01"}}, []want{
			{[]string{"db", "check"}, 3, "first step is to run `glance-manage db expand`", ""},
			{[]string{"db", "check", "--release", "25.1.0"}, 5, "Your next step is to run `glance-manage db upgrade --version wallaby_contract01` (the contraction)", ""},
			{[]string{"db", "check", "--release", "wallaby"}, 5, "for release wallaby (\"Wallaby\")", ""},
		}},
		{"at wallaby_contract01", [][]string{{"db", "upgrade", "--version", "wallaby_contract01"}}, []want{
			{[]string{"db", "check"}, 3, "first step is to run `glance-manage db expand`", ""},
			{[]string{"db", "check", "--release", "zed"}, 0, "=" + upToDate, ""},
			{[]string{"db", "check", "--release", "xena"}, 0, "=" + upToDate, ""},
			{[]string{"db", "check", "--release", "wallaby"}, 0, "=" + upToDate, ""},
			{[]string{"db", "check", "--release", "victoria"}, 6, "=The database is newer than release victoria (\"Victoria\") expects: it is at wallaby_contract01, where the services of that release expect ussuri_contract01. The later revisions only add to the schema, so those services keep working, but the glance-manage of that release does not know these revisions (its db sync and db expand fail with \"Can't locate revision\"): manage this database with this glance-manage, or upgrade Glance to wallaby (\"Wallaby\") or later.\n", ""},
		}},
		{"expanded for 2024.1", [][]string{{"db", "expand"}}, []want{
			{[]string{"db", "check"}, 5, "=Your database is not up to date. Your next step is to run `glance-manage db contract`.\n", ""},
			// A rolling upgrade from Zed under way: Zed's services work.
			{[]string{"db", "check", "--release", "zed"}, 0, "=" + upToDate, "NOTE: the database is expanded beyond release zed (\"Zed\") (it is at 2024_1_expand01, wallaby_contract01): the services of that release keep working on it"},
			{[]string{"db", "check", "--release", "2023.1"}, 5, "upgrade --version 2023_1_contract01", ""},
			{[]string{"db", "check", "--release", "caracal"}, 5, "=Your database is not up to date. Your next step is to run `glance-manage db contract`.\n", ""},
		}},
		{"contracted to 2024.1", [][]string{{"db", "contract"}}, []want{
			{[]string{"db", "check"}, 0, "=" + upToDate, ""},
			{[]string{"db", "check", "--release", "zed"}, 6, "The database is newer than release zed (\"Zed\") expects: it is at 2024_1_contract01, where the services of that release expect wallaby_contract01.", ""},
			{[]string{"db", "check", "--release", "2023.2"}, 6, "or upgrade Glance to 2024.1 (\"Caracal\") or later", ""},
			// Pike dropped tables Ocata's services had.
			{[]string{"db", "check", "--release", "ocata"}, 6, "The later contractions remove what those services may use, and the glance-manage of that release does not know these revisions (its db sync and db expand fail with \"Can't locate revision\"). Upgrade Glance to 2024.1 (\"Caracal\") or later, or restore the backup", ""},
			{[]string{"db", "check", "--release", "2024.1"}, 0, "=" + upToDate, ""},
			{[]string{"db", "check", "--release", "2026.2"}, 0, "=" + upToDate, ""},
		}},
	}
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		for _, ph := range phases {
			for _, step := range ph.steps {
				mustCLI(t, db.URL, step...)
			}
			before := snapshotOf(t, db)
			for _, w := range ph.wants {
				out, errs, code := runCLI(t, db.URL, w.args...)
				okOut := strings.Contains(out, w.stdout)
				if strings.HasPrefix(w.stdout, "=") {
					okOut = out == w.stdout[1:]
				}
				okErr := strings.Contains(errs, w.stderr) && (w.stderr != "" || errs == "")
				if code != w.code || !okOut || !okErr {
					t.Errorf("%s: %s: exit %d, want %d\nstdout: %q\nwant:   %q\nstderr: %q\nwant:   %q", ph.name, strings.Join(w.args, " "), code, w.code, out, w.stdout, errs, w.stderr)
				}
			}
			if snapshotOf(t, db) != before {
				t.Errorf("%s: db check changed the database", ph.name)
			}
		}
		// The same answer for programs, with what the release knows.
		out, _, code := runCLI(t, db.URL, "db", "check", "--release", "zed", "--format", "json")
		var j struct {
			Check struct {
				Code    int    `json:"exit_code"`
				Message string `json:"message"`
			} `json:"check"`
			Target struct {
				Series     string   `json:"series"`
				Contract   string   `json:"contract"`
				Newer      []string `json:"newer"`
				Contracted bool     `json:"contracted"`
				Removes    bool     `json:"removes"`
			} `json:"target_release"`
		}
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			t.Fatalf("json: %v\n%s", err, out)
		}
		if code != 6 || j.Check.Code != 6 || !strings.HasPrefix(j.Check.Message, "The database is newer than release zed") ||
			j.Target.Series != "zed" || j.Target.Contract != "wallaby_contract01" || !j.Target.Contracted || j.Target.Removes || len(j.Target.Newer) != 10 {
			t.Errorf("db check --release zed --format json: exit %d, %+v", code, j)
		}
	})
}

// TestCheckReleaseDataPending: a Mitaka database with images, expanded to
// Zed's level, still has images to migrate: exit 4, and the next step
// named is the upgrade that migrates them.
func TestCheckReleaseDataPending(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := testdb.New(t, b)
		mustCLI(t, db.URL, "db", "upgrade", "--version", "mitaka02")
		if _, err := db.SQL.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ('image-1', 'x', 'active', TRUE, '2020-01-01 00:00:00', FALSE, 0, 0, FALSE)"); err != nil {
			t.Fatal(err)
		}
		mustCLI(t, db.URL, "db", "upgrade", "--version", "wallaby_expand01")
		out, errs, code := runCLI(t, db.URL, "db", "check", "--release", "zed")
		if code != 4 || !strings.Contains(out, "Your next step is to run `glance-manage db upgrade --version wallaby_contract01`, which migrates the data and contracts") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
		}
		// Following the advice brings it to what Zed expects.
		mustCLI(t, db.URL, "db", "upgrade", "--version", "wallaby_contract01")
		if out := mustCLI(t, db.URL, "db", "check", "--release", "zed"); out != upToDate {
			t.Errorf("after the upgrade: %q", out)
		}
		var vis string
		if err := db.SQL.QueryRow("SELECT visibility FROM images WHERE id = 'image-1'").Scan(&vis); err != nil || vis != "public" {
			t.Errorf("visibility %q, %v; want public", vis, err)
		}
	})
}

// TestCheckReleaseFromConfig: [glance_manage] release in a configuration
// file targets a release as --release does; --release wins; bad values
// are refused with one line, a bad --release before connecting.
func TestCheckReleaseFromConfig(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	mustCLI(t, db.URL, "db", "sync")
	dir := t.TempDir()
	run := func(release string, args ...string) (string, string, int) {
		conf := filepath.Join(dir, "glance-manage.conf")
		text := "[database]\nconnection = " + db.URL + "\n"
		if release != "" {
			text += "[glance_manage]\nrelease = " + release + "\n"
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append([]string{"--config-file", conf}, args...), cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return out.String(), errb.String(), code
	}
	for _, tc := range []struct {
		release string
		args    []string
		code    int
		out     string
		err     string
	}{
		{"", []string{"db", "check"}, 0, upToDate, ""},
		{"zed", []string{"db", "check"}, 6, "The database is newer than release zed", ""},
		{"zed", []string{"db", "check", "--release", "2024.1"}, 0, upToDate, ""},
		{"2024.1", []string{"db", "check"}, 0, upToDate, ""},
		// Other commands do not read it.
		{"zed", []string{"db", "version"}, 0, "2024_1_contract01\n", "Composite version"},
		{"frobnicate", []string{"db", "check"}, 1, "", `glance-manage: error: [glance_manage] release "frobnicate" is no Glance release this glance-manage knows; name one of ocata, pike,`},
		{"", []string{"db", "check", "--release", "frobnicate"}, 2, "", `glance-manage: error: --release "frobnicate" is no Glance release`},
		{"", []string{"db", "check", "--release", "newton"}, 2, "", `release newton ("Newton") keeps its version in sqlalchemy-migrate's migrate_version table (version 44)`},
	} {
		out, errs, code := run(tc.release, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || (tc.out == "" && out != "") || !strings.Contains(errs, tc.err) || (tc.err == "" && errs != "") {
			t.Errorf("release %q, %v: exit %d, want %d\nstdout %q\nstderr %q", tc.release, tc.args, code, tc.code, out, errs)
		}
	}
	// OS_GLANCE_MANAGE__RELEASE sets it too, as the environment does every option.
	var out, errb bytes.Buffer
	env := map[string]string{"OS_DATABASE__CONNECTION": db.URL, "OS_GLANCE_MANAGE__RELEASE": "yoga", "HOME": dir}
	if code := cli.Run(context.Background(), []string{"db", "check"}, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}); code != 6 || !strings.HasPrefix(out.String(), "The database is newer than release yoga") {
		t.Errorf("OS_GLANCE_MANAGE__RELEASE=yoga: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// A bad --release is a usage error: nothing is opened.
	missing := filepath.Join(dir, "never.sqlite")
	_, errs, code := runCLI(t, "sqlite:///"+missing, "db", "check", "--release", "nope")
	if _, err := os.Stat(missing); code != 2 || !os.IsNotExist(err) || strings.Count(errs, "\n") != 1 {
		t.Errorf("bad --release: exit %d, stderr %q, file %v", code, errs, err)
	}
}

// TestVersionSaysWhichGlance: --version keeps the tool's version alone on
// its first line (scripts read it) and then names the schema head's
// release and the releases that expect it.
func TestVersionSaysWhichGlance(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), []string{"--version"}, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	want := []string{
		cli.Version,
		`Glance schema head: 2024_1_contract01 (expand 2024_1_expand01), from Glance 2024.1 ("Caracal")`,
		"Glance 2024.1 to 2026.1 and master expect it; for an older release's services see `glance-manage db check --release NAME`",
		"",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("--version:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// TestSyncWarnsBeyondRelease: with [glance_manage] release naming an older
// release, db sync, db expand, db contract and db upgrade still go to
// their head (as documented), but first warn, once, on stderr, naming the
// command that stays at the release; an explicit revision, a release that
// expects the head and a run that adds nothing the release does not know
// give no warning.
func TestSyncWarnsBeyondRelease(t *testing.T) {
	dir := t.TempDir()
	run := func(url, release string, args ...string) (string, string, int) {
		conf := filepath.Join(dir, "glance-manage.conf")
		text := "[database]\nconnection = " + url + "\n"
		if release != "" {
			text += "[glance_manage]\nrelease = " + release + "\n"
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append([]string{"--config-file", conf}, args...), cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return out.String(), errb.String(), code
	}
	const warnSync = "WARNING: [glance_manage] release is zed (\"Zed\"), but glance-manage db sync goes to 2024_1_expand01, 2024_1_contract01, beyond wallaby_contract01, which its services expect: the glance-manage of zed will not know the database afterwards (its db sync and db expand fail with \"Can't locate revision\"), and the only way back is a backup. To keep the database at what zed expects, run `glance-manage db sync wallaby_contract01` instead.\n"
	for _, b := range []testdb.Backend{testdb.SQLite} {
		t.Run(string(b), func(t *testing.T) {
			// db sync from an old revision: the warning, then the sync
			// to the head.
			db := testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			out, errs, code := run(db.URL, "zed", "db", "sync")
			if code != 0 || !strings.HasSuffix(out, "Database is synced successfully.\n") || strings.Count(errs, "WARNING: [glance_manage] release") != 1 || !strings.Contains(errs, warnSync) {
				t.Errorf("db sync with release zed: exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errs, warnSync)
			}
			// Nothing left to apply: no warning.
			if _, errs, _ := run(db.URL, "zed", "db", "sync"); strings.Contains(errs, "WARNING") {
				t.Errorf("db sync at head: %q", errs)
			}

			// The way to stay, and then expand/contract/upgrade.
			db = testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "mitaka02")
			if _, errs, code := run(db.URL, "zed", "db", "sync", "wallaby_contract01"); code != 0 || strings.Contains(errs, "WARNING") {
				t.Errorf("db sync wallaby_contract01: exit %d, %q", code, errs)
			}
			if _, errs, code := run(db.URL, "2024.1", "db", "expand"); code != 0 || strings.Contains(errs, "WARNING") {
				t.Errorf("db expand with release 2024.1: exit %d, %q", code, errs)
			}
			db = testdb.New(t, b)
			mustCLI(t, db.URL, "db", "sync", "wallaby_contract01")
			for _, c := range []struct {
				args []string
				stay string
			}{
				{[]string{"db", "expand"}, "glance-manage db upgrade --version wallaby_expand01"},
				{[]string{"db", "contract"}, "glance-manage db upgrade --version wallaby_contract01"},
			} {
				_, errs, code := run(db.URL, "zed", c.args...)
				if code != 0 || !strings.Contains(errs, "but glance-manage "+strings.Join(c.args, " ")+" goes to ") || !strings.Contains(errs, "run `"+c.stay+"` instead.") {
					t.Errorf("%v with release zed: exit %d, %q", c.args, code, errs)
				}
			}
			db = testdb.New(t, b)
			mustCLI(t, db.URL, "db", "sync", "wallaby_contract01")
			if _, errs, code := run(db.URL, "zed", "db", "upgrade"); code != 0 || !strings.Contains(errs, "run `glance-manage db upgrade --version wallaby_contract01` instead.") {
				t.Errorf("db upgrade with release zed: exit %d, %q", code, errs)
			}
			if out, _, code := run(db.URL, "zed", "db", "check"); code != 6 || !strings.HasPrefix(out, "The database is newer than release zed") {
				t.Errorf("db check after: exit %d, %q", code, out)
			}
		})
	}
}
