package schemadump

import (
	"context"
	"database/sql"
	"flag"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	glancetest.Golden(t, filepath.Join("testdata", name), "dump", got, *update)
}

// lineDiff lists the lines only in want (-) and only in got (+), in order.

func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
}

func dump(t *testing.T, d *testdb.DB) string {
	t.Helper()
	s, err := Dump(context.Background(), d.SQL, d.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDumpUnknownBackend(t *testing.T) {
	d := testdb.New(t, testdb.SQLite)
	if _, err := Dump(context.Background(), d.SQL, "oracle"); err == nil {
		t.Fatal("no error for an unknown backend")
	}
}

func TestDumpEmpty(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		d := testdb.New(t, b)
		if got, want := dump(t, d), "schemadump backend="+string(b)+"\n"; got != want {
			t.Fatalf("empty database: %q, want %q", got, want)
		}
	})
}

var sqliteSchema = []string{
	`CREATE TABLE parent (
		id INTEGER NOT NULL,
		code VARCHAR ( 10 ) NOT NULL COLLATE NOCASE,
		flag BOOLEAN DEFAULT (0) NOT NULL,
		status VARCHAR(20) DEFAULT 'new' NOT NULL,
		note TEXT DEFAULT "x",
		size BIGINT,
		PRIMARY KEY (id),
		CONSTRAINT uq_parent_code UNIQUE (code),
		UNIQUE (status, note),
		CHECK (flag IN (0, 1)),
		CONSTRAINT ck_status CHECK (status <> '')
	)`,
	`CREATE TABLE child (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
		other_id INTEGER,
		name TEXT UNIQUE,
		CONSTRAINT fk_other FOREIGN KEY (other_id) REFERENCES parent (id)
	)`,
	`CREATE TABLE kv (k TEXT, v TEXT, PRIMARY KEY (k)) WITHOUT ROWID`,
	`CREATE TABLE big (id BIGINT PRIMARY KEY, n INT)`,
	`CREATE INDEX ix_child_name ON child (name DESC)`,
	`CREATE UNIQUE INDEX ix_child_parent_other ON child (parent_id, other_id)`,
	`CREATE INDEX ix_child_partial ON child (parent_id) WHERE other_id IS NOT NULL`,
	`CREATE INDEX ix_child_expr ON child (lower(name))`,
	`CREATE INDEX ix_parent_code_binary ON parent (code COLLATE BINARY, flag)`,
	`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`,
	`INSERT INTO alembic_version VALUES ('b_rev'), ('a_rev')`,
	`CREATE TABLE glance_manage_state (x INTEGER PRIMARY KEY)`,
	`CREATE INDEX ix_glance_manage_state ON glance_manage_state (x)`,
	`CREATE TRIGGER trg_child_ins AFTER INSERT ON child FOR EACH ROW WHEN NEW.name IS NULL
	 BEGIN UPDATE child SET name = 'anon' WHERE id = NEW.id; END`,
	`CREATE TRIGGER tr_excluded AFTER INSERT ON glance_manage_state BEGIN SELECT 1; END`,
}

func TestDumpSQLite(t *testing.T) {
	d := testdb.New(t, testdb.SQLite)
	execAll(t, d.SQL, sqliteSchema...)
	got := dump(t, d)
	golden(t, "sqlite.golden", got)

	// Rows (and sqlite_sequence counters) do not show.
	execAll(t, d.SQL,
		`INSERT INTO parent (id, code) VALUES (7, 'a')`,
		`INSERT INTO child (parent_id) VALUES (7)`,
		`INSERT INTO glance_manage_state VALUES (1)`)
	if again := dump(t, d); again != got {
		t.Errorf("dump changed after inserting rows:\n%s", glancetest.LineDiff(got, again))
	}
}

// TestDumpSQLiteSpelling checks that the same schema spelled differently
// (quoting, case, spacing, parentheses around defaults, constraint order)
// dumps the same.
func TestDumpSQLiteSpelling(t *testing.T) {
	a := testdb.New(t, testdb.SQLite)
	execAll(t, a.SQL,
		`CREATE TABLE t (id INTEGER NOT NULL, f BOOLEAN DEFAULT 0 NOT NULL, s varchar(9) DEFAULT 'x', n TEXT,
		 PRIMARY KEY (id), CHECK (f IN (0, 1)), CHECK (s <> ''))`,
		`CREATE INDEX ix_t_s ON t (s)`)
	b := testdb.New(t, testdb.SQLite)
	execAll(t, b.SQL,
		"CREATE TABLE IF NOT EXISTS \"t\" (\n\t\"id\" INTEGER NOT NULL,\n\t`f` BOOLEAN DEFAULT (0) NOT NULL,\n\t[s] VARCHAR( 9 ) DEFAULT ('x'),\n\tn text DEFAULT NULL,\n\tPRIMARY KEY (\"id\"),\n\tCHECK (\"s\" <> ''),\n\tcheck(f in(0,1))\n)",
		`create index "ix_t_s" on "t" ("s")`)
	if da, db := dump(t, a), dump(t, b); da != db {
		t.Errorf("spellings dump differently:\n%s", glancetest.LineDiff(da, db))
	}
}

func mysqlFlavor(t *testing.T, db *sql.DB) string {
	var v string
	if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return "mariadb"
	}
	return "mysql"
}

