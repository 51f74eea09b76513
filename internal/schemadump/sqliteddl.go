package schemadump

import "strings"

// ddlTable is what the PRAGMAs do not tell about a SQLite table and has to be
// read from its CREATE TABLE text: constraint names, CHECK constraints,
// AUTOINCREMENT, and table options.
type ddlTable struct {
	pkName        string
	autoincrement bool // AUTOINCREMENT keyword on the primary key
	pkDesc        bool // column-level PRIMARY KEY DESC (not a rowid alias)
	uniques       []key
	fks           []key // cols; name; the referenced table goes in refs
	fkRefs        []string
	checks        []check
	collations    map[string]string // lower-case column name -> collation
	withoutRowid  bool
	strict        bool
}

var columnConstraintWords = map[string]bool{
	"constraint": true, "primary": true, "not": true, "null": true, "unique": true,
	"check": true, "default": true, "collate": true, "references": true,
	"generated": true, "as": true,
}

// parseCreateTable extracts constraint information from a CREATE TABLE
// statement. Unknown syntax is skipped rather than reported: the PRAGMAs stay
// the source of truth for columns, keys and indexes.
func parseCreateTable(sqlText string) *ddlTable {
	d := &ddlTable{collations: map[string]string{}}
	toks := tokenize(sqlText, dSQLite)
	open := -1
	for i, t := range toks {
		if t.isPunct("(") {
			open = i
			break
		}
		if t.isWord("as") { // CREATE TABLE ... AS SELECT
			return d
		}
	}
	if open < 0 {
		return d
	}
	end := matching(toks, open)
	if end < 0 {
		return d
	}
	for _, t := range toks[end+1:] {
		switch {
		case t.isWord("rowid"):
			d.withoutRowid = true
		case t.isWord("strict"):
			d.strict = true
		}
	}
	for _, item := range splitTopLevel(toks[open+1 : end]) {
		if len(item) == 0 {
			continue
		}
		if item[0].kind == tkWord {
			switch strings.ToLower(item[0].text) {
			case "constraint", "primary", "unique", "check", "foreign":
				d.tableConstraint(item)
				continue
			}
		}
		d.columnDef(item)
	}
	return d
}

