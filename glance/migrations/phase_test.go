package migrations_test

// Phase safety from the SQL actually run: every revision is applied one
// at a time on every backend, online (rolling upgrade) and offline, and
// each statement it executes is recorded. Expand revisions may only add
// (tables, nullable or defaulted columns, indexes, triggers and their
// functions, types) or loosen (drop NOT NULL); contract revisions may
// only remove or tighten. The statements are classified by their text,
// and the schema before and after each revision is compared as well, so
// that a future migration breaking the rolling-upgrade contract fails
// here. SQLite table rebuilds (create a copy, copy the rows, drop, rename)
// are judged by that schema comparison alone.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// stmt is one executed statement.
type stmt struct {
	sql     string
	rebuild bool // part of a schema.RebuildTable
}

var (
	reCreate      = regexp.MustCompile(`(?is)^\s*CREATE\s+(OR\s+REPLACE\s+)?(UNIQUE\s+)?(TABLE|INDEX|TRIGGER|FUNCTION|TYPE)\s+(CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?([\w.]+)`)
	reDrop        = regexp.MustCompile(`(?is)^\s*DROP\s+(TABLE|INDEX|TRIGGER|FUNCTION|TYPE)\s+(CONCURRENTLY\s+)?(IF\s+EXISTS\s+)?([\w.]+)`)
	reAddColumn   = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+ADD\s+(COLUMN\s+)?\w+\s+(.*)$`)
	reDropColumn  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+DROP\s+(COLUMN\s+)?\w+`)
	reModify      = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+MODIFY\s+(COLUMN\s+)?\w+\s+(.*)$`)
	reAlterColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+ALTER\s+(COLUMN\s+)?\w+\s+(.*)$`)
	reSession     = regexp.MustCompile(`(?is)^\s*SET\s+`)
	reAddCheck    = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+ADD\s+CONSTRAINT\s+\w+\s+CHECK\b`)
	reValidate    = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\w+\s+VALIDATE\s+CONSTRAINT\s+\w+\s*$`)
	reNotNull     = regexp.MustCompile(`(?i)\bNOT\s+NULL\b`)
	reDefault     = regexp.MustCompile(`(?i)\bDEFAULT\b`)
)

// classify returns why s breaks the rules of branch (expand or
// contract), or "". following are the statements of the same revision
// after s (a DROP ... IF EXISTS of an object re-created right after is a
// replacement, not a removal).
func classify(branch migrate.Branch, s string, following []string) string {
	s = strings.TrimSpace(s)
	if reSession.MatchString(s) {
		return ""
	}
	recreated := func(name string) bool {
		for _, f := range following {
			if m := reCreate.FindStringSubmatch(f); m != nil && strings.EqualFold(m[6], name) {
				return true
			}
		}
		return false
	}
	switch branch {
	case migrate.Expand:
		switch {
		case reCreate.MatchString(s):
			return ""
		case reAddCheck.MatchString(s), reValidate.MatchString(s):
			return "adds a check constraint in an expand revision: services of the previous release may write rows it refuses"
		case reAddColumn.MatchString(s):
			def := reAddColumn.FindStringSubmatch(s)[2]
			if reNotNull.MatchString(def) && !reDefault.MatchString(def) {
				return "adds a NOT NULL column without a default: services of the previous release cannot insert rows"
			}
			return ""
		case reDrop.MatchString(s):
			m := reDrop.FindStringSubmatch(s)
			if m[3] != "" && recreated(m[4]) {
				return ""
			}
			return "drops " + strings.ToLower(m[1]) + " " + m[4] + " in an expand revision"
		case reDropColumn.MatchString(s):
			return "drops a column in an expand revision"
		case reModify.MatchString(s):
			if reNotNull.MatchString(reModify.FindStringSubmatch(s)[2]) {
				return "makes a column NOT NULL in an expand revision"
			}
			return ""
		case reAlterColumn.MatchString(s):
			rest := strings.ToUpper(reAlterColumn.FindStringSubmatch(s)[2])
			if strings.HasPrefix(rest, "DROP NOT NULL") || strings.HasPrefix(rest, "DROP DEFAULT") || strings.HasPrefix(rest, "SET DEFAULT") {
				return ""
			}
			return "alters a column other than by loosening it in an expand revision"
		}
		return "is neither an addition nor a loosening"
	case migrate.Contract:
		switch {
		case reDrop.MatchString(s), reDropColumn.MatchString(s):
			return ""
		case reAddCheck.MatchString(s), reValidate.MatchString(s):
			// A CHECK constraint (PostgreSQL's NOT VALID one, then its
			// validation, on the way to SET NOT NULL) only refuses rows.
			return ""
		case reModify.MatchString(s):
			if !reNotNull.MatchString(reModify.FindStringSubmatch(s)[2]) {
				return "makes a column nullable in a contract revision"
			}
			return ""
		case reAlterColumn.MatchString(s):
			rest := strings.ToUpper(reAlterColumn.FindStringSubmatch(s)[2])
			if strings.HasPrefix(rest, "SET NOT NULL") || strings.HasPrefix(rest, "SET DEFAULT") {
				return ""
			}
			return "alters a column other than by tightening it in a contract revision"
		case reCreate.MatchString(s), reAddColumn.MatchString(s):
			return "adds to the schema in a contract revision (additions belong to expand)"
		}
		return "is neither a removal nor a tightening"
	}
	return ""
}

