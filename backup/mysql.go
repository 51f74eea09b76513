package backup

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/dburl"
)

const mysqlPackage = "mariadb-client (or default-mysql-client)"

// mysqlOptionFile writes the connection settings, password included, to
// a temporary option file only the user can read, for the client tools'
// --defaults-extra-file. It returns the file's name and a cleanup.
func mysqlOptionFile(u *dburl.URL) (string, *mysql.Config, func(), error) {
	cfg, err := mysql.ParseDSN(u.DSN)
	if err != nil {
		// The DSN holds the password: do not wrap the parser's message.
		return "", nil, nil, fmt.Errorf("backup: cannot read the MySQL connection settings of %s", u.Redacted())
	}
	lines := []string{"[client]"}
	add := func(k, v string) error {
		if strings.ContainsAny(v, "\n\r\x00") {
			return fmt.Errorf("backup: the MySQL %s contains a line break, which option files cannot hold", k)
		}
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		lines = append(lines, k+`="`+r.Replace(v)+`"`)
		return nil
	}
	if err := add("user", cfg.User); err != nil {
		return "", nil, nil, err
	}
	if cfg.Passwd != "" {
		if err := add("password", cfg.Passwd); err != nil {
			return "", nil, nil, err
		}
	}
	switch cfg.Net {
	case "unix":
		if err := add("socket", cfg.Addr); err != nil {
			return "", nil, nil, err
		}
		lines = append(lines, "protocol=SOCKET")
	default:
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			host, port = cfg.Addr, "3306"
		}
		if err := add("host", host); err != nil {
			return "", nil, nil, err
		}
		lines = append(lines, "port="+port, "protocol=TCP")
	}
	f, err := os.CreateTemp("", "glance-manage-my-*.cnf")
	if err != nil {
		return "", nil, nil, fmt.Errorf("backup: %w", err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		cleanup()
		return "", nil, nil, fmt.Errorf("backup: %w", err)
	}
	if _, err := io.WriteString(f, strings.Join(lines, "\n")+"\n"); err != nil {
		f.Close()
		cleanup()
		return "", nil, nil, fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, nil, fmt.Errorf("backup: %w", err)
	}
	return f.Name(), cfg, cleanup, nil
}

// mysqlTables lists the database's tables (and views) that do not start
// with exclude, quoted, and whether each is a view.
func mysqlTables(ctx context.Context, db *sql.DB, exclude string) (names []string, views []bool, err error) {
	rows, err := db.QueryContext(ctx, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
	if err != nil {
		return nil, nil, fmt.Errorf("backup: list tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, nil, err
		}
		if exclude != "" && strings.HasPrefix(name, exclude) {
			continue
		}
		names = append(names, name)
		views = append(views, typ == "VIEW")
	}
	return names, views, rows.Err()
}

func quoteMySQL(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func mysqlBackup(ctx context.Context, db *sql.DB, u *dburl.URL, out io.Writer, o *Options) error {
	tool, err := o.lookPath([]string{"mysqldump", "mariadb-dump"}, mysqlPackage)
	if err != nil {
		return err
	}
	opt, cfg, cleanup, err := mysqlOptionFile(u)
	if err != nil {
		return err
	}
	defer cleanup()
	// --defaults-extra-file must come first. --single-transaction takes a
	// consistent InnoDB snapshot without locking tables; triggers and
	// routines are part of the schema.
	args := []string{"--defaults-extra-file=" + opt, "--single-transaction", "--triggers", "--routines",
		"--hex-blob", "--no-tablespaces"}
	if ex := o.exclude(); ex != "" {
		all, _, err := mysqlTables(ctx, db, "")
		if err != nil {
			return err
		}
		for _, t := range all {
			if strings.HasPrefix(t, ex) {
				args = append(args, "--ignore-table="+cfg.DBName+"."+t)
			}
		}
	}
	args = append(args, cfg.DBName)
	return run(ctx, tool, args, nil, nil, out)
}

func mysqlRestore(ctx context.Context, db *sql.DB, u *dburl.URL, path string, o *Options) error {
	tool, err := o.lookPath([]string{"mysql", "mariadb"}, mysqlPackage)
	if err != nil {
		return err
	}
	// Objects created after the backup (tables of later revisions) must
	// go too: drop everything, then load the dump.
	names, isView, err := mysqlTables(ctx, db, o.exclude())
	if err != nil {
		return err
	}
	var tables, views []string
	for i, n := range names {
		if isView[i] {
			views = append(views, quoteMySQL(n))
		} else {
			tables = append(tables, quoteMySQL(n))
		}
	}
	var pre strings.Builder
	pre.WriteString("SET FOREIGN_KEY_CHECKS=0;\n")
	if len(views) > 0 {
		pre.WriteString("DROP VIEW IF EXISTS " + strings.Join(views, ", ") + ";\n")
	}
	if len(tables) > 0 {
		pre.WriteString("DROP TABLE IF EXISTS " + strings.Join(tables, ", ") + ";\n")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	opt, cfg, cleanup, err := mysqlOptionFile(u)
	if err != nil {
		return err
	}
	defer cleanup()
	args := []string{"--defaults-extra-file=" + opt, "--batch", "--binary-mode", "--database=" + cfg.DBName}
	return run(ctx, tool, args, nil, io.MultiReader(strings.NewReader(pre.String()), f), nil)
}

// mysqlClear drops the tables and views (triggers go with their tables)
// and the routines of the database, on one connection without foreign
// key checks.
func mysqlClear(ctx context.Context, db *sql.DB, exclude string) error {
	names, isView, err := mysqlTables(ctx, db, exclude)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	stmts := []string{"SET FOREIGN_KEY_CHECKS = 0"}
	for i, n := range names {
		kind := "TABLE"
		if isView[i] {
			kind = "VIEW"
		}
		stmts = append(stmts, "DROP "+kind+" IF EXISTS "+quoteMySQL(n))
	}
	rows, err := conn.QueryContext(ctx, "SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = DATABASE()")
	if err != nil {
		return fmt.Errorf("backup: list routines: %w", err)
	}
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			rows.Close()
			return err
		}
		stmts = append(stmts, "DROP "+typ+" IF EXISTS "+quoteMySQL(name))
	}
	rows.Close()
	stmts = append(stmts, "SET FOREIGN_KEY_CHECKS = 1")
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("backup: %s: %w", s, err)
		}
	}
	return nil
}
