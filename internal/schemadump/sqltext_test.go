package schemadump

import (
	"strings"
	"testing"
)

func TestNormExpr(t *testing.T) {
	tests := []struct {
		d        lexer
		in, want string
	}{
		{dSQLite, "(0)", "0"},
		{dSQLite, "((0))", "0"},
		{dSQLite, "'active'", "'active'"},
		{dSQLite, "is_public IN (0, 1)", "is_public in (0, 1)"},
		{dSQLite, "\"is_public\"   in(0,1)", "is_public in (0, 1)"},
		{dSQLite, "[Weird Name] = 1", `"Weird Name" = 1`},
		{dSQLite, "CURRENT_TIMESTAMP", "current_timestamp"},
		{dSQLite, "'it''s'", "'it''s'"},
		{dSQLite, "(0) + (1)", "(0) + (1)"},
		{dSQLite, "x IN (0, -1) AND y>-2", "x in (0, -1) and y > -2"},
		{dSQLite, "a - 1", "a - 1"},
		{dSQLite, "lower( name )", "lower(name)"},
		{dSQLite, "x /* c */ = 1 -- trailing", "x = 1"},
		{dSQLite, "1.5e-3", "1.5e-3"},
		{dMySQL, "`is_public` in (0,1)", "is_public in (0, 1)"},
		{dMySQL, "(`is_public` in (0,1))", "is_public in (0, 1)"},
		{dMySQL, `"x"`, "'x'"},
		{dMySQL, `'a\'b'`, "'a''b'"},
		{dMySQL, "current_timestamp()", "current_timestamp()"},
		{dMySQL, "NEW.a <=> NULL", "new.a <=> null"},
		{dMySQL, "NOT(a)", "not (a)"},
		{dPostgres, "'shared'::image_visibility", "'shared'"},
		{dPostgres, "'active'::character varying", "'active'"},
		{dPostgres, "'2020-01-01'::timestamp without time zone", "'2020-01-01'"},
		{dPostgres, "'1'::numeric(10,2)", "'1'"},
		{dPostgres, "'x'::\"char\"", "'x'"},
		{dPostgres, "'x'::public.my_type", "'x'"},
		{dPostgres, "(status)::text = ANY ((ARRAY['new'::character varying, 'old'::character varying])::text[])", "(status) = any ((array['new', 'old']))"},
		{dPostgres, "false", "false"},
		{dPostgres, "now()", "now()"},
		{dPostgres, "E'a\\nb'", "'a\nb'"},
	}
	for _, tt := range tests {
		if got := normExpr(tt.in, tt.d); got != tt.want {
			t.Errorf("normExpr(%q, %d) = %q, want %q", tt.in, tt.d, got, tt.want)
		}
	}
}

func TestFormatBody(t *testing.T) {
	body := `BEGIN
    -- a comment
    IF NEW.x <=> NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Bad';
    ELSEIF NOT(NEW.y = 1) THEN
        SET NEW.x = CASE WHEN NEW.y THEN 1 ELSE 0 END;
    ELSE
        SET NEW.x = 0;
    END IF;
END`
	want := `begin
  if new.x <=> null then
    signal sqlstate '45000' set message_text = 'Bad';
  elseif not (new.y = 1) then
    set new.x = case when new.y then 1 else 0 end;
  else
    set new.x = 0;
  end if;
end`
	got := strings.Join(formatBody(tokenize(body, dMySQL)), "\n")
	if got != want {
		t.Errorf("formatBody:\n%s\nwant:\n%s", got, want)
	}
	// Layout does not depend on the original whitespace.
	flat := strings.Join(strings.Fields(strings.ReplaceAll(body, "-- a comment", "")), " ")
	if got2 := strings.Join(formatBody(tokenize(flat, dMySQL)), "\n"); got2 != want {
		t.Errorf("formatBody of the one-line form:\n%s", got2)
	}
}

func TestParseCreateTable(t *testing.T) {
	d := parseCreateTable(`CREATE TABLE "t" (
		id INTEGER NOT NULL CONSTRAINT pk_t PRIMARY KEY AUTOINCREMENT,
		a VARCHAR(10) DEFAULT 'check' COLLATE NOCASE CONSTRAINT ck_a CHECK (a <> 'unique') UNIQUE,
		b INT REFERENCES other (id) ON DELETE SET NULL,
		c INT DEFAULT -1 CHECK (c > 0),
		CONSTRAINT uq_ab UNIQUE (a, b DESC),
		CONSTRAINT fk_c FOREIGN KEY (c) REFERENCES "other" (id),
		CHECK (b IN (0, 1))
	) WITHOUT ROWID`)
	if d.pkName != "pk_t" || !d.autoincrement || !d.withoutRowid || d.strict {
		t.Errorf("pk %q autoincrement %v withoutRowid %v strict %v", d.pkName, d.autoincrement, d.withoutRowid, d.strict)
	}
	if got := d.collations["a"]; got != "NOCASE" {
		t.Errorf("collation of a = %q", got)
	}
	var checks []string
	for _, c := range d.checks {
		checks = append(checks, c.name+":"+c.expr)
	}
	if got, want := strings.Join(checks, "|"), "ck_a:a <> 'unique'|:c > 0|:b in (0, 1)"; got != want {
		t.Errorf("checks %q, want %q", got, want)
	}
	var uniques []string
	for _, u := range d.uniques {
		uniques = append(uniques, u.name+":"+strings.Join(u.cols, ","))
	}
	if got, want := strings.Join(uniques, "|"), ":a|uq_ab:a,b"; got != want {
		t.Errorf("uniques %q, want %q", got, want)
	}
	var fks []string
	for i, f := range d.fks {
		fks = append(fks, f.name+":"+strings.Join(f.cols, ",")+">"+d.fkRefs[i])
	}
	if got, want := strings.Join(fks, "|"), ":b>other|fk_c:c>other"; got != want {
		t.Errorf("fks %q, want %q", got, want)
	}
}