// schemaItems parses a schemadump into comparable items: "table t",
// "column t.c" (with its definition), "index t.i", "trigger x", "enum e".
func schemaItems(dump string) map[string]string {
	items := map[string]string{}
	table := ""
	for _, line := range strings.Split(dump, "\n") {
		switch {
		case strings.HasPrefix(line, "table "):
			table = strings.Fields(line)[1]
			items["table "+table] = ""
		case strings.HasPrefix(line, "trigger "), strings.HasPrefix(line, "enum "):
			f := strings.Fields(line)
			items[f[0]+" "+f[1]] = line
			table = ""
		case table != "" && strings.HasPrefix(line, "  column "):
			f := strings.Fields(line)
			items["column "+table+"."+f[1]] = strings.TrimPrefix(line, "  column "+f[1]+" ")
		case table != "" && strings.HasPrefix(line, "  index "):
			f := strings.Fields(line)
			items["index "+table+"."+f[1]] = line
		case !strings.HasPrefix(line, " "):
			table = ""
		}
	}
	return items
}

// colDef splits a column definition into type, nullability and default.
func colDef(def string) (typ string, notNull, hasDefault bool) {
	i := strings.Index(def, " not null")
	j := strings.Index(def, " null")
	switch {
	case i >= 0 && (j < 0 || i <= j):
		return def[:i], true, strings.Contains(def[i:], " default ")
	case j >= 0:
		return def[:j], false, strings.Contains(def[j:], " default ")
	}
	return def, false, strings.Contains(def, " default ")
}

// schemaViolations compares the schema before and after a revision.
func schemaViolations(branch migrate.Branch, before, after string) []string {
	b, a := schemaItems(before), schemaItems(after)
	var out []string
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			if branch == migrate.Expand {
				out = append(out, "removes "+k)
			}
			continue
		}
		if !strings.HasPrefix(k, "column ") {
			continue
		}
		bt, bnn, _ := colDef(bv)
		at, ann, _ := colDef(av)
		if bt != at {
			out = append(out, fmt.Sprintf("changes the type of %s from %s to %s", k, bt, at))
		}
		if branch == migrate.Expand && !bnn && ann {
			out = append(out, "makes "+k+" NOT NULL")
		}
		if branch == migrate.Contract && bnn && !ann {
			out = append(out, "makes "+k+" nullable")
		}
	}
	for k, av := range a {
		if _, ok := b[k]; ok {
			continue
		}
		switch branch {
		case migrate.Contract:
			out = append(out, "adds "+k)
		case migrate.Expand:
			if strings.HasPrefix(k, "column ") {
				tbl := strings.SplitN(strings.TrimPrefix(k, "column "), ".", 2)[0]
				if _, existed := b["table "+tbl]; existed {
					if _, nn, def := colDef(av); nn && !def {
						out = append(out, "adds "+k+" NOT NULL without a default")
					}
				}
			}
		}
	}
	return out
}

func TestPhaseSafetyFromExecutedSQL(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		for _, online := range []bool{true, false} {
			mode := "offline"
			if online {
				mode = "online"
			}
			t.Run(mode, func(t *testing.T) {
				db := testdb.New(t, b)
				m, err := glance.New(db.SQL, string(b))
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				var got []stmt
				m.Migrator.Observe = func(e migrate.Event) error {
					if e.Kind != migrate.Statement || e.Op == nil {
						return nil // the version table's own rows
					}
					// A table rebuild (SQLite) or a shadow copy (MariaDB)
					// is judged by its effect on the schema alone.
					_, rebuild := e.Op.(schema.RebuildTable)
					got = append(got, stmt{sql: e.SQL, rebuild: rebuild || e.Shadow})
					return nil
				}
				checked := 0
				for _, id := range m.Graph().WalkOrder() {
					rev := m.Graph().Revision(id)
					before, err := schemadump.Dump(ctx, db.SQL, b)
					if err != nil {
						t.Fatal(err)
					}
					got = nil
					if _, err := m.Migrator.Upgrade(ctx, []string{id}, migrate.Options{Online: online, RunData: true}); err != nil {
						t.Fatalf("upgrade to %s: %v", id, err)
					}
					after, err := schemadump.Dump(ctx, db.SQL, b)
					if err != nil {
						t.Fatal(err)
					}
					if rev.Branch == migrate.NoBranch {
						continue
					}
					for i, s := range got {
						checked++
						if s.rebuild {
							continue
						}
						var following []string
						for _, f := range got[i+1:] {
							following = append(following, f.sql)
						}
						if why := classify(rev.Branch, s.sql, following); why != "" {
							t.Errorf("%s revision %s: %.120q %s", rev.Branch, id, s.sql, why)
						}
					}
					for _, v := range schemaViolations(rev.Branch, before, after) {
						t.Errorf("%s revision %s %s", rev.Branch, id, v)
					}
				}
				if checked == 0 {
					t.Fatal("no statement of an expand or contract revision was seen")
				}
				t.Logf("%d statements of expand and contract revisions checked", checked)
			})
		}
	})
}