var mysqlSchema = []string{
	`CREATE TABLE parent (
		id INT NOT NULL AUTO_INCREMENT,
		code VARCHAR(10) NOT NULL COLLATE utf8mb3_bin,
		flag BOOL NOT NULL DEFAULT false,
		status VARCHAR(20) NOT NULL DEFAULT 'new',
		created DATETIME NULL,
		touched TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP,
		kind ENUM('a','b') NULL,
		PRIMARY KEY (id),
		UNIQUE KEY uq_parent_code (code),
		KEY ix_parent_status (status, created),
		KEY ix_parent_prefix (status(5)),
		CHECK (flag IN (0, 1)),
		CONSTRAINT ck_status CHECK (status <> '')
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COMMENT='parents'`,
	`CREATE TABLE child (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		parent_id INT NOT NULL,
		other_id INT NULL,
		CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE,
		FOREIGN KEY (other_id) REFERENCES parent (id)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
	`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`,
	`INSERT INTO alembic_version VALUES ('b_rev'), ('a_rev')`,
	`CREATE TABLE glance_manage_state (x INT NOT NULL AUTO_INCREMENT PRIMARY KEY)`,
	`CREATE TRIGGER trg_parent BEFORE INSERT ON parent FOR EACH ROW
	BEGIN
		-- default the status
		IF NEW.status = '' THEN
			SET NEW.status = 'new';
		END IF;
	END`,
	`CREATE TRIGGER trg_excluded BEFORE INSERT ON glance_manage_state FOR EACH ROW SET NEW.x = NEW.x`,
}

func TestDumpMySQL(t *testing.T) {
	d := testdb.New(t, testdb.MySQL)
	execAll(t, d.SQL, mysqlSchema...)
	got := dump(t, d)
	flavor := mysqlFlavor(t, d.SQL)
	if flavor != "mariadb" && !*update {
		if _, err := os.Stat(filepath.Join("testdata", "mysql-"+flavor+".golden")); err != nil {
			if testdb.CI() {
				t.Fatalf("no golden for %s (this one was made on MariaDB); run go test -update to make one", flavor)
			}
			t.Skipf("no golden for %s (this one was made on MariaDB); run go test -update to make one", flavor)
		}
	}
	golden(t, "mysql-"+flavor+".golden", got)

	// AUTO_INCREMENT counters and the database name do not show.
	execAll(t, d.SQL,
		`INSERT INTO parent (code) VALUES ('a'), ('b')`,
		`INSERT INTO child (parent_id) VALUES (1)`)
	if again := dump(t, d); again != got {
		t.Errorf("dump changed after inserting rows:\n%s", glancetest.LineDiff(got, again))
	}
	other := testdb.New(t, testdb.MySQL)
	execAll(t, other.SQL, mysqlSchema...)
	if o := dump(t, other); o != got {
		t.Errorf("the same schema in another database dumps differently:\n%s", glancetest.LineDiff(got, o))
	}
}

var postgresSchema = []string{
	`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
	`ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'`,
	`CREATE TABLE parent (
		id SERIAL PRIMARY KEY,
		code VARCHAR(10) NOT NULL COLLATE "C",
		flag BOOLEAN NOT NULL DEFAULT false,
		status VARCHAR(20) NOT NULL DEFAULT 'new',
		m mood DEFAULT 'ok',
		created TIMESTAMP WITHOUT TIME ZONE DEFAULT now(),
		CONSTRAINT uq_parent_code UNIQUE (code),
		CHECK (status IN ('new', 'old'))
	)`,
	`ALTER TABLE parent ADD CONSTRAINT ck_flag CHECK (flag OR status = 'new') NOT VALID`,
	`CREATE TABLE child (
		id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
		parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
		big_id BIGSERIAL,
		name TEXT
	)`,
	`CREATE UNIQUE INDEX ix_child_name ON child (lower(name)) WHERE name IS NOT NULL`,
	`CREATE INDEX ix_child_desc ON child (parent_id DESC, name)`,
	`CREATE INDEX ix_child_hash ON child USING hash (name)`,
	`CREATE SEQUENCE free_seq START 5 INCREMENT 2`,
	`CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
	`CREATE TRIGGER trg_child BEFORE INSERT OR UPDATE ON child FOR EACH ROW WHEN (NEW.name IS NOT NULL) EXECUTE FUNCTION trg_fn()`,
	`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`,
	`INSERT INTO alembic_version VALUES ('b_rev'), ('a_rev')`,
	`CREATE TABLE glance_manage_state (x SERIAL PRIMARY KEY)`,
	`CREATE TRIGGER trg_excluded BEFORE INSERT ON glance_manage_state FOR EACH ROW EXECUTE FUNCTION trg_fn()`,
}

func TestDumpPostgres(t *testing.T) {
	d := testdb.New(t, testdb.PostgreSQL)
	execAll(t, d.SQL, postgresSchema...)
	got := dump(t, d)
	golden(t, "postgresql.golden", got)

	// Sequence positions and the database name do not show.
	execAll(t, d.SQL,
		`INSERT INTO parent (code) VALUES ('a'), ('b')`,
		`INSERT INTO child (parent_id) VALUES (1)`,
		`SELECT nextval('free_seq')`)
	if again := dump(t, d); again != got {
		t.Errorf("dump changed after inserting rows:\n%s", glancetest.LineDiff(got, again))
	}
	other := testdb.New(t, testdb.PostgreSQL)
	execAll(t, other.SQL, postgresSchema...)
	if o := dump(t, other); o != got {
		t.Errorf("the same schema in another database dumps differently:\n%s", glancetest.LineDiff(got, o))
	}
}
