// Package schemadump writes a deterministic, normalized, human-readable text
// description of a database schema, for golden files and for comparing the
// schema our migrations build with the one upstream glance-manage builds.
//
// The dump is backend-specific on purpose: it compares a backend with itself
// (our tool vs the reference tool), so MySQL types stay MySQL types and
// PostgreSQL types stay PostgreSQL types. What it normalizes away is what
// legitimately varies between two runs or two spellings of the same schema:
// database names, OIDs, AUTO_INCREMENT counters, sequence positions,
// whitespace, comments, identifier quoting and keyword case in expressions,
// PostgreSQL ::type casts and SQLite's parentheses around defaults.
//
// Format (one item per line, two-space indentation, everything sorted except
// columns, which keep their physical order, and key columns, which keep
// their key order):
//
//	schemadump backend=<sqlite|mysql|postgresql>
//
//	enum <name> ('<label>', ...)                      PostgreSQL
//	sequence <name> <type> [owned by <table>.<column>] [start N] ...
//
//	table <name>
//	  options engine=InnoDB charset=utf8mb3 collate=utf8mb3_general_ci   MySQL
//	  options without rowid                                              SQLite
//	  column <name> <type> null|not null [default <expr>] [autoincrement] [collate <c>] ...
//	  primary key [<name>] (<cols>)
//	  index <name> [unique] (<cols>) [using <method>] [where <expr>]
//	  unique [<name>] (<cols>)                         a UNIQUE constraint
//	  foreign key [<name>] (<cols>) references <table> (<cols>) [on delete ...]
//	  check [<name>] (<expr>)
//
//	trigger <name> on <table> <timing> <event> for each row|statement
//	  <normalized body, one statement per line>
//
//	alembic_version
//	  row <version_num>
//
// Tables whose names start with glance_manage_ (our own bookkeeping) and
// SQLite's internal sqlite_* tables are left out, as is everything attached
// to them.
package schemadump

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// ExcludedPrefix starts the names of tables Dump leaves out.
const ExcludedPrefix = "glance_manage_"

type schema struct {
	backend   dialect.Backend
	enums     []enum
	sequences []sequence
	tables    []*table
	triggers  []trigger
	versions  []string // alembic_version rows; nil if the table is missing
}

type enum struct {
	name   string
	labels []string
}

type sequence struct {
	name string
	desc string // everything after the name
}

type table struct {
	name    string
	options string
	columns []column
	pk      *key
	indexes []index
	uniques []key
	fks     []foreignKey
	checks  []check
}

type column struct {
	name    string
	typ     string
	notNull bool
	def     string // normalized; "" if none
	autoinc string // "" or "autoincrement" (plus a qualifier)
	extra   []string
}

type key struct {
	name string
	cols []string
}

type index struct {
	name   string
	unique bool
	cols   []string
	suffix string // using/include/where clauses
}

type foreignKey struct {
	name     string
	cols     []string
	refTable string
	refCols  []string
	rules    string // "on delete ..." etc.; "" for the defaults
}

type check struct {
	name   string
	expr   string
	suffix string // e.g. " not valid"
}

type trigger struct {
	name   string
	table  string
	header string // "before insert for each row"
	body   []string
}

// inspectors read each backend's catalog into the common model.
var inspectors = map[dialect.Backend]func(context.Context, *sql.Conn) (*schema, error){
	dialect.SQLite:     inspectSQLite,
	dialect.MySQL:      inspectMySQL,
	dialect.PostgreSQL: inspectPostgres,
}

// Dump returns the normalized schema of the database db is connected to
// (for MySQL the current database, for PostgreSQL the current schema).
// backend is "sqlite", "mysql" or "postgresql".
func Dump(ctx context.Context, db *sql.DB, backend dialect.Backend) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("schemadump: %w", err)
	}
	defer conn.Close()
	inspect, ok := inspectors[backend]
	if !ok {
		return "", fmt.Errorf("schemadump: unknown backend %q (want sqlite, mysql or postgresql)", backend)
	}
	s, err := inspect(ctx, conn)
	if err != nil {
		return "", fmt.Errorf("schemadump: %s: %w", backend, err)
	}
	s.backend = backend
	if s.hasTable("alembic_version") {
		s.versions, err = alembicRows(ctx, conn)
		if err != nil {
			return "", fmt.Errorf("schemadump: %s: reading alembic_version: %w", backend, err)
		}
	}
	return s.render(), nil
}

func excluded(tableName string) bool {
	return strings.HasPrefix(strings.ToLower(tableName), ExcludedPrefix) ||
		strings.HasPrefix(strings.ToLower(tableName), "sqlite_")
}

