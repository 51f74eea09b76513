package main

// The CLI transcripts in testdata/cli (txtar scripts, see
// github.com/rogpeppe/go-internal/testscript) run the real glance-manage
// main against a fresh database on every enabled backend, and, where they
// ask for it, the upstream reference tool against the same database.
//
// Each script gets:
//
//	$DB_URL                  the SQLAlchemy URL of its fresh database
//	OS_DATABASE__CONNECTION  set to $DB_URL (unset it to test config files)
//	$BACKEND                 sqlite, mysql or postgresql
//
// conditions [sqlite], [mysql], [postgresql] and [reference], and these
// commands besides testscript's own:
//
//	sql STATEMENT...      run statements on the database (stdout: the rows of a query, tab-separated)
//	dbstate FILE          write the schema, alembic_version rows and row counts to FILE
//	ref ARGS...           run the reference glance-manage with [database] connection = $DB_URL
//	ensure-empty-sqlite   fail unless ./glance.sqlite is absent

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"glance-manage": main})
}

func TestCLITranscripts(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		testdb.Require(t, b)
		ref, refErr := testdb.FindReference()
		if refErr != nil && testdb.CI() {
			t.Fatalf("CI=true needs the reference tool: %v", refErr)
		}
		testscript.Run(t, testscript.Params{
			Dir: filepath.Join("..", "..", "testdata", "cli"),
			Setup: func(e *testscript.Env) error {
				dir := filepath.Join(e.WorkDir, "db")
				if err := os.Mkdir(dir, 0o755); err != nil {
					return err
				}
				db, err := testdb.Create(context.Background(), b, dir)
				if err != nil {
					return err
				}
				e.Defer(func() { _ = db.Destroy(context.Background()) })
				e.Setenv("DB_URL", db.URL)
				e.Setenv("OS_DATABASE__CONNECTION", db.URL)
				e.Setenv("BACKEND", string(b))
				e.Setenv("REFERENCE_BIN", ref)
				return nil
			},
			Condition: func(cond string) (bool, error) {
				switch cond {
				case "sqlite", "mysql", "postgresql":
					return cond == string(b), nil
				case "reference":
					return refErr == nil, nil
				}
				return false, fmt.Errorf("unknown condition %q", cond)
			},
			Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
				"sql":     cmdSQL,
				"dbstate": cmdDBState,
				"ref":     cmdRef,
			},
			RequireExplicitExec: true,
			RequireUniqueNames:  true,
		})
	})
}

func openScriptDB(ts *testscript.TestScript) *sql.DB {
	u, err := dburl.Parse(ts.Getenv("DB_URL"))
	ts.Check(err)
	db, err := dburl.Open(context.Background(), u)
	ts.Check(err)
	return db
}

// cmdSQL runs each argument as a statement; the rows of queries go to
// stdout, one line each, columns separated by tabs, NULL as "NULL".
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: sql STATEMENT...")
	}
	db := openScriptDB(ts)
	defer db.Close()
	for _, stmt := range args {
		rows, err := db.Query(stmt)
		if err != nil {
			if neg {
				return
			}
			ts.Fatalf("sql %q: %v", stmt, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			ts.Check(rows.Scan(ptrs...))
			out := make([]string, len(cols))
			for i, v := range vals {
				out[i] = "NULL"
				if v.Valid {
					out[i] = v.String
				}
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(out, "\t"))
		}
		err = rows.Err()
		rows.Close()
		if err != nil && !neg {
			ts.Fatalf("sql %q: %v", stmt, err)
		}
	}
	if neg {
		ts.Fatalf("sql: unexpected success")
	}
}

// cmdDBState writes what "the database is unchanged" compares: the
// normalized schema (with alembic_version's rows) and every table's row
// count.
func cmdDBState(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dbstate FILE")
	}
	db := openScriptDB(ts)
	defer db.Close()
	backend := dialect.Backend(ts.Getenv("BACKEND"))
	dump, err := schemadump.Dump(context.Background(), db, backend)
	ts.Check(err)
	var b strings.Builder
	b.WriteString(dump)
	tables := tableNames(dump)
	sort.Strings(tables)
	for _, t := range tables {
		var n int64
		ts.Check(db.QueryRow("SELECT COUNT(*) FROM " + t).Scan(&n))
		fmt.Fprintf(&b, "rows %s %d\n", t, n)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644))
}

func tableNames(dump string) []string {
	var out []string
	for _, line := range strings.Split(dump, "\n") {
		if name, ok := strings.CutPrefix(line, "table "); ok {
			out = append(out, strings.Fields(name)[0])
		}
	}
	return out
}

// cmdRef runs the upstream glance-manage against the script's database.
func cmdRef(ts *testscript.TestScript, neg bool, args []string) {
	bin := ts.Getenv("REFERENCE_BIN")
	if bin == "" {
		ts.Fatalf("ref: no reference tool (guard the line with [reference])")
	}
	stdout, stderr, code, err := testdb.ExecReference(context.Background(), bin, ts.MkAbs("."), ts.Getenv("DB_URL"), args...)
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), stdout)
	fmt.Fprint(ts.Stderr(), stderr)
	if (code != 0) != neg {
		ts.Fatalf("reference glance-manage %s: exit %d", strings.Join(args, " "), code)
	}
}