// TestPhaseClassifierCatchesBreakage proves that the checks above would
// fail on migrations that break a rolling upgrade.
func TestPhaseClassifierCatchesBreakage(t *testing.T) {
	bad := []struct {
		branch migrate.Branch
		sql    string
	}{
		{migrate.Expand, "ALTER TABLE images DROP COLUMN is_public"},
		{migrate.Expand, "DROP TABLE artifacts"},
		{migrate.Expand, "DROP INDEX ix_images_deleted ON images"},
		{migrate.Expand, "DROP TRIGGER IF EXISTS insert_visibility"},
		{migrate.Expand, "ALTER TABLE tasks ADD COLUMN owner_id VARCHAR(64) NOT NULL"},
		{migrate.Expand, "ALTER TABLE images MODIFY visibility ENUM('public') NOT NULL"},
		{migrate.Expand, "ALTER TABLE images ALTER COLUMN visibility SET NOT NULL"},
		{migrate.Expand, "UPDATE images SET visibility = 'public'"},
		{migrate.Expand, "ALTER TABLE images ADD CONSTRAINT nn_visibility CHECK (visibility IS NOT NULL) NOT VALID"},
		{migrate.Expand, "ALTER TABLE images VALIDATE CONSTRAINT nn_visibility"},
		{migrate.Contract, "CREATE INDEX foo ON images (name)"},
		{migrate.Contract, "CREATE TABLE foo (id INTEGER)"},
		{migrate.Contract, "ALTER TABLE images ADD COLUMN foo INTEGER NULL"},
		{migrate.Contract, "ALTER TABLE images MODIFY visibility VARCHAR(10) NULL"},
		{migrate.Contract, "ALTER TABLE images ALTER COLUMN visibility DROP NOT NULL"},
	}
	for _, c := range bad {
		if classify(c.branch, c.sql, nil) == "" {
			t.Errorf("%s: %q was not flagged", c.branch, c.sql)
		}
	}
	good := []struct {
		branch    migrate.Branch
		sql       string
		following []string
	}{
		{migrate.Expand, "ALTER TABLE images ADD COLUMN os_hidden BOOL NOT NULL DEFAULT false, ALGORITHM=INSTANT", nil},
		{migrate.Expand, "ALTER TABLE images ADD COLUMN visibility image_visibility", nil},
		{migrate.Expand, "CREATE INDEX CONCURRENTLY os_hidden_image_idx ON images (os_hidden)", nil},
		{migrate.Expand, "DROP INDEX CONCURRENTLY IF EXISTS os_hidden_image_idx", []string{"CREATE INDEX CONCURRENTLY os_hidden_image_idx ON images (os_hidden)"}},
		{migrate.Expand, "ALTER TABLE images ALTER COLUMN is_public DROP NOT NULL", nil},
		{migrate.Contract, "ALTER TABLE images DROP COLUMN is_public", nil},
		{migrate.Contract, "ALTER TABLE images ALTER COLUMN visibility SET NOT NULL", nil},
		{migrate.Contract, "ALTER TABLE images ADD CONSTRAINT nn_visibility CHECK (visibility IS NOT NULL) NOT VALID", nil},
		{migrate.Contract, "ALTER TABLE images VALIDATE CONSTRAINT nn_visibility", nil},
		{migrate.Contract, "ALTER TABLE images DROP CONSTRAINT nn_visibility", nil},
		{migrate.Contract, "DROP FUNCTION IF EXISTS images_insert_visibility()", nil},
	}
	for _, c := range good {
		if why := classify(c.branch, c.sql, c.following); why != "" {
			t.Errorf("%s: %q flagged: %s", c.branch, c.sql, why)
		}
	}
	before := "table images\n  column is_public boolean null\n  index ix_images_is_public (is_public)\n"
	if v := schemaViolations(migrate.Expand, before, "table images\n"); len(v) != 2 {
		t.Errorf("expand dropping a column and an index: %v", v)
	}
	if v := schemaViolations(migrate.Contract, before, before+"  column x integer null\n"); len(v) != 1 {
		t.Errorf("contract adding a column: %v", v)
	}
	if v := schemaViolations(migrate.Expand, before, "table images\n  column is_public boolean not null\n  index ix_images_is_public (is_public)\n"); len(v) != 1 {
		t.Errorf("expand tightening a column: %v", v)
	}
}
