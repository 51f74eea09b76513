package backup

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// sqliteBackup writes a copy of the open database to path with VACUUM
// INTO, which reads it in one transaction: a consistent snapshot, taken
// while other connections keep working. Tables starting with exclude are
// then dropped from the copy.
func sqliteBackup(ctx context.Context, db *sql.DB, path, exclude string) error {
	lit := "'" + strings.ReplaceAll(path, "'", "''") + "'"
	if _, err := db.ExecContext(ctx, "VACUUM INTO "+lit); err != nil {
		return fmt.Errorf("backup: VACUUM INTO: %w", err)
	}
	if exclude == "" {
		return nil
	}
	cp, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer cp.Close()
	rows, err := cp.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?", len(exclude), exclude)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		drop = append(drop, name)
	}
	rows.Close()
	for _, name := range drop {
		if _, err := cp.ExecContext(ctx, `DROP TABLE "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if len(drop) > 0 {
		if _, err := cp.ExecContext(ctx, "VACUUM"); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return rows.Err()
}

// restorer is what modernc.org/sqlite's connections offer for the online
// backup API in the restore direction.
type restorer interface {
	NewRestore(srcURI string) (*sqlite.Backup, error)
}

// sqliteRestore copies the backup at path over the open database with the
// online backup API, in a single step.
func sqliteRestore(ctx context.Context, db *sql.DB, path string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		// dburl wraps the driver's connections (to watch its lock
		// waits); the backup API is the driver's own.
		if w, ok := dc.(interface{ Unwrap() driver.Conn }); ok {
			dc = w.Unwrap()
		}
		r, ok := dc.(restorer)
		if !ok {
			return errors.New("backup: the SQLite driver offers no online backup API")
		}
		b, err := r.NewRestore(path)
		if err != nil {
			return fmt.Errorf("backup: open %s: %w", path, err)
		}
		_, stepErr := b.Step(-1)
		if err := errors.Join(stepErr, b.Finish()); err != nil {
			return fmt.Errorf("backup: restore from %s: %w", path, err)
		}
		return nil
	})
}

// sqliteClear drops the file's views and tables, on one connection.
func sqliteClear(ctx context.Context, db *sql.DB, exclude string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'table') AND name NOT LIKE 'sqlite_%' ORDER BY type DESC")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var stmts []string
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			rows.Close()
			return err
		}
		if exclude != "" && strings.HasPrefix(name, exclude) {
			continue
		}
		stmts = append(stmts, "DROP "+strings.ToUpper(typ)+` IF EXISTS "`+strings.ReplaceAll(name, `"`, `""`)+`"`)
	}
	rows.Close()
	for _, s := range append([]string{"PRAGMA foreign_keys = OFF"}, stmts...) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("backup: %s: %w", s, err)
		}
	}
	return nil
}
