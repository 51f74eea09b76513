package schemadump

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

func inspectSQLite(ctx context.Context, conn *sql.Conn) (*schema, error) {
	s := &schema{}
	type master struct{ typ, name, tbl, sql string }
	rows, err := conn.QueryContext(ctx, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
	if err != nil {
		return nil, err
	}
	var objs []master
	for rows.Next() {
		var m master
		if err := rows.Scan(&m.typ, &m.name, &m.tbl, &m.sql); err != nil {
			rows.Close()
			return nil, err
		}
		objs = append(objs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	indexSQL := map[string]string{}
	for _, m := range objs {
		if m.typ == "index" {
			indexSQL[m.name] = m.sql
		}
	}
	for _, m := range objs {
		switch {
		case excluded(m.tbl):
		case m.typ == "table":
			t, err := sqliteTable(ctx, conn, m.name, m.sql, indexSQL)
			if err != nil {
				return nil, fmt.Errorf("table %s: %w", m.name, err)
			}
			s.tables = append(s.tables, t)
		case m.typ == "trigger":
			s.triggers = append(s.triggers, sqliteTrigger(m.name, m.tbl, m.sql))
		}
	}
	return s, nil
}

// sqliteRowidAlias reports whether a declared type and primary key make the
// column an alias of the rowid ("INTEGER PRIMARY KEY").
func sqliteRowidAlias(declType string, pkCols int, ddl *ddlTable) bool {
	return pkCols == 1 && strings.EqualFold(strings.TrimSpace(declType), "INTEGER") && !ddl.withoutRowid && !ddl.pkDesc
}

// normSQLiteType canonicalizes a declared type: upper case, single spaces,
// no spaces inside the parentheses.
func normSQLiteType(t string) string {
	t = strings.ToUpper(strings.Join(strings.Fields(t), " "))
	for _, r := range []struct{ old, new string }{{" (", "("}, {"( ", "("}, {" )", ")"}, {" ,", ","}, {", ", ","}} {
		t = strings.ReplaceAll(t, r.old, r.new)
	}
	if t == "" {
		return `""`
	}
	return t
}

// normSQLiteDefault canonicalizes a column default as SQLite reports it:
// the text as written, e.g. "(0)", "'active'", "CURRENT_TIMESTAMP".
func normSQLiteDefault(def string) string {
	toks := stripOuterParens(tokenize(def, dSQLite))
	// A lone double-quoted word in a DEFAULT is a string literal.
	if len(toks) == 1 && toks[0].kind == tkIdent {
		toks[0].kind = tkString
	}
	return joinTokens(toks)
}

func sqliteTable(ctx context.Context, conn *sql.Conn, name, ddlText string, indexSQL map[string]string) (*table, error) {
	ddl := parseCreateTable(ddlText)
	t := &table{name: name}
	var opts []string
	if ddl.withoutRowid {
		opts = append(opts, "without rowid")
	}
	if ddl.strict {
		opts = append(opts, "strict")
	}
	t.options = strings.Join(opts, " ")

	// Columns, in physical order, including generated ones.
	rows, err := conn.QueryContext(ctx, "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid", name)
	if err != nil {
		return nil, err
	}
	type pkCol struct {
		pos  int
		name string
	}
	var pk []pkCol
	var declTypes []string
	for rows.Next() {
		var cid, notnull, pkPos, hidden int
		var cname, typ string
		var def sql.NullString
		if err := rows.Scan(&cid, &cname, &typ, &notnull, &def, &pkPos, &hidden); err != nil {
			rows.Close()
			return nil, err
		}
		c := column{name: cname, typ: normSQLiteType(typ), notNull: notnull != 0}
		if def.Valid {
			c.def = normSQLiteDefault(def.String)
		}
		if coll, ok := ddl.collations[strings.ToLower(cname)]; ok {
			c.extra = append(c.extra, "collate "+strings.ToLower(coll))
		}
		switch hidden {
		case 2:
			c.extra = append(c.extra, "generated virtual")
		case 3:
			c.extra = append(c.extra, "generated stored")
		}
		if pkPos > 0 {
			pk = append(pk, pkCol{pkPos, cname})
		}
		t.columns = append(t.columns, c)
		declTypes = append(declTypes, typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(pk) > 0 {
		sort.Slice(pk, func(i, j int) bool { return pk[i].pos < pk[j].pos })
		t.pk = &key{name: ddl.pkName}
		for _, p := range pk {
			t.pk.cols = append(t.pk.cols, p.name)
		}
		for i, c := range t.columns {
			if strings.EqualFold(c.name, pk[0].name) && sqliteRowidAlias(declTypes[i], len(pk), ddl) {
				t.columns[i].autoinc = "autoincrement"
				if ddl.autoincrement {
					t.columns[i].autoinc = "autoincrement (AUTOINCREMENT keyword)"
				}
			}
		}
	}

	// Indexes. Those SQLite made for UNIQUE constraints (origin "u") are
	// reported as constraints, named from the DDL where it names them;
	// the primary key's own index (origin "pk") is the primary key.
	type idxRow struct {
		name    string
		unique  bool
		origin  string
		partial bool
	}
	var idxs []idxRow
	rows, err = conn.QueryContext(ctx, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)", name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r idxRow
		var u, p int
		if err := rows.Scan(&r.name, &u, &r.origin, &p); err != nil {
			rows.Close()
			return nil, err
		}
		r.unique, r.partial = u != 0, p != 0
		idxs = append(idxs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	usedUnique := make([]bool, len(ddl.uniques))
	for _, r := range idxs {
		if r.origin == "pk" {
			continue
		}
		icols, plain, err := sqliteIndexCols(ctx, conn, r.name, indexSQL[r.name], ddl.collations)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", r.name, err)
		}
		if r.origin == "u" {
			k := key{cols: icols}
			for i, u := range ddl.uniques {
				if !usedUnique[i] && sameCols(u.cols, plain) {
					usedUnique[i] = true
					k.name = u.name
					break
				}
			}
			t.uniques = append(t.uniques, k)
			continue
		}
		ix := index{name: r.name, unique: r.unique, cols: icols}
		if r.partial {
			ix.suffix = " where " + trailingWhere(indexSQL[r.name])
		}
		t.indexes = append(t.indexes, ix)
	}

	// Foreign keys, grouped by id; names from the DDL.
	rows, err = conn.QueryContext(ctx, "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" FROM pragma_foreign_key_list(?) ORDER BY id, seq", name)
	if err != nil {
		return nil, err
	}
	byID := map[int]*foreignKey{}
	var ids []int
	for rows.Next() {
		var id, seq int
		var ref, from, onUpdate, onDelete, match string
		var to sql.NullString
		if err := rows.Scan(&id, &seq, &ref, &from, &to, &onUpdate, &onDelete, &match); err != nil {
			rows.Close()
			return nil, err
		}
		f := byID[id]
		if f == nil {
			f = &foreignKey{refTable: ref, rules: fkRules(onDelete, onUpdate, "NO ACTION")}
			if match != "" && !strings.EqualFold(match, "NONE") {
				f.rules = strings.TrimSpace(f.rules + " match " + strings.ToLower(match))
			}
			byID[id] = f
			ids = append(ids, id)
		}
		f.cols = append(f.cols, from)
		if to.Valid {
			f.refCols = append(f.refCols, to.String)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	usedFK := make([]bool, len(ddl.fks))
	for _, id := range ids {
		f := byID[id]
		for i, k := range ddl.fks {
			if !usedFK[i] && sameCols(k.cols, f.cols) && strings.EqualFold(ddl.fkRefs[i], f.refTable) {
				usedFK[i] = true
				f.name = k.name
				break
			}
		}
		t.fks = append(t.fks, *f)
	}
	t.checks = ddl.checks
	return t, nil
}

// sqliteIndexCols returns the key columns of an index, in order, marking
// descending order and collations other than the column's own; expressions
// come from the DDL. plain has the bare column names, for matching.
func sqliteIndexCols(ctx context.Context, conn *sql.Conn, name, ddl string, colls map[string]string) (out, plain []string, err error) {
	rows, err := conn.QueryContext(ctx, "SELECT seqno, cid, name, \"desc\", coll, \"key\" FROM pragma_index_xinfo(?) ORDER BY seqno", name)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var exprs []string
	for rows.Next() {
		var seqno, cid, desc, isKey int
		var cname, coll sql.NullString
		if err := rows.Scan(&seqno, &cid, &cname, &desc, &coll, &isKey); err != nil {
			return nil, nil, err
		}
		if isKey == 0 {
			continue
		}
		c := cname.String
		if cid == -2 { // an expression
			if exprs == nil {
				exprs = indexColumnExprs(ddl)
			}
			c = "<expression>"
			if seqno < len(exprs) {
				c = exprs[seqno]
			}
		}
		plain = append(plain, c)
		own := "BINARY"
		if cid >= 0 {
			if cc, ok := colls[strings.ToLower(c)]; ok {
				own = cc
			}
		}
		if coll.Valid && !strings.EqualFold(coll.String, own) {
			c += " collate " + strings.ToLower(coll.String)
		}
		if desc != 0 {
			c += " desc"
		}
		out = append(out, c)
	}
	return out, plain, rows.Err()
}

func sameCols(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// fkRules renders non-default referential actions.
func fkRules(onDelete, onUpdate, dflt string) string {
	var r []string
	if d := strings.ToUpper(onDelete); d != "" && d != dflt {
		r = append(r, "on delete "+strings.ToLower(d))
	}
	if u := strings.ToUpper(onUpdate); u != "" && u != dflt {
		r = append(r, "on update "+strings.ToLower(u))
	}
	return strings.Join(r, " ")
}

// sqliteTrigger describes a trigger from its CREATE TRIGGER text.
func sqliteTrigger(name, tbl, ddl string) trigger {
	toks := tokenize(ddl, dSQLite)
	tr := trigger{name: name, table: tbl}
	begin := len(toks)
	for i, t := range toks {
		if t.isWord("begin") {
			begin = i
			break
		}
	}
	// Header: everything between the trigger name and BEGIN, minus "ON <table>".
	head := toks[:begin]
	start := 0
	for i, t := range head {
		if t.isWord("trigger") {
			start = i + 1
			if start+2 < len(head) && head[start].isWord("if") && head[start+1].isWord("not") && head[start+2].isWord("exists") {
				start += 3
			}
			start++ // the name (possibly schema-qualified)
			if start+1 < len(head) && head[start].isPunct(".") {
				start += 2
			}
			break
		}
	}
	var kept, when []token
	sawTiming, sawFor := false, false
	for i := start; i < len(head); i++ {
		t := head[i]
		switch {
		case t.isWord("on") && i+1 < len(head):
			i++
			continue
		case t.isWord("when"):
			when = head[i:]
			i = len(head)
			continue
		case t.isWord("before") || t.isWord("after") || t.isWord("instead"):
			sawTiming = true
		case t.isWord("for"):
			sawFor = true
		}
		kept = append(kept, t)
	}
	if !sawTiming {
		kept = append([]token{{tkWord, "before"}}, kept...) // SQLite's default
	}
	if !sawFor {
		kept = append(kept, token{tkWord, "for"}, token{tkWord, "each"}, token{tkWord, "row"})
	}
	tr.header = joinTokens(append(kept, when...))
	tr.body = formatBody(toks[begin:])
	return tr
}