func (s *schema) hasTable(name string) bool {
	for _, t := range s.tables {
		if t.name == name {
			return true
		}
	}
	return false
}

func alembicRows(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT version_num FROM alembic_version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	versions := []string{}
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if v.Valid {
			versions = append(versions, v.String)
		} else {
			versions = append(versions, "NULL")
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(versions)
	return versions, nil
}

func cols(c []string) string { return "(" + strings.Join(c, ", ") + ")" }

func named(kind, name string) string {
	if name == "" {
		return kind
	}
	return kind + " " + name
}

func (s *schema) sortAll() {
	sort.Slice(s.enums, func(i, j int) bool { return s.enums[i].name < s.enums[j].name })
	sort.Slice(s.sequences, func(i, j int) bool { return s.sequences[i].name < s.sequences[j].name })
	sort.Slice(s.tables, func(i, j int) bool { return s.tables[i].name < s.tables[j].name })
	sort.Slice(s.triggers, func(i, j int) bool {
		a, b := s.triggers[i], s.triggers[j]
		if a.name != b.name {
			return a.name < b.name
		}
		return a.table < b.table
	})
	for _, t := range s.tables {
		sort.Slice(t.indexes, func(i, j int) bool {
			a, b := t.indexes[i], t.indexes[j]
			if a.name != b.name {
				return a.name < b.name
			}
			return strings.Join(a.cols, ",") < strings.Join(b.cols, ",")
		})
		sort.Slice(t.uniques, func(i, j int) bool {
			a, b := t.uniques[i], t.uniques[j]
			if a.name != b.name {
				return a.name < b.name
			}
			return strings.Join(a.cols, ",") < strings.Join(b.cols, ",")
		})
		sort.Slice(t.fks, func(i, j int) bool { return t.fks[i].line() < t.fks[j].line() })
		sort.Slice(t.checks, func(i, j int) bool {
			a, b := t.checks[i], t.checks[j]
			if a.name != b.name {
				return a.name < b.name
			}
			return a.expr < b.expr
		})
	}
}

func (f foreignKey) line() string {
	s := named("foreign key", f.name) + " " + cols(f.cols) + " references " + f.refTable
	if len(f.refCols) > 0 {
		s += " " + cols(f.refCols)
	}
	if f.rules != "" {
		s += " " + f.rules
	}
	return s
}

func (c column) line() string {
	var b strings.Builder
	b.WriteString("column " + c.name + " " + c.typ)
	if c.notNull {
		b.WriteString(" not null")
	} else {
		b.WriteString(" null")
	}
	// An explicit DEFAULT NULL is the same as no default.
	if c.def != "" && c.def != "null" {
		b.WriteString(" default " + c.def)
	}
	if c.autoinc != "" {
		b.WriteString(" " + c.autoinc)
	}
	for _, e := range c.extra {
		b.WriteString(" " + e)
	}
	return b.String()
}

func (s *schema) render() string {
	s.sortAll()
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "schemadump backend=%s", s.backend)
	if len(s.enums)+len(s.sequences) > 0 {
		b.WriteByte('\n')
	}
	for _, e := range s.enums {
		q := make([]string, len(e.labels))
		for i, l := range e.labels {
			q[i] = render(token{tkString, l})
		}
		w(0, "enum %s (%s)", e.name, strings.Join(q, ", "))
	}
	for _, sq := range s.sequences {
		w(0, "sequence %s %s", sq.name, sq.desc)
	}
	for _, t := range s.tables {
		b.WriteByte('\n')
		w(0, "table %s", t.name)
		if t.options != "" {
			w(1, "options %s", t.options)
		}
		for _, c := range t.columns {
			w(1, "%s", c.line())
		}
		if t.pk != nil {
			w(1, "%s %s", named("primary key", t.pk.name), cols(t.pk.cols))
		}
		for _, ix := range t.indexes {
			u := ""
			if ix.unique {
				u = " unique"
			}
			w(1, "index %s%s %s%s", ix.name, u, cols(ix.cols), ix.suffix)
		}
		for _, u := range t.uniques {
			w(1, "%s %s", named("unique", u.name), cols(u.cols))
		}
		for _, f := range t.fks {
			w(1, "%s", f.line())
		}
		for _, c := range t.checks {
			w(1, "%s (%s)%s", named("check", c.name), c.expr, c.suffix)
		}
	}
	for _, tr := range s.triggers {
		b.WriteByte('\n')
		w(0, "trigger %s on %s %s", tr.name, tr.table, tr.header)
		for _, l := range tr.body {
			w(1, "%s", l)
		}
	}
	if s.versions != nil {
		b.WriteByte('\n')
		w(0, "alembic_version")
		for _, v := range s.versions {
			w(1, "row %s", v)
		}
	}
	return b.String()
}
