package cli_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/rolling"
)

// TestLiveAndScriptAgree runs every command of the upgrade workflow on
// fresh and on partly upgraded databases of every backend three ways: as
// --sql from the database's revision, as --dry-run, and live (the plan
// the CLI runs, glance.Manager.Plan and Run, its statements captured
// through the engine's events), and checks that the three list the same
// statements in the same order, and that the data migrations the live
// run performs are those the scripts name.
//
// The live run uses the plain statements (migrate.Options.PlainDDL: no
// online algorithms or lock timeouts, which only a live run can ask for)
// and no baseline (on an empty database the real run builds the result in
// one step, as --dry-run says). The version table's CREATE, which the
// engine runs without an event, is taken out of the scripts (and counted).
func TestLiveAndScriptAgree(t *testing.T) {
	ctx := context.Background()
	upgrade := func(rev string) func(t *testing.T, db *testdb.DB) {
		return func(t *testing.T, db *testdb.DB) { mustCLI(t, db.URL, "db", "upgrade", rev) }
	}
	seed := func(t *testing.T, db *testdb.DB) {
		if err := rolling.Seed(ctx, db.SQL, string(db.Backend), 50); err != nil {
			t.Fatal(err)
		}
	}
	cli := func(args ...string) func(t *testing.T, db *testdb.DB) {
		return func(t *testing.T, db *testdb.DB) { mustCLI(t, db.URL, args...) }
	}
	type setup = func(t *testing.T, db *testdb.DB)
	cases := []struct {
		name   string
		setup  []setup
		cmd    glance.Command
		target string
		// data: the live run migrates rows (the seeded ones).
		data bool
	}{
		{name: "fresh sync", cmd: glance.Sync},
		{name: "fresh upgrade", cmd: glance.Upgrade},
		{name: "fresh upgrade to ocata_expand01", cmd: glance.Upgrade, target: "ocata_expand01"},
		{name: "fresh expand", cmd: glance.Expand},
		{name: "mitaka02 sync", setup: []setup{upgrade("mitaka02"), seed}, cmd: glance.Sync, data: true},
		{name: "mitaka02 sync pike_contract01", setup: []setup{upgrade("mitaka02"), seed}, cmd: glance.Sync, target: "pike_contract01", data: true},
		{name: "mitaka02 upgrade", setup: []setup{upgrade("mitaka02"), seed}, cmd: glance.Upgrade, data: true},
		{name: "mitaka02 expand", setup: []setup{upgrade("mitaka02"), seed}, cmd: glance.Expand},
		{name: "expanded sync", setup: []setup{upgrade("mitaka02"), seed, cli("db", "expand")}, cmd: glance.Sync, data: true},
		{name: "expanded migrate", setup: []setup{upgrade("mitaka02"), seed, cli("db", "expand")}, cmd: glance.Migrate, data: true},
		{name: "migrated contract", setup: []setup{upgrade("mitaka02"), seed, cli("db", "expand"), cli("db", "migrate")}, cmd: glance.Contract},
		{name: "wallaby upgrade", setup: []setup{upgrade("wallaby_contract01")}, cmd: glance.Upgrade},
	}
	for _, b := range testdb.All {
		t.Run(string(b), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					db := testdb.New(t, b)
					for _, s := range c.setup {
						s(t, db)
					}
					m, err := glance.New(db.SQL, string(b))
					if err != nil {
						t.Fatal(err)
					}
					plan, err := m.Plan(ctx, c.cmd, c.target)
					if err != nil {
						t.Fatalf("plan: %v", err)
					}
					if c.cmd == glance.Migrate {
						checkMigrate(t, m, plan)
						return
					}
					args := []string{"db", string(c.cmd)}
					if c.target != "" {
						args = append(args, c.target)
					}
					var scripts []string
					sqlArgs := append(slices.Clone(args), "--sql")
					if len(plan.Start) > 0 {
						sqlArgs = append(sqlArgs, "--from", strings.Join(plan.Start, ","))
					}
					scripts = append(scripts, mustCLI(t, db.URL, sqlArgs...))
					scripts = append(scripts, mustCLI(t, db.URL, append(slices.Clone(args), "--dry-run")...))

					var live, liveData []string
					skipped := 0
					observe := func(e migrate.Event) error {
						switch e.Kind {
						case migrate.Statement:
							if !dialect.IsComment(e.SQL) {
								live = append(live, normStmt(e.SQL))
							}
						case migrate.OpSkipped:
							// Found done (MySQL resumes by asking): the
							// script runs it all the same.
							stmts, err := m.Dialect.Render(e.Op)
							if err != nil {
								return err
							}
							for _, q := range stmts {
								live = append(live, normStmt(q))
							}
							skipped++
						case migrate.DataBatch:
							if len(liveData) == 0 || liveData[len(liveData)-1] != e.SQL {
								liveData = append(liveData, e.SQL)
							}
						}
						return nil
					}
					err = m.Run(ctx, plan, glance.RunOptions{
						Options: migrate.Options{PlainDDL: true, NoBaseline: true},
						MaxRows: -1, Observe: observe,
					})
					if err != nil {
						t.Fatalf("live run: %v", err)
					}
					if len(live) == 0 {
						t.Fatal("the live run executed no statement: the comparison proves nothing")
					}
					t.Logf("%d statements live (%d of them of operations found done), data migrations %v", len(live), skipped, liveData)
					for i, script := range scripts {
						mode := []string{"--sql", "--dry-run"}[i]
						stmts, data, created := scriptStatements(script)
						if !m.Dialect.TransactionalDDL() {
							stmts = splitInlineIndexes(stmts)
						}
						if want := len(plan.Start) == 0; created != want {
							t.Errorf("%s: creates the version table: %v, want %v", mode, created, want)
						}
						if !slices.Equal(stmts, live) {
							t.Errorf("%s lists other statements than the live run (%d and %d):\n%s", mode, len(stmts), len(live), firstDiff(strings.Join(live, "\n"), strings.Join(stmts, "\n")))
						}
						if c.data {
							if len(liveData) == 0 {
								t.Errorf("the live run migrated no data: the seed gave it none to migrate")
							}
							if !slices.Equal(data, liveData) {
								t.Errorf("%s names data migrations %v, the live run ran %v", mode, data, liveData)
							}
						} else if len(liveData) > 0 {
							t.Errorf("the live run migrated data (%v) where none was expected", liveData)
						}
					}
					heads, err := m.Heads(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(heads, plan.Result) {
						t.Errorf("after the run the database is at %v; the plan said %v", heads, plan.Result)
					}
				})
			}
		})
	}
}

