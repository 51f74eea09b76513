package cli_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/rolling"
)

// seededOld is a database at rolling.From (before Ocata: is_public, no
// visibility) with n seeded images and their properties, tags, locations
// and members.
func seededOld(t *testing.T, b testdb.Backend, n int) *testdb.DB {
	t.Helper()
	db := testdb.New(t, b)
	mustCLI(t, db.URL, "db", "upgrade", rolling.From)
	if err := rolling.Seed(context.Background(), db.SQL, string(b), n); err != nil {
		t.Fatal(err)
	}
	return db
}

// sourceSum is a checksum of everything in db: the snapshot (schema and
// rows), every table's name and row count (the tool's own bookkeeping
// tables too), and on SQLite the bytes of the file.
func sourceSum(t *testing.T, db *testdb.DB) string {
	t.Helper()
	h := sha256.New()
	io.WriteString(h, snapshotOf(t, db))
	var q string
	switch db.Backend {
	case testdb.SQLite:
		q = "SELECT name FROM sqlite_master ORDER BY name"
	case testdb.MySQL:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
	default:
		q = "SELECT relname || ':' || relkind::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname"
	}
	rows, err := db.SQL.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		fmt.Fprintf(h, "object %s\n", n)
		if name, kind, _ := strings.Cut(n, ":"); strings.HasPrefix(name, "glance_manage_") && (kind == "" || kind == "r") {
			n = name
			// The tool's own tables, which the snapshot leaves out.
			var c int64
			if err := db.SQL.QueryRow("SELECT COUNT(*) FROM " + n).Scan(&c); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "rows %d\n", c)
		}
	}
	if db.Backend == testdb.SQLite {
		b, err := os.ReadFile(db.Name)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scratchLeft lists what a rehearsal of db could have left: the database
// <name>_rehearse on the server, or files next to the SQLite database.
func scratchLeft(t *testing.T, db *testdb.DB) []string {
	t.Helper()
	if db.Backend == testdb.SQLite {
		entries, err := os.ReadDir(filepath.Dir(db.Name))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			if e.Name() != filepath.Base(db.Name) && !strings.HasPrefix(e.Name(), filepath.Base(db.Name)+"-") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	q := "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?"
	if db.Backend == testdb.PostgreSQL {
		q = "SELECT datname FROM pg_database WHERE datname LIKE $1"
	}
	rows, err := db.SQL.Query(q, db.Name+"_rehearse%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

type rehearsalJSON struct {
	Backend     string   `json:"backend"`
	From        []string `json:"from"`
	To          string   `json:"to"`
	NothingToDo string   `json:"nothing_to_do"`
	Scratch     string   `json:"scratch"`
	Cleanup     string   `json:"scratch_cleanup"`
	Copy        *struct {
		Rows         map[string]int64 `json:"rows"`
		SourceBytes  int64            `json:"source_bytes"`
		ScratchBytes int64            `json:"scratch_bytes"`
	} `json:"copy"`
	Preflight *struct {
		Phases   []string          `json:"phases"`
		Blockers []json.RawMessage `json:"blockers"`
	} `json:"preflight"`
	Phases []struct {
		Name         string  `json:"name"`
		Ran          bool    `json:"ran"`
		Duration     float64 `json:"duration_ms"`
		Rows         int64   `json:"rows"`
		Stall        float64 `json:"writer_stall_ms"`
		Writes       int64   `json:"writes"`
		FailedWrites int64   `json:"failed_writes"`
		ShadowCopies []struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows"`
		} `json:"shadow_copies"`
		Retries []struct {
			What  string `json:"what"`
			Count int64  `json:"count"`
		} `json:"retries"`
	} `json:"phases"`
	Estimate *struct {
		Factor float64            `json:"factor"`
		Phases map[string]float64 `json:"phases_ms"`
		Total  float64            `json:"total_ms"`
		Basis  string             `json:"basis"`
	} `json:"estimate"`
	Commands []struct {
		Run string `json:"run"`
	} `json:"commands"`
	FailedWrites []string `json:"failed_writes"`
}

// TestRehearse: db rehearse on a seeded pre-Ocata database, on every
// backend, in both forms: every phase runs on the copy under the load,
// with its figures; the source is the same before and after (checksums);
// the scratch database is gone; a database at head has nothing to
// rehearse.
func TestRehearse(t *testing.T) {
	const images = 400
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := seededOld(t, b, images)
		before := sourceSum(t, db)

		out, errs, code := runCLI(t, db.URL, "db", "rehearse", "--format", "json")
		if code != 0 {
			t.Fatalf("db rehearse --format json: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		var r rehearsalJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r.Backend != string(b) || strings.Join(r.From, ",") != rolling.From || r.To != "2024_1_contract01" || r.NothingToDo != "" {
			t.Errorf("backend %q, from %v, to %q, nothing to do %q", r.Backend, r.From, r.To, r.NothingToDo)
		}
		if r.Copy == nil || r.Copy.Rows["images"] != images || r.Copy.Rows["image_locations"] != images || r.Copy.ScratchBytes <= 0 || r.Copy.SourceBytes <= 0 {
			t.Errorf("copy: %+v", r.Copy)
		}
		if r.Preflight == nil || strings.Join(r.Preflight.Phases, ",") != "expand,migrate,contract" || len(r.Preflight.Blockers) != 0 {
			t.Errorf("preflight: %+v", r.Preflight)
		}
		var names []string
		for _, p := range r.Phases {
			names = append(names, p.Name)
			if !p.Ran || p.Duration <= 0 || p.Writes == 0 || p.FailedWrites != 0 {
				t.Errorf("phase %s: ran %v, %.1f ms, %d writes, %d failed", p.Name, p.Ran, p.Duration, p.Writes, p.FailedWrites)
			}
			for _, x := range p.Retries {
				if x.Count <= 0 || x.What == "" {
					t.Errorf("phase %s: retry %+v", p.Name, x)
				}
			}
			switch {
			case p.Name == "migrate" && p.Rows < images:
				// Every image gets its visibility; half the
				// locations their store key.
				t.Errorf("migrate wrote %d rows, want at least %d", p.Rows, images)
			case p.Name != "migrate" && b == testdb.MySQL && len(p.ShadowCopies) != 1:
				// MariaDB copies images into a shadow table in
				// both Ocata steps that change its columns.
				t.Errorf("%s: shadow copies %+v, want one of images", p.Name, p.ShadowCopies)
			case p.Name != "migrate" && b == testdb.MySQL && (p.ShadowCopies[0].Table != "images" || p.ShadowCopies[0].Rows < images):
				t.Errorf("%s: shadow copy %+v", p.Name, p.ShadowCopies[0])
			case b != testdb.MySQL && len(p.ShadowCopies) != 0:
				t.Errorf("%s: shadow copies on %s: %+v", p.Name, b, p.ShadowCopies)
			}
		}
		if strings.Join(names, ",") != "expand,migrate,contract" {
			t.Errorf("phases %v", names)
		}
		if len(r.FailedWrites) != 0 {
			t.Errorf("failed writes: %v", r.FailedWrites)
		}
		if e := r.Estimate; e == nil || e.Factor < 1 || e.Total <= 0 || len(e.Phases) != 3 || !strings.Contains(e.Basis, "×") {
			t.Errorf("estimate: %+v", r.Estimate)
		}
		var cmds []string
		for _, c := range r.Commands {
			if c.Run != "" {
				cmds = append(cmds, c.Run)
			}
		}
		if want := "glance-manage db backup --to glance-before-upgrade.backup|glance-manage db preflight|glance-manage db expand|glance-manage db migrate|glance-manage db contract|glance-manage db check"; strings.Join(cmds, "|") != want {
			t.Errorf("commands:\n%s\nwant\n%s", strings.Join(cmds, "\n"), strings.ReplaceAll(want, "|", "\n"))
		}
		wantGone := "dropped the database " + db.Name + "_rehearse"
		if b == testdb.SQLite {
			wantGone = "removed " + filepath.Dir(db.Name)
		}
		if !strings.HasPrefix(r.Cleanup, wantGone) {
			t.Errorf("scratch cleanup %q, want %q...", r.Cleanup, wantGone)
		}
		if left := scratchLeft(t, db); len(left) != 0 {
			t.Errorf("the rehearsal left %v", left)
		}
		if after := sourceSum(t, db); after != before {
			t.Errorf("the rehearsal changed the source database")
		}

		// The text form: the table, each phase's details, the
		// estimate and the commands.
		out, errs, code = runCLI(t, db.URL, "db", "rehearse")
		if code != 0 {
			t.Fatalf("db rehearse: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		t.Logf("db rehearse:\n%s", out)
		for _, re := range []string{
			`(?m)^Rehearsal of the upgrade of the ` + string(b) + ` database \S+ from mitaka02 to 2024_1_contract01$`,
			`(?m)^Copy: .*, made in \S+: \d+ rows in \d+ tables \(images: 400\), `,
			`(?m)^Preflight on the copy: no problems found\.$`,
			`(?m)^phase\s+duration\s+rows\s+lock wait\s+stall\s+max write\s+writes\s+failed\s+retries$`,
			`(?m)^expand\s+\S+\s+\d+\s+\S+\s+\S+\s+\S+\s+[1-9]\d*\s+0\s+\d+$`,
			`(?m)^migrate\s+\S+\s+[1-9]\d*\s+\S+\s+\S+\s+\S+\s+[1-9]\d*\s+0\s+\d+$`,
			`(?m)^contract\s+\S+\s+\d+\s+\S+\s+\S+\s+\S+\s+[1-9]\d*\s+0\s+\d+$`,
			`(?m)^contract: longest statement \S+: `,
			`(?m)^Estimate for the real run: expand \S+, migrate \S+, contract \S+; \S+ in all\. How: each phase's time on the copy × \d+\.\d\d: `,
			`(?m)^Commands for the real run:$`,
			`(?m)^  glance-manage db expand\s+# with the old services running$`,
			`(?m)^  # stop every service of the old release$`,
			`(?m)^Scratch copy: (dropped the database|removed) `,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("text report: no line matches %s\n%s", re, out)
			}
		}
		if !strings.Contains(errs, "rehearse: copying the database into ") {
			t.Errorf("stderr: %q", errs)
		}
		if after := sourceSum(t, db); after != before {
			t.Errorf("the text rehearsal changed the source database")
		}
		if left := scratchLeft(t, db); len(left) != 0 {
			t.Errorf("the text rehearsal left %v", left)
		}

		// At head: nothing to do, nothing created.
		head := testdb.New(t, b)
		mustCLI(t, head.URL, "db", "sync")
		out = mustCLI(t, head.URL, "db", "rehearse")
		if want := "Nothing to rehearse: the database is up to date (2024_1_contract01): no phase is left to run.\n"; out != want {
			t.Errorf("at head: %q, want %q", out, want)
		}
		out = mustCLI(t, head.URL, "db", "rehearse", "--format", "json")
		if !strings.Contains(out, `"nothing_to_do": "the database is up to date (2024_1_contract01): no phase is left to run"`) {
			t.Errorf("at head, JSON: %s", out)
		}
		if left := scratchLeft(t, head); len(left) != 0 {
			t.Errorf("a rehearsal at head left %v", left)
		}
	})
}

// TestRehearseScratchRefusals: a scratch URL naming the source, a scratch
// that is not empty, one of another backend, and an SQLite file that
// exists are refused with one line, exit 1 or 2, and change nothing.
func TestRehearseScratchRefusals(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := seededOld(t, b, 20)
		other := testdb.New(t, b)
		mustCLI(t, other.URL, "db", "upgrade", "liberty")
		before, otherBefore := sourceSum(t, db), sourceSum(t, other)
		cases := []struct {
			name, scratch string
			code          int
			re            string
		}{
			{"source", db.URL, 2, `^ERROR: --scratch \S+ is the source database itself: a rehearsal runs on a copy\. `},
			{"not empty", other.URL, 1, `^ERROR: the scratch database \S+ is not empty \(it has alembic_version, [a-z_, .]+\): db rehearse writes only into a new or empty database and never drops what it did not create\. `},
		}
		if b != testdb.SQLite {
			// A scratch database a killed rehearsal left (with a
			// table): refused, not dropped.
			if _, err := db.SQL.Exec("CREATE DATABASE " + db.Name + "_rehearse"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = db.SQL.Exec("DROP DATABASE " + db.Name + "_rehearse") })
			left := strings.Replace(db.URL, "/"+db.Name, "/"+db.Name+"_rehearse", 1)
			ldb := openURL(t, b, left)
			if _, err := ldb.Exec("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			ldb.Close()
			cases = append(cases, struct {
				name, scratch string
				code          int
				re            string
			}{"leftover", "", 1, `^ERROR: the scratch database \S+/` + db.Name + `_rehearse\S* is not empty \(it has images\): `})
		}
		if b == testdb.SQLite {
			cases[1] = struct {
				name, scratch string
				code          int
				re            string
			}{"exists", other.URL, 1, `^ERROR: the scratch file \S+ exists: db rehearse never overwrites a file\. `}
			// The same file under another spelling.
			rel, err := filepath.Rel(mustGetwd(t), db.Name)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, struct {
				name, scratch string
				code          int
				re            string
			}{"same file", "sqlite:///" + rel, 2, `is the source database itself`})
			cases = append(cases, struct {
				name, scratch string
				code          int
				re            string
			}{"backend", "postgresql://u:Zq9xWv7pK@127.0.0.1:1/x", 2, `^ERROR: --scratch postgresql://u:\*+@127\.0\.0\.1:1/x is of another backend \(the source is sqlite, the scratch postgresql\)`})
		}
		for _, c := range cases {
			args := []string{"db", "rehearse"}
			if c.scratch != "" {
				args = append(args, "--scratch", c.scratch)
			}
			out, errs, code := runCLI(t, db.URL, args...)
			if code != c.code || !regexp.MustCompile(c.re).MatchString(errs) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "" {
				t.Errorf("%s: exit %d (want %d)\nstdout %q\nstderr %q\nwant %s", c.name, code, c.code, out, errs, c.re)
			}
			if leak := testdb.Leak(errs, "Zq9xWv7pK"); leak != "" {
				t.Errorf("%s: the password shows (%q)", c.name, leak)
			}
		}
		if sourceSum(t, db) != before || sourceSum(t, other) != otherBefore {
			t.Error("a refused rehearsal changed a database")
		}
		if left := scratchLeft(t, db); len(left) != 0 && (b == testdb.SQLite || len(left) != 1 || left[0] != db.Name+"_rehearse") {
			t.Errorf("a refused rehearsal left %v", left)
		}
	})
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestRehearseScratchGiven: --scratch naming an empty database (MySQL,
// PostgreSQL: emptied again at the end, not dropped), one that does not
// exist yet on the source's server (created, then dropped), and a new
// SQLite file (removed).
func TestRehearseScratchGiven(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := seededOld(t, b, 50)
		before := sourceSum(t, db)
		var scratch string
		var empty *testdb.DB
		if b == testdb.SQLite {
			scratch = "sqlite:///" + filepath.Join(t.TempDir(), "scratch.db")
		} else {
			empty = testdb.New(t, b)
			scratch = empty.URL
		}
		out := mustCLI(t, db.URL, "db", "rehearse", "--scratch", scratch, "--format", "json")
		var r rehearsalJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Phases) != 3 || r.Estimate == nil {
			t.Errorf("report: %s", out)
		}
		if b == testdb.SQLite {
			if _, err := os.Stat(strings.TrimPrefix(scratch, "sqlite:///")); !os.IsNotExist(err) {
				t.Errorf("the scratch file is left (%v)", err)
			}
			if !strings.HasPrefix(r.Cleanup, "removed ") {
				t.Errorf("cleanup %q", r.Cleanup)
			}
		} else {
			if !strings.HasPrefix(r.Cleanup, "emptied the database ") {
				t.Errorf("cleanup %q", r.Cleanup)
			}
			if tables := tablesOf(t, empty.SQL, b); len(tables) != 0 {
				t.Errorf("the given scratch database was left with %v", tables)
			}
		}
		if sourceSum(t, db) != before {
			t.Error("the rehearsal changed the source")
		}
		if b == testdb.SQLite {
			return
		}
		// A database that does not exist yet on the source's server:
		// created, then dropped.
		name := db.Name + "_given"
		t.Cleanup(func() { _, _ = db.SQL.Exec("DROP DATABASE IF EXISTS " + name) })
		out = mustCLI(t, db.URL, "db", "rehearse", "--scratch", strings.Replace(db.URL, "/"+db.Name, "/"+name, 1), "--format", "json")
		r = rehearsalJSON{}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Phases) != 3 || r.Cleanup != "dropped the database "+name || r.Scratch != "the database "+name+" on the same server" {
			t.Errorf("scratch %q, cleanup %q, %d phases", r.Scratch, r.Cleanup, len(r.Phases))
		}
		q := "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
		if b == testdb.PostgreSQL {
			q = "SELECT COUNT(*) FROM pg_database WHERE datname = $1"
		}
		var n int
		if err := db.SQL.QueryRow(q, name).Scan(&n); err != nil || n != 0 {
			t.Errorf("the created scratch database is left (%d, %v)", n, err)
		}
	})
}

