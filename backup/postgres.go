package backup

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/glance-manage/glance-manage/dburl"
)

const postgresPackage = "postgresql-client"

// libpqEnv maps the keywords of the connection string dburl builds to the
// environment variables libpq-based tools read.
var libpqEnv = map[string]string{
	"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD", "dbname": "PGDATABASE",
	"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
	"connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME", "options": "PGOPTIONS",
	"target_session_attrs": "PGTARGETSESSIONATTRS", "client_encoding": "PGCLIENTENCODING",
}

// postgresEnv turns the URL's connection string into PG* environment
// variables, so that neither the password nor anything else goes on a
// command line.
func postgresEnv(u *dburl.URL) ([]string, error) {
	kv, err := parseConnString(u.DSN)
	if err != nil {
		return nil, fmt.Errorf("backup: cannot read the PostgreSQL connection settings of %s", u.Redacted())
	}
	var env []string
	for k, v := range kv {
		name, ok := libpqEnv[k]
		if !ok {
			return nil, fmt.Errorf("backup: connection option %q cannot be passed to the PostgreSQL tools", k)
		}
		env = append(env, name+"="+v)
	}
	return env, nil
}

// parseConnString parses libpq keyword='value' pairs (single-quoted
// values, backslash escapes), the form dburl writes.
func parseConnString(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	for {
		for i < len(s) && unicode.IsSpace(rune(s[i])) {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, fmt.Errorf("malformed connection string")
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value")
			}
		} else {
			for i < len(s) && !unicode.IsSpace(rune(s[i])) {
				val.WriteByte(s[i])
				i++
			}
		}
		out[key] = val.String()
	}
}

func postgresBackup(ctx context.Context, u *dburl.URL, out io.Writer, o *Options) error {
	tool, err := o.lookPath([]string{"pg_dump"}, postgresPackage)
	if err != nil {
		return err
	}
	env, err := postgresEnv(u)
	if err != nil {
		return err
	}
	// A plain-SQL dump from one snapshot; -w: never prompt for a password.
	args := []string{"--no-password", "--format=plain"}
	if ex := o.exclude(); ex != "" {
		args = append(args, "--exclude-table="+strings.ReplaceAll(ex, "*", "")+"*")
	}
	return run(ctx, tool, args, env, nil, out)
}

// postgresDrops lists statements dropping every object of the current
// schema a restore must replace, leaving extension members alone.
const postgresDrops = `
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname = current_schema()),
ext AS (SELECT objid, classid FROM pg_depend WHERE deptype = 'e')
SELECT stmt FROM (
  SELECT 1 AS ord, format('DROP %s IF EXISTS %I.%I CASCADE;',
         CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                        WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, ns.nspname, c.relname) AS stmt, c.relname AS name
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ($1 = '' OR left(c.relname, length($1)) <> $1)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
  UNION ALL
  SELECT 2, format('DROP %s IF EXISTS %I.%I(%s) CASCADE;',
         CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.proname
  FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
  UNION ALL
  SELECT 3, format('DROP %s IF EXISTS %I.%I CASCADE;', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, ns.nspname, t.typname), t.typname
  FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
) s
ORDER BY ord, name`

func postgresRestore(ctx context.Context, db *sql.DB, u *dburl.URL, path string, o *Options) error {
	tool, err := o.lookPath([]string{"psql"}, postgresPackage)
	if err != nil {
		return err
	}
	env, err := postgresEnv(u)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, postgresDrops, o.exclude())
	if err != nil {
		return fmt.Errorf("backup: list objects: %w", err)
	}
	var drops strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		drops.WriteString(s + "\n")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	pre, err := os.CreateTemp("", "glance-manage-restore-*.sql")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(pre.Name())
	if _, err := io.WriteString(pre, drops.String()); err != nil {
		pre.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := pre.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// One transaction for the drops and the whole dump: a failure leaves
	// the database as it was.
	args := []string{"-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", pre.Name(), "-f", path}
	return run(ctx, tool, args, env, nil, io.Discard)
}

// postgresClear drops what postgresDrops lists, in one transaction.
func postgresClear(ctx context.Context, db *sql.DB, exclude string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	rows, err := tx.QueryContext(ctx, postgresDrops, exclude)
	if err != nil {
		return fmt.Errorf("backup: list objects: %w", err)
	}
	var stmts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		stmts = append(stmts, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("backup: %s: %w", s, err)
		}
	}
	return tx.Commit()
}