// checkMigrate: a migrate plan has no revision; its live run runs no
// statement of its own but the batches of the data migrations the plan
// found rows for.
func checkMigrate(t *testing.T, m *glance.Manager, plan *glance.Plan) {
	t.Helper()
	if len(plan.Steps()) != 0 || len(plan.Phases) != 1 || plan.Phases[0].Kind != glance.PhaseMigrate {
		t.Fatalf("migrate plan: %d phases, %d revisions; want one migrate phase", len(plan.Phases), len(plan.Steps()))
	}
	var want []string
	for _, dm := range m.DataMigrations() {
		if plan.Pending[dm.Name] > 0 {
			want = append(want, dm.Name)
		}
	}
	if len(want) == 0 {
		t.Fatal("the seed left no row to migrate: the check proves nothing")
	}
	var stmts, ran []string
	err := m.Run(context.Background(), plan, glance.RunOptions{MaxRows: -1, Observe: func(e migrate.Event) error {
		switch e.Kind {
		case migrate.Statement:
			stmts = append(stmts, e.SQL)
		case migrate.DataBatch:
			if len(ran) == 0 || ran[len(ran)-1] != e.SQL {
				ran = append(ran, e.SQL)
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) > 0 || !slices.Equal(ran, want) {
		t.Errorf("migrate ran statements %q and data migrations %v; want none and %v", stmts, ran, want)
	}
	if left, err := m.PendingData(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		for name, n := range left {
			if n > 0 {
				t.Errorf("after migrate, %s has %d rows left", name, n)
			}
		}
	}
}

func normStmt(s string) string { return strings.TrimRight(strings.TrimSpace(s), ";") }

var (
	dataNoteRe      = regexp.MustCompile(`^-- Data migration (\S+) `)
	createVersionRe = regexp.MustCompile(`^CREATE TABLE ` + migrate.VersionTable + `\b`)
)

// scriptStatements splits a script (splitScript) into the statements of
// its revisions, without BEGIN and COMMIT, the statements of the data
// migrations it runs at once, and the version table's CREATE; it returns
// those statements, the data migrations the script names, in order, and
// whether it creates the version table.
func scriptStatements(script string) (stmts, data []string, created bool) {
	inData := false
	for _, block := range strings.Split(script, "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		for len(lines) > 0 && strings.HasPrefix(lines[0], "--") {
			switch l := lines[0]; {
			case strings.HasPrefix(l, "-- Running upgrade "):
				inData = false
			case dataNoteRe.MatchString(l):
				inData = true
				data = append(data, dataNoteRe.FindStringSubmatch(l)[1])
			}
			lines = lines[1:]
		}
		if len(lines) == 0 {
			continue
		}
		for _, s := range splitScript(strings.Join(lines, "\n") + "\n") {
			s = normStmt(s)
			switch {
			case s == "BEGIN" || s == "COMMIT" || inData || dialect.IsComment(s):
			case createVersionRe.MatchString(s):
				created = true
			default:
				stmts = append(stmts, s)
			}
		}
	}
	return stmts, data, created
}

// TestReadingLeavesLegacyRows: upstream renamed the ids of Pike's and
// Ocata's monolithic revisions (pike01, ocata01). Commands that only read
// (db version, db check, db history, --dry-run) take no lock and must not
// rename them; a run (db sync) renames them, under the lock, as the first
// step of its plan.
func TestReadingLeavesLegacyRows(t *testing.T) {
	ctx := context.Background()
	for _, b := range testdb.All {
		t.Run(string(b), func(t *testing.T) {
			db := testdb.New(t, b)
			mustCLI(t, db.URL, "db", "upgrade", "pike_contract01")
			if _, err := db.SQL.Exec("UPDATE alembic_version SET version_num = 'pike01' WHERE version_num = 'pike_contract01'"); err != nil {
				t.Fatal(err)
			}
			rows := func() []string {
				out, err := dialect.Strings(ctx, db.SQL, "SELECT version_num FROM alembic_version ORDER BY version_num")
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			before := rows()
			if !slices.Contains(before, "pike01") {
				t.Fatalf("set-up: alembic_version holds %v, no pike01", before)
			}
			out := mustCLI(t, db.URL, "db", "version")
			if !strings.Contains(out, "pike_contract01") || strings.Contains(out, "pike01\n") {
				t.Errorf("db version does not name the renamed revision:\n%s", out)
			}
			if got := rows(); !slices.Equal(got, before) {
				t.Fatalf("db version changed alembic_version from %v to %v", before, got)
			}
			for _, args := range [][]string{{"db", "check"}, {"db", "version", "--format", "json"}, {"db", "history"}, {"db", "sync", "--dry-run"}} {
				if _, errs, code := runCLI(t, db.URL, args...); code != 0 && code != 3 {
					t.Errorf("%v: exit %d: %s", args, code, errs)
				}
				if got := rows(); !slices.Equal(got, before) {
					t.Fatalf("%v changed alembic_version from %v to %v", args, before, got)
				}
			}
			mustCLI(t, db.URL, "db", "sync")
			after := rows()
			if slices.Contains(after, "pike01") {
				t.Errorf("db sync left pike01 in alembic_version: %v", after)
			}
			if out := mustCLI(t, db.URL, "db", "check"); !strings.Contains(out, "up to date") {
				t.Errorf("db check after db sync: %q", out)
			}
		})
	}
}

var (
	createTableRe = regexp.MustCompile(`^CREATE TABLE (\S+) \(`)
	inlineIndexRe = regexp.MustCompile(`^\s+(UNIQUE )?INDEX (\S+) \((.*)\),? ?$`)
)

// splitInlineIndexes rewrites each CREATE TABLE that declares indexes into
// the bare CREATE TABLE and one CREATE INDEX per index, in order: where
// DDL commits statement by statement (MySQL) the engine creates a table's
// indexes one by one, so that a run interrupted between them resumes
// (each is checked for before it is made), while a script declares them
// in the CREATE TABLE.
func splitInlineIndexes(stmts []string) []string {
	var out []string
	for _, s := range stmts {
		ct := createTableRe.FindStringSubmatch(s)
		if ct == nil {
			out = append(out, s)
			continue
		}
		var keep, idx []string
		for _, l := range strings.Split(s, "\n") {
			if im := inlineIndexRe.FindStringSubmatch(l); im != nil {
				idx = append(idx, "CREATE "+im[1]+"INDEX "+im[2]+" ON "+ct[1]+" ("+im[3]+")")
				continue
			}
			keep = append(keep, l)
		}
		if len(idx) > 0 && len(keep) >= 2 {
			// The last definition before the closing line loses its comma.
			keep[len(keep)-2] = strings.TrimSuffix(keep[len(keep)-2], ", ")
		}
		out = append(out, strings.Join(keep, "\n"))
		out = append(out, idx...)
	}
	return out
}