func tablesOf(t *testing.T, db *sql.DB, b testdb.Backend) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
	switch b {
	case testdb.MySQL:
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() UNION ALL SELECT routine_name FROM information_schema.routines WHERE routine_schema = DATABASE()"
	case testdb.PostgreSQL:
		q = "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestRehearseInterrupted: SIGINT (SIGTERM on SQLite) while expand runs on the copy (the run
// paused at ocata_expand01's first statement): exit 130 (143), one line saying
// the scratch copy is gone, and it is; the source is unchanged. On every
// backend, with a real process.
func TestRehearseInterrupted(t *testing.T) {
	bin := buildTool(t)
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := seededOld(t, b, 100)
		before := sourceSum(t, db)
		sig, want := syscall.SIGINT, 130
		if b == testdb.SQLite {
			sig, want = syscall.SIGTERM, 143
		}
		r := launch(t, "db rehearse", bin, db.URL, nil, "stmt:visibility", "db", "rehearse")
		until(t, "the pause", func() bool { return r.paused(1) || r.exited() }, r)
		if left := scratchLeft(t, db); len(left) != 1 {
			t.Errorf("while the rehearsal runs, the scratch copy: %v", left)
		}
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		until(t, "the run to say it stops", func() bool { return r.said("received "+sigName(sig)+": stopping") || r.exited() }, r)
		r.resume(1)
		code := r.wait()
		lines := strings.Split(strings.TrimSpace(r.stderr()), "\n")
		last := lines[len(lines)-1]
		if code != want || !regexp.MustCompile(`^ERROR: the rehearsal was interrupted; the scratch copy is gone \((dropped the database|removed) .*\) and the source database was not changed\.$`).MatchString(last) {
			t.Errorf("exit %d (want %d), last line %q\n%s", code, want, last, r.stderr())
		}
		if left := scratchLeft(t, db); len(left) != 0 {
			t.Errorf("the interrupted rehearsal left %v", left)
		}
		if sourceSum(t, db) != before {
			t.Error("the interrupted rehearsal changed the source")
		}
	})
}

