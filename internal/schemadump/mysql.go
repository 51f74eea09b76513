package schemadump

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// mysqlStringTypes are the data types whose literal defaults MySQL (unlike
// MariaDB) reports without quotes.
var mysqlStringTypes = map[string]bool{
	"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true,
	"longtext": true, "enum": true, "set": true, "binary": true, "varbinary": true,
	"tinyblob": true, "blob": true, "mediumblob": true, "longblob": true,
	"date": true, "datetime": true, "timestamp": true, "time": true, "year": true, "json": true,
}

func inspectMySQL(ctx context.Context, conn *sql.Conn) (*schema, error) {
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, err
	}
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	s := &schema{}
	byName := map[string]*table{}
	collation := map[string]string{}

	// Tables and their options.
	rows, err := conn.QueryContext(ctx, `
		SELECT TABLE_NAME, coalesce(ENGINE, ''), coalesce(TABLE_COLLATION, ''),
		       coalesce(CREATE_OPTIONS, ''), coalesce(TABLE_COMMENT, '')
		FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, engine, coll, opts, comment string
		if err := rows.Scan(&name, &engine, &coll, &opts, &comment); err != nil {
			rows.Close()
			return nil, err
		}
		if excluded(name) {
			continue
		}
		var o []string
		if engine != "" {
			o = append(o, "engine="+engine)
		}
		if coll != "" {
			cs, _, _ := strings.Cut(coll, "_")
			o = append(o, "charset="+cs, "collate="+coll)
		}
		if opts = strings.TrimSpace(opts); opts != "" {
			o = append(o, "create_options="+render(token{tkString, opts}))
		}
		if comment != "" {
			o = append(o, "comment="+render(token{tkString, comment}))
		}
		t := &table{name: name, options: strings.Join(o, " ")}
		byName[name] = t
		collation[name] = coll
		s.tables = append(s.tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Columns.
	rows, err = conn.QueryContext(ctx, `
		SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
		       coalesce(EXTRA, ''), COLLATION_NAME, coalesce(COLUMN_COMMENT, ''),
		       coalesce(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE()
		ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, cname, ctype, dtype, nullable, extra, comment, gen string
		var def, coll sql.NullString
		if err := rows.Scan(&tname, &cname, &ctype, &dtype, &nullable, &def, &extra, &coll, &comment, &gen); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[tname]
		if t == nil {
			continue
		}
		c := column{name: cname, typ: strings.ToLower(ctype), notNull: nullable == "NO"}
		extraL := strings.ToLower(extra)
		generated := strings.Contains(extraL, "generated") && gen != ""
		switch {
		case generated:
		case !def.Valid:
		case mariadb:
			// MariaDB reports defaults as SQL: quoted literals, NULL for
			// "no default" on nullable columns.
			if def.String != "NULL" {
				c.def = normExpr(def.String, dMySQL)
			}
		case strings.Contains(extraL, "default_generated"):
			c.def = normExpr(def.String, dMySQL)
		case mysqlStringTypes[strings.ToLower(dtype)]:
			c.def = render(token{tkString, def.String})
		default:
			c.def = normExpr(def.String, dMySQL)
		}
		if strings.Contains(extraL, "auto_increment") {
			c.autoinc = "autoincrement"
		}
		if i := strings.Index(extraL, "on update "); i >= 0 {
			c.extra = append(c.extra, "on update "+normExpr(extra[i+len("on update "):], dMySQL))
		}
		if generated {
			kind := "virtual"
			if strings.Contains(extraL, "stored") || strings.Contains(extraL, "persistent") {
				kind = "stored"
			}
			c.extra = append(c.extra, "generated "+kind+" ("+normExpr(gen, dMySQL)+")")
		}
		if coll.Valid && coll.String != collation[tname] {
			c.extra = append(c.extra, "collate "+coll.String)
		}
		if comment != "" {
			c.extra = append(c.extra, "comment "+render(token{tkString, comment}))
		}
		t.columns = append(t.columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Indexes, including the primary key.
	rows, err = conn.QueryContext(ctx, `
		SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, coalesce(COLLATION, 'A'),
		       coalesce(INDEX_TYPE, '')
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE()
		ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`)
	if err != nil {
		return nil, err
	}
	type ixKey struct{ table, name string }
	idx := map[ixKey]*index{}
	var order []ixKey
	for rows.Next() {
		var tname, iname, collation, itype string
		var nonUnique int
		var cname sql.NullString
		var sub sql.NullInt64
		if err := rows.Scan(&tname, &iname, &nonUnique, &cname, &sub, &collation, &itype); err != nil {
			rows.Close()
			return nil, err
		}
		if byName[tname] == nil {
			continue
		}
		k := ixKey{tname, iname}
		ix := idx[k]
		if ix == nil {
			ix = &index{name: iname, unique: nonUnique == 0}
			if itype != "" && !strings.EqualFold(itype, "BTREE") {
				ix.suffix = " using " + strings.ToLower(itype)
			}
			idx[k] = ix
			order = append(order, k)
		}
		col := cname.String
		if !cname.Valid {
			col = "<expression>"
		}
		if sub.Valid {
			col += fmt.Sprintf("(%d)", sub.Int64)
		}
		if collation == "D" {
			col += " desc"
		}
		ix.cols = append(ix.cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range order {
		ix := idx[k]
		t := byName[k.table]
		if k.name == "PRIMARY" {
			t.pk = &key{name: "PRIMARY", cols: ix.cols}
			continue
		}
		t.indexes = append(t.indexes, *ix)
	}

	// Foreign keys.
	rows, err = conn.QueryContext(ctx, `
		SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE,
		       k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME,
		       CASE WHEN k.REFERENCED_TABLE_SCHEMA = DATABASE() THEN '' ELSE k.REFERENCED_TABLE_SCHEMA END
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc
		JOIN information_schema.KEY_COLUMN_USAGE k
		  ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME
		 AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME
		WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	fks := map[ixKey]*foreignKey{}
	var fkOrder []ixKey
	for rows.Next() {
		var tname, cname, ref, upd, del, col, refCol, refSchema string
		if err := rows.Scan(&tname, &cname, &ref, &upd, &del, &col, &refCol, &refSchema); err != nil {
			rows.Close()
			return nil, err
		}
		if byName[tname] == nil {
			continue
		}
		k := ixKey{tname, cname}
		f := fks[k]
		if f == nil {
			if refSchema != "" {
				ref = refSchema + "." + ref
			}
			// RESTRICT and NO ACTION are the same thing in InnoDB, and
			// RESTRICT is what an unspecified action is reported as.
			f = &foreignKey{name: cname, refTable: ref, rules: fkRules(strings.ReplaceAll(del, "NO ACTION", "RESTRICT"), strings.ReplaceAll(upd, "NO ACTION", "RESTRICT"), "RESTRICT")}
			fks[k] = f
			fkOrder = append(fkOrder, k)
		}
		f.cols = append(f.cols, col)
		f.refCols = append(f.refCols, refCol)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range fkOrder {
		byName[k.table].fks = append(byName[k.table].fks, *fks[k])
	}

	// CHECK constraints. MariaDB names them per table (CONSTRAINT_1, ...)
	// and has TABLE_NAME in CHECK_CONSTRAINTS; MySQL 8 names them per
	// schema and needs TABLE_CONSTRAINTS for the table.
	q := `SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = DATABASE()`
	if !mariadb {
		q = `SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
		FROM information_schema.TABLE_CONSTRAINTS tc
		JOIN information_schema.CHECK_CONSTRAINTS cc
		  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
		WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'`
	}
	rows, err = conn.QueryContext(ctx, q)
	if err != nil {
		// MySQL before 8.0.16 has no CHECK constraints (nor this table).
		if !strings.Contains(err.Error(), "CHECK_CONSTRAINTS") {
			return nil, err
		}
	} else {
		for rows.Next() {
			var tname, cname, clause string
			if err := rows.Scan(&tname, &cname, &clause); err != nil {
				rows.Close()
				return nil, err
			}
			if t := byName[tname]; t != nil {
				t.checks = append(t.checks, check{name: cname, expr: normExpr(clause, dMySQL)})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}

	// Triggers.
	rows, err = conn.QueryContext(ctx, `
		SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION,
		       ACTION_ORIENTATION, coalesce(ACTION_ORDER, 1), ACTION_STATEMENT
		FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = DATABASE()`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, tname, timing, event, orient, body string
		var order int
		if err := rows.Scan(&name, &tname, &timing, &event, &orient, &order, &body); err != nil {
			rows.Close()
			return nil, err
		}
		if excluded(tname) {
			continue
		}
		h := strings.ToLower(timing + " " + event + " for each " + orient)
		if order != 1 {
			h += fmt.Sprintf(" order %d", order)
		}
		s.triggers = append(s.triggers, trigger{name: name, table: tname, header: h, body: formatBody(tokenize(body, dMySQL))})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(s.tables, func(i, j int) bool { return s.tables[i].name < s.tables[j].name })
	return s, nil
}
