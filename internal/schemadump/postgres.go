package schemadump

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

var nextvalRe = regexp.MustCompile(`^nextval\('([^']+)'(?:::regclass)?\)$`)

// unqualify strips quotes and a schema prefix from a PostgreSQL object name
// as it appears inside nextval('...').
func unqualify(s string) string {
	toks := tokenize(s, dPostgres)
	if len(toks) == 0 {
		return s
	}
	return toks[len(toks)-1].text
}

func inspectPostgres(ctx context.Context, conn *sql.Conn) (*schema, error) {
	s := &schema{}
	byName := map[string]*table{}

	rows, err := conn.QueryContext(ctx, `
		SELECT c.relname, c.relkind::text, c.relpersistence::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, kind, persistence string
		if err := rows.Scan(&name, &kind, &persistence); err != nil {
			rows.Close()
			return nil, err
		}
		if excluded(name) {
			continue
		}
		var o []string
		if kind == "p" {
			o = append(o, "partitioned")
		}
		if persistence == "u" {
			o = append(o, "unlogged")
		}
		t := &table{name: name, options: strings.Join(o, " ")}
		byName[name] = t
		s.tables = append(s.tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Columns, with the sequence each one owns (serial) if any.
	rows, err = conn.QueryContext(ctx, `
		SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
		       coalesce(CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END, ''),
		       coalesce((SELECT s.relname FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid
		                 WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
		                   AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND s.relkind = 'S'
		                   AND dep.deptype IN ('a', 'i')
		                 ORDER BY s.relname LIMIT 1), '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, cname, typ, def, identity, generated, coll, ownedSeq string
		var notNull bool
		if err := rows.Scan(&tname, &cname, &typ, &notNull, &def, &identity, &generated, &coll, &ownedSeq); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[tname]
		if t == nil {
			continue
		}
		c := column{name: cname, typ: typ, notNull: notNull}
		switch {
		case identity == "a":
			c.autoinc = "autoincrement (identity always)"
		case identity == "d":
			c.autoinc = "autoincrement (identity by default)"
		case generated == "s":
			c.extra = append(c.extra, "generated stored ("+normExpr(def, dPostgres)+")")
		case def != "":
			if m := nextvalRe.FindStringSubmatch(def); m != nil && ownedSeq != "" && unqualify(m[1]) == ownedSeq {
				c.autoinc = "autoincrement"
			} else {
				c.def = normExpr(def, dPostgres)
			}
		}
		if coll != "" {
			c.extra = append(c.extra, "collate "+coll)
		}
		t.columns = append(t.columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Constraints: primary keys, unique, foreign keys, checks, exclusions.
	rows, err = conn.QueryContext(ctx, `
		SELECT c.relname, con.conname, con.contype::text,
		       coalesce((SELECT json_agg(a.attname ORDER BY k.ord)
		                 FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
		                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num), '[]'::json)::text,
		       coalesce(fc.relname, ''),
		       CASE WHEN fn.nspname IS NULL OR fn.nspname = current_schema() THEN '' ELSE fn.nspname END,
		       coalesce((SELECT json_agg(a.attname ORDER BY k.ord)
		                 FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
		                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num), '[]'::json)::text,
		       con.confupdtype::text, con.confdeltype::text, con.condeferrable, con.condeferred,
		       con.convalidated, pg_get_constraintdef(con.oid, true)
		FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_class fc ON fc.oid = con.confrelid
		LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		ORDER BY c.relname, con.conname`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, cname, ctype, keyJSON, ref, refSchema, refJSON, upd, del, def string
		var deferrable, deferred, validated bool
		if err := rows.Scan(&tname, &cname, &ctype, &keyJSON, &ref, &refSchema, &refJSON, &upd, &del, &deferrable, &deferred, &validated, &def); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[tname]
		if t == nil {
			continue
		}
		var keyCols, refCols []string
		if err := json.Unmarshal([]byte(keyJSON), &keyCols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("constraint %s: %w", cname, err)
		}
		if err := json.Unmarshal([]byte(refJSON), &refCols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("constraint %s: %w", cname, err)
		}
		var flags []string
		if deferrable {
			flags = append(flags, "deferrable")
			if deferred {
				flags = append(flags, "initially deferred")
			}
		}
		if !validated {
			flags = append(flags, "not valid")
		}
		switch ctype {
		case "p":
			t.pk = &key{name: cname, cols: keyCols}
		case "u":
			t.uniques = append(t.uniques, key{name: cname, cols: keyCols})
		case "f":
			if refSchema != "" {
				ref = refSchema + "." + ref
			}
			f := foreignKey{name: cname, cols: keyCols, refTable: ref, refCols: refCols,
				rules: fkRules(pgAction(del), pgAction(upd), "NO ACTION")}
			if len(flags) > 0 {
				f.rules = strings.TrimSpace(f.rules + " " + strings.Join(flags, " "))
			}
			t.fks = append(t.fks, f)
		case "c":
			toks := tokenize(def, dPostgres)
			if len(toks) > 0 && toks[0].isWord("check") {
				toks = toks[1:]
			}
			// NOT VALID is reported separately.
			if n := len(toks); n >= 2 && toks[n-2].isWord("not") && toks[n-1].isWord("valid") {
				toks = toks[:n-2]
			}
			c := check{name: cname, expr: joinTokens(stripOuterParens(stripCasts(toks)))}
			if len(flags) > 0 {
				c.suffix = " " + strings.Join(flags, " ")
			}
			t.checks = append(t.checks, c)
		case "x":
			t.checks = append(t.checks, check{name: cname, expr: normExpr(def, dPostgres)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Indexes not backing a constraint.
	rows, err = conn.QueryContext(ctx, `
		SELECT c.relname, i.relname, x.indisunique, am.amname,
		       coalesce(pg_get_expr(x.indpred, x.indrelid, true), ''), x.indnkeyatts,
		       (SELECT json_agg(json_build_array(pg_get_indexdef(x.indexrelid, k, true), x.indoption[k - 1]) ORDER BY k)
		        FROM generate_series(1, x.indnatts) k)::text
		FROM pg_index x
		JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_am am ON am.oid = i.relam
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint con
		                  WHERE con.conrelid = x.indrelid AND con.conindid = x.indexrelid
		                    AND con.contype IN ('p', 'u', 'x'))`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, iname, method, pred, colsJSON string
		var unique bool
		var nkey int
		if err := rows.Scan(&tname, &iname, &unique, &method, &pred, &nkey, &colsJSON); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[tname]
		if t == nil {
			continue
		}
		var raw [][2]any
		if err := json.Unmarshal([]byte(colsJSON), &raw); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index %s: %w", iname, err)
		}
		ix := index{name: iname, unique: unique}
		var include []string
		for k, r := range raw {
			expr, _ := r[0].(string)
			opt, _ := r[1].(float64)
			col := normExpr(expr, dPostgres)
			if k >= nkey {
				include = append(include, col)
				continue
			}
			desc, nullsFirst := int(opt)&1 != 0, int(opt)&2 != 0
			if desc {
				col += " desc"
				if !nullsFirst {
					col += " nulls last"
				}
			} else if nullsFirst {
				col += " nulls first"
			}
			ix.cols = append(ix.cols, col)
		}
		if method != "btree" {
			ix.suffix += " using " + method
		}
		if len(include) > 0 {
			ix.suffix += " include " + cols(include)
		}
		if pred != "" {
			ix.suffix += " where " + normExpr(pred, dPostgres)
		}
		t.indexes = append(t.indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Enum types.
	rows, err = conn.QueryContext(ctx, `
		SELECT t.typname, json_agg(e.enumlabel ORDER BY e.enumsortorder)::text
		FROM pg_type t
		JOIN pg_namespace n ON n.oid = t.typnamespace
		JOIN pg_enum e ON e.enumtypid = t.oid
		WHERE n.nspname = current_schema()
		GROUP BY t.typname`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, labelsJSON string
		if err := rows.Scan(&name, &labelsJSON); err != nil {
			rows.Close()
			return nil, err
		}
		e := enum{name: name}
		if err := json.Unmarshal([]byte(labelsJSON), &e.labels); err != nil {
			rows.Close()
			return nil, fmt.Errorf("enum %s: %w", name, err)
		}
		s.enums = append(s.enums, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Sequences, without their current values.
	rows, err = conn.QueryContext(ctx, `
		SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
		       s.seqcache, s.seqcycle,
		       coalesce(o.relname, ''), coalesce(o.attname, '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_sequence s ON s.seqrelid = c.oid
		LEFT JOIN LATERAL (
		    SELECT t.relname, a.attname FROM pg_depend d
		    JOIN pg_class t ON t.oid = d.refobjid
		    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
		      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		    ORDER BY t.relname, a.attname LIMIT 1) o ON true
		WHERE n.nspname = current_schema() AND c.relkind = 'S'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, typ, ownerTable, ownerCol string
		var start, incr, minv, maxv, cache int64
		var cycle bool
		if err := rows.Scan(&name, &typ, &start, &incr, &minv, &maxv, &cache, &cycle, &ownerTable, &ownerCol); err != nil {
			rows.Close()
			return nil, err
		}
		if excluded(name) || ownerTable != "" && excluded(ownerTable) {
			continue
		}
		d := []string{typ}
		if ownerTable != "" {
			d = append(d, "owned by "+ownerTable+"."+ownerCol)
		}
		typeMax := map[string]int64{"smallint": 1<<15 - 1, "integer": 1<<31 - 1, "bigint": 1<<63 - 1}[typ]
		defMin, defMax, defStart := int64(1), typeMax, int64(1)
		if incr < 0 {
			defMin, defMax, defStart = -typeMax-1, -1, -1
		}
		if start != defStart {
			d = append(d, fmt.Sprintf("start %d", start))
		}
		if incr != 1 {
			d = append(d, fmt.Sprintf("increment %d", incr))
		}
		if minv != defMin {
			d = append(d, fmt.Sprintf("minvalue %d", minv))
		}
		if maxv != defMax {
			d = append(d, fmt.Sprintf("maxvalue %d", maxv))
		}
		if cache != 1 {
			d = append(d, fmt.Sprintf("cache %d", cache))
		}
		if cycle {
			d = append(d, "cycle")
		}
		s.sequences = append(s.sequences, sequence{name: name, desc: strings.Join(d, " ")})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Triggers.
	rows, err = conn.QueryContext(ctx, `
		SELECT t.tgname, c.relname, t.tgtype, t.tgenabled::text, pg_get_triggerdef(t.oid, true)
		FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND NOT t.tgisinternal`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, tname, enabled, def string
		var tgtype int
		if err := rows.Scan(&name, &tname, &tgtype, &enabled, &def); err != nil {
			rows.Close()
			return nil, err
		}
		if excluded(tname) {
			continue
		}
		s.triggers = append(s.triggers, pgTrigger(name, tname, tgtype, enabled, def))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func pgAction(code string) string {
	switch code {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

// pgTrigger decodes pg_trigger.tgtype and keeps the WHEN and EXECUTE parts
// of the definition.
func pgTrigger(name, tname string, tgtype int, enabled, def string) trigger {
	timing := "after"
	switch {
	case tgtype&2 != 0:
		timing = "before"
	case tgtype&64 != 0:
		timing = "instead of"
	}
	var events []string
	for _, e := range []struct {
		bit  int
		name string
	}{{4, "insert"}, {8, "delete"}, {16, "update"}, {32, "truncate"}} {
		if tgtype&e.bit != 0 {
			events = append(events, e.name)
		}
	}
	level := "statement"
	if tgtype&1 != 0 {
		level = "row"
	}
	h := timing + " " + strings.Join(events, " or ") + " for each " + level
	if enabled != "O" {
		h += " enabled=" + enabled
	}
	tr := trigger{name: name, table: tname, header: h}
	toks := tokenize(def, dPostgres)
	for i, t := range toks {
		if t.isWord("when") || t.isWord("execute") {
			tr.body = []string{joinTokens(stripCasts(toks[i:]))}
			break
		}
	}
	return tr
}