// TestRehearseLegacy: a database from before alembic (sqlalchemy-migrate
// version 44, Newton) is rehearsed from there: the copy is placed under
// control, the source is not. One at version 30 (Kilo) fails on the copy
// in expand, with upstream's reason, and the copy is dropped.
func TestRehearseLegacy(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		db := seededOld(t, b, 60)
		for _, q := range []string{
			"DROP TABLE alembic_version",
			"CREATE TABLE migrate_version (repository_id VARCHAR(250) NOT NULL PRIMARY KEY, repository_path TEXT, version INTEGER)",
			"INSERT INTO migrate_version VALUES ('Glance Migrations', '/usr/lib/python3/dist-packages/glance/db/sqlalchemy/migrate_repo', 44)",
		} {
			if _, err := db.SQL.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		before := sourceSum(t, db)
		out := mustCLI(t, db.URL, "db", "rehearse")
		for _, re := range []string{
			`(?m)^Rehearsal of the upgrade of the ` + string(b) + ` database \S+ from a legacy version \(not under alembic control\) to 2024_1_contract01$`,
			`(?m)^migrate\s+\S+\s+[1-9]\d*\s`,
			`(?m)^Scratch copy: `,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("no line matches %s\n%s", re, out)
			}
		}
		if sourceSum(t, db) != before {
			t.Error("the rehearsal changed the legacy source (placed it under control?)")
		}

		if _, err := db.SQL.Exec("UPDATE migrate_version SET version = 30"); err != nil {
			t.Fatal(err)
		}
		before = sourceSum(t, db)
		_, errs, code := runCLI(t, db.URL, "db", "rehearse")
		if code != 1 || !regexp.MustCompile(`(?m)^ERROR: the rehearsal's expand failed on the copy: glance: legacy migration version 30 is older than Liberty \(42\) \(The current database version is not supported any more\. Please upgrade to Liberty release first\.\)\. The real run would likely fail the same way; the scratch copy is gone \(.*\) and the source database was not changed\.\n$`).MatchString(errs) {
			t.Errorf("version 30: exit %d, stderr %q", code, errs)
		}
		if left := scratchLeft(t, db); len(left) != 0 {
			t.Errorf("the failed rehearsal left %v", left)
		}
		if sourceSum(t, db) != before {
			t.Error("the failed rehearsal changed the source")
		}
	})
}

