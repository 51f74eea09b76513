package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"

	"github.com/glance-manage/glance-manage/dburl"
)

// sqliteBackup writes a copy of the open database to path with VACUUM
// INTO, which reads it in one transaction: a consistent snapshot, taken
// while other connections keep working.
func sqliteBackup(ctx context.Context, db *sql.DB, _ *dburl.URL, path string) error {
	lit := "'" + strings.ReplaceAll(path, "'", "''") + "'"
	if _, err := db.ExecContext(ctx, "VACUUM INTO "+lit); err != nil {
		return fmt.Errorf("backup: VACUUM INTO: %w", err)
	}
	return nil
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
