package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// The preflight facts of SQLite (see dialect's preflight.go): the
// database is a file of this host, written by this process.

var (
	_ dialect.FileInspector = Dialect{}
	_ dialect.DiskInspector = Dialect{}
	_ dialect.Rewriter      = Dialect{}
)

// mainFile returns the path of the main database's file ("" in memory).
func mainFile(ctx context.Context, q dialect.Querier) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, file FROM pragma_database_list")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name, file string
		if err := rows.Scan(&name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, nil
		}
	}
	return "", rows.Err()
}

// Files implements dialect.FileInspector: the main database's file,
// whether this process may write it, and its directory, where SQLite
// creates the journal (or the WAL and shared-memory files) of every
// write transaction.
func (Dialect) Files(ctx context.Context, q dialect.Querier) (*dialect.File, error) {
	path, err := mainFile(ctx, q)
	if err != nil || path == "" {
		return &dialect.File{}, err
	}
	f := &dialect.File{Path: path, Dir: filepath.Dir(path)}
	if err := q.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&f.Journal); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		f.Exists, f.Size = true, fi.Size()
		f.Writable = dialect.CanWrite(path, false)
	case errors.Is(err, fs.ErrNotExist):
		f.Writable = dialect.CanWrite(f.Dir, true)
	default:
		return nil, err
	}
	f.DirWritable = dialect.CanWrite(f.Dir, true)
	return f, nil
}

// Disk implements dialect.DiskInspector: the free space of the
// database file's directory.
func (Dialect) Disk(ctx context.Context, q dialect.Querier) (*dialect.Disk, error) {
	path, err := mainFile(ctx, q)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return &dialect.Disk{Unknown: "the database is in memory"}, nil
	}
	d := &dialect.Disk{Path: filepath.Dir(path)}
	free, err := dialect.FreeSpace(d.Path)
	if err != nil {
		d.Unknown = fmt.Sprintf("the free space of %s cannot be read: %v", d.Path, err)
		return d, nil
	}
	d.Free, d.Known = free, true
	return d, nil
}

// Rewrites implements dialect.Rewriter: a table is rebuilt (created
// anew, its rows copied, the old one dropped) to change its columns.
func (Dialect) Rewrites(op schema.Op) bool {
	_, ok := op.(schema.RebuildTable)
	return ok
}