// TestRehearsePasswords: the connection's password never shows, in the
// report or in a failure: on MySQL a user with a password and privileges
// on its own database only cannot create the scratch database (one line
// saying to name one with --scratch); on PostgreSQL (trust) the password
// is in the URL and the rehearsal goes through.
func TestRehearsePasswords(t *testing.T) {
	const pw = "Qx7!vB9#wZ"
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			db := seededOld(t, b, 30)
			u, err := url.Parse(db.URL)
			if err != nil {
				t.Fatal(err)
			}
			if b == testdb.MySQL {
				user := "gm_rh_" + strings.TrimPrefix(db.Name, "gmt_")
				for _, q := range []string{
					fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, pw),
					fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", db.Name, user),
				} {
					if _, err := db.SQL.Exec(q); err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() { _, _ = db.SQL.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
				u.User = url.UserPassword(user, pw)
			} else {
				u.User = url.UserPassword(u.User.Username(), pw)
			}
			before := sourceSum(t, db)
			out, errs, code := runCLI(t, u.String(), "db", "rehearse")
			if leak := testdb.Leak(out+errs, pw); leak != "" {
				t.Errorf("the password shows (%q):\n%s\n%s", leak, out, errs)
			}
			if b == testdb.MySQL {
				if code != 1 || !regexp.MustCompile("^ERROR: cannot create the scratch database "+db.Name+"_rehearse on the server \\(.*denied.*\\)\\. Create an empty database yourself and name it with --scratch URL\\.\n$").MatchString(errs) {
					t.Errorf("exit %d, stderr %q", code, errs)
				}
			} else if code != 0 || !strings.Contains(out, "Scratch copy: dropped the database") {
				t.Errorf("exit %d\n%s\n%s", code, out, errs)
			}
			if sourceSum(t, db) != before {
				t.Error("the rehearsal changed the source")
			}
			if left := scratchLeft(t, db); len(left) != 0 {
				t.Errorf("left %v", left)
			}
		})
	}
}