// splitTopLevel splits toks at commas outside brackets.
func splitTopLevel(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.isPunct("(") || t.isPunct("["):
			depth++
		case t.isPunct(")") || t.isPunct("]"):
			depth--
		case t.isPunct(",") && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// parenCols reads "( col [COLLATE x] [ASC|DESC], ... )" at toks[i] and
// returns the column names (for expressions, their normalized text) and the
// index after the closing parenthesis.
func parenCols(toks []token, i int) ([]string, int) {
	if i >= len(toks) || !toks[i].isPunct("(") {
		return nil, i
	}
	end := matching(toks, i)
	if end < 0 {
		return nil, len(toks)
	}
	var names []string
	for _, part := range splitTopLevel(toks[i+1 : end]) {
		if len(part) == 1 && (part[0].kind == tkWord || part[0].kind == tkIdent || part[0].kind == tkString) {
			names = append(names, part[0].text)
			continue
		}
		// Drop a trailing ASC/DESC and COLLATE clause.
		for len(part) > 1 && (part[len(part)-1].isWord("asc") || part[len(part)-1].isWord("desc")) {
			part = part[:len(part)-1]
		}
		if len(part) > 2 && part[len(part)-2].isWord("collate") {
			part = part[:len(part)-2]
		}
		if len(part) == 1 {
			names = append(names, part[0].text)
		} else {
			names = append(names, joinTokens(part))
		}
	}
	return names, end + 1
}

func name(t token) string {
	if t.kind == tkWord || t.kind == tkIdent || t.kind == tkString {
		return t.text
	}
	return ""
}

func (d *ddlTable) tableConstraint(item []token) {
	i := 0
	cname := ""
	if item[0].isWord("constraint") && len(item) > 1 {
		cname = name(item[1])
		i = 2
	}
	if i >= len(item) {
		return
	}
	switch {
	case item[i].isWord("primary"):
		d.pkName = cname
		for _, t := range item[i:] {
			if t.isWord("autoincrement") {
				d.autoincrement = true
			}
		}
	case item[i].isWord("unique"):
		c, _ := parenCols(item, i+1)
		d.uniques = append(d.uniques, key{name: cname, cols: c})
	case item[i].isWord("check"):
		if i+1 < len(item) && item[i+1].isPunct("(") {
			if e := matching(item, i+1); e > 0 {
				d.checks = append(d.checks, check{name: cname, expr: joinTokens(stripOuterParens(item[i+1 : e+1]))})
			}
		}
	case item[i].isWord("foreign"):
		k := i + 1
		if k < len(item) && item[k].isWord("key") {
			k++
		}
		c, k := parenCols(item, k)
		ref := ""
		if k+1 < len(item) && item[k].isWord("references") {
			ref = name(item[k+1])
		}
		d.fks = append(d.fks, key{name: cname, cols: c})
		d.fkRefs = append(d.fkRefs, ref)
	}
}

func (d *ddlTable) columnDef(item []token) {
	col := name(item[0])
	i := 1
	// Skip the type name up to the first constraint keyword.
	for i < len(item) {
		if item[i].kind == tkWord && columnConstraintWords[strings.ToLower(item[i].text)] {
			break
		}
		if item[i].isPunct("(") {
			if e := matching(item, i); e > 0 {
				i = e + 1
				continue
			}
		}
		i++
	}
	cname := ""
	for i < len(item) {
		t := item[i]
		switch {
		case t.isWord("constraint") && i+1 < len(item):
			cname = name(item[i+1])
			i += 2
			continue
		case t.isWord("primary"):
			d.pkName = cname
			for k := i + 1; k < len(item) && !(item[k].kind == tkWord && columnConstraintWords[strings.ToLower(item[k].text)]); k++ {
				if item[k].isWord("autoincrement") {
					d.autoincrement = true
				}
				if item[k].isWord("desc") {
					d.pkDesc = true
				}
			}
		case t.isWord("unique"):
			d.uniques = append(d.uniques, key{name: cname, cols: []string{col}})
		case t.isWord("check") && i+1 < len(item) && item[i+1].isPunct("("):
			if e := matching(item, i+1); e > 0 {
				d.checks = append(d.checks, check{name: cname, expr: joinTokens(stripOuterParens(item[i+1 : e+1]))})
				i = e + 1
				cname = ""
				continue
			}
		case t.isWord("references") && i+1 < len(item):
			d.fks = append(d.fks, key{name: cname, cols: []string{col}})
			d.fkRefs = append(d.fkRefs, name(item[i+1]))
		case t.isWord("collate") && i+1 < len(item):
			d.collations[strings.ToLower(col)] = name(item[i+1])
			i += 2
			cname = ""
			continue
		case t.isWord("default") && i+1 < len(item):
			// Skip the value so that nothing in it is read as a keyword.
			i++
			if item[i].isPunct("(") {
				if e := matching(item, i); e > 0 {
					i = e
				}
			} else if item[i].kind == tkOp && i+1 < len(item) {
				i++
			}
			i++
			cname = ""
			continue
		case t.isPunct("("):
			// GENERATED ALWAYS AS (...) and the like.
			if e := matching(item, i); e > 0 {
				i = e + 1
				continue
			}
		}
		if t.kind == tkWord && columnConstraintWords[strings.ToLower(t.text)] && !t.isWord("constraint") {
			cname = ""
		}
		i++
	}
}

// trailingWhere returns the normalized expression after the top-level WHERE
// of a CREATE INDEX statement, or "".
func trailingWhere(sqlText string) string {
	toks := tokenize(sqlText, dSQLite)
	depth := 0
	for i, t := range toks {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && t.isWord("where"):
			return joinTokens(stripOuterParens(toks[i+1:]))
		}
	}
	return ""
}

// indexColumnExprs returns the normalized key expressions of a CREATE INDEX
// statement, in order.
func indexColumnExprs(sqlText string) []string {
	toks := tokenize(sqlText, dSQLite)
	for i, t := range toks {
		if t.isPunct("(") {
			c, _ := parenCols(toks, i)
			return c
		}
	}
	return nil
}