// openURL opens an SQLAlchemy URL of a test server with the tool's own
// URL parser and driver.
func openURL(t *testing.T, b testdb.Backend, raw string) *sql.DB {
	t.Helper()
	u, err := dburl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	db, err := dburl.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRehearseBlockedByPreflight: a blocker that preflight finds on the
// copy (here a session that has had a transaction open for longer than
// the checks allow in the given scratch database, which every schema
// change there would wait for) is reported with the rest of the report
// (the phases still run on the copy, for their figures), and the
// rehearsal ends with exit 6 and one error line saying that the real
// expand would refuse; the copy is emptied again and the source is as it
// was.
func TestRehearseBlockedByPreflight(t *testing.T) {
	db := seededOld(t, testdb.MySQL, 20)
	before := sourceSum(t, db)
	empty := testdb.New(t, testdb.MySQL)
	ctx := context.Background()
	conn, err := empty.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A consistent snapshot starts the InnoDB transaction at once.
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // ends with the test
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// Older than the checks' limit before they run (the restore of the
	// copy comes first, and takes less than this).
	waitOpen(t, empty.SQL, id, preflightAge)
	stdout, stderr, code := runCLI(t, db.URL, "db", "rehearse", "--scratch", empty.URL)
	if code != 6 {
		t.Fatalf("exit %d, want 6\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	found := false
	for _, l := range strings.Split(stdout+stderr, "\n") {
		if strings.Contains(l, "blocking_session") || strings.Contains(l, fmt.Sprintf("KILL %d", id)) {
			found = true
		}
	}
	if !found {
		t.Errorf("the blocker is not named (session %d):\nstdout:\n%s\nstderr:\n%s", id, stdout, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ERROR") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "blocker(s) on the copy") || !strings.Contains(lines[0], "`glance-manage db expand` would refuse to start") {
		t.Errorf("want one error line about the blocker on the copy:\n%s", stderr)
	}
	if tables := tablesOf(t, empty.SQL, testdb.MySQL); len(tables) != 0 {
		t.Errorf("the scratch database was left with %v", tables)
	}
	if sourceSum(t, db) != before {
		t.Error("the rehearsal changed the source")
	}
}

// preflightAge is a little more than preflight.DefaultTransactionAge.
const preflightAge = 6 * time.Second

// waitOpen waits until session id's InnoDB transaction has been open for
// age, as the server tells it.
func waitOpen(t *testing.T, db *sql.DB, id int64, age time.Duration) {
	t.Helper()
	for i := 0; ; i++ {
		var micros sql.NullInt64
		err := db.QueryRow("SELECT TIMESTAMPDIFF(MICROSECOND, trx_started, NOW(6)) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = ?", id).Scan(&micros)
		if err == nil && time.Duration(micros.Int64)*time.Microsecond >= age {
			return
		}
		if i > 1200 {
			t.Fatalf("session %d's transaction is not listed as open (%v)", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
