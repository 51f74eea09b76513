// Package backup makes and restores consistent backups of a database named
// by an SQLAlchemy URL (package dburl), on SQLite, MySQL/MariaDB and
// PostgreSQL. A restore is the only way back from an upgrade: revisions
// define no downgrades.
//
// Each backend uses its own consistent, online method:
//
//   - SQLite: VACUUM INTO writes a compact copy of the database from one
//     read transaction; Restore copies the backup back page by page with
//     SQLite's online backup API, in one step, so readers see either the
//     old or the restored database.
//   - MySQL/MariaDB: mysqldump --single-transaction (or mariadb-dump), a
//     snapshot of the InnoDB tables without locking them; Restore drops
//     every table and view of the database and loads the dump with the
//     mysql client. DDL commits at once on MySQL, so a failed restore can
//     leave the database part-way: run it again.
//   - PostgreSQL: pg_dump (plain SQL, one snapshot); Restore drops the
//     tables, views, sequences, types and functions of the current schema
//     and loads the dump with psql, all in a single transaction.
//
// The external tools are looked up in PATH; when one is missing the error
// is a *ToolError naming it and the Debian package that provides it.
// Passwords reach them through the environment (PGPASSWORD) or a
// temporary option file readable only by the user (MySQL), never on a
// command line, and no error contains them.
//
// Backups are written to a temporary file next to the destination and
// renamed into place when complete, so a failed backup never leaves a
// truncated file under the requested name; an existing file is never
// overwritten (ErrExists).
package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/glance-manage/glance-manage/dburl"
)

// Sentinels; match them with errors.Is.
var (
	// ErrExists: the backup destination already exists.
	ErrExists = errors.New("backup: destination exists")
	// ErrToolMissing: an external dump or load tool is not installed.
	ErrToolMissing = errors.New("backup: tool not found")
	// ErrFormat: the file given to Restore is not a backup of this
	// backend.
	ErrFormat = errors.New("backup: not a backup of this backend")
)

// ToolError reports a missing external tool.
type ToolError struct {
	Tool    string // e.g. "pg_dump"
	Package string // the Debian package that provides it
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("backup: %s is not installed (not found in PATH); install the Debian package %s", e.Tool, e.Package)
}
func (e *ToolError) Unwrap() error { return ErrToolMissing }

// CommandError reports an external tool that failed. Output is the end of
// what it wrote to stderr.
type CommandError struct {
	Tool   string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("backup: %s failed: %v", e.Tool, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}
func (e *CommandError) Unwrap() error { return e.Err }

// Options tune Backup and Restore. The zero value is ready to use.
type Options struct {
	// LookPath finds external tools (default exec.LookPath); tests use it
	// to simulate a missing tool.
	LookPath func(file string) (string, error)
	// ExcludePrefix, when set, leaves the tables whose names start with
	// it out of backups, and restores leave them alone (MySQL,
	// PostgreSQL; an SQLite restore replaces the whole file): the tool's
	// own bookkeeping, such as its migration lock.
	ExcludePrefix string
}

func (o *Options) exclude() string {
	if o == nil {
		return ""
	}
	return o.ExcludePrefix
}

func (o *Options) lookPath(candidates []string, pkg string) (string, error) {
	look := exec.LookPath
	if o != nil && o.LookPath != nil {
		look = o.LookPath
	}
	for _, c := range candidates {
		if p, err := look(c); err == nil {
			return p, nil
		}
	}
	return "", &ToolError{Tool: candidates[0], Package: pkg}
}

// Backup writes a consistent backup of the database u names (db is an
// open pool on it) to path, which must not exist.
func Backup(ctx context.Context, db *sql.DB, u *dburl.URL, path string, o *Options) error {
	if path == "" {
		return errors.New("backup: no destination file given")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s (choose another file, or remove it first)", ErrExists, path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
		}
	}()
	if e, ok := engines[u.Backend]; ok {
		err = e.dump(ctx, db, u, tmp, o)
	} else {
		tmp.Close()
		err = fmt.Errorf("backup: unsupported backend %q", u.Backend)
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(tmpName, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Link rather than rename: it fails instead of replacing a file that
	// appeared meanwhile.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	done = true
	os.Remove(tmpName)
	return nil
}

// Restore replaces the contents of the database u names with the backup
// at path, made by Backup from a database of the same backend.
func Restore(ctx context.Context, db *sql.DB, u *dburl.URL, path string, o *Options) error {
	if err := checkFormat(u.Backend, path); err != nil {
		return err
	}
	if e, ok := engines[u.Backend]; ok {
		return e.restore(ctx, db, u, path, o)
	}
	return fmt.Errorf("backup: unsupported backend %q", u.Backend)
}

// checkFormat refuses a file that is not a backup of backend b: the
// first bytes of each format are known.
func checkFormat(b dburl.Backend, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	e, known := engines[b]
	if !known {
		return fmt.Errorf("backup: unsupported backend %q", b)
	}
	ok, want := e.magic(head), e.format
	if !ok {
		return fmt.Errorf("%w: %s is not %s", ErrFormat, path, want)
	}
	return nil
}

// engine is how one backend's databases are backed up, restored and
// cleared, and how its backups are recognised.
type engine struct {
	// dump writes the backup into tmp (created, empty, in the backup's
	// directory) and closes it.
	dump    func(ctx context.Context, db *sql.DB, u *dburl.URL, tmp *os.File, o *Options) error
	restore func(ctx context.Context, db *sql.DB, u *dburl.URL, path string, o *Options) error
	clear   func(ctx context.Context, db *sql.DB, exclude string) error
	// magic tells a backup of this backend by its first bytes; format
	// names what such a file is, for the refusal of another.
	magic  func(head []byte) bool
	format string
}

// engines are the backends Backup, Restore and Clear know.
var engines = map[dburl.Backend]engine{
	dburl.SQLite: {
		dump: func(ctx context.Context, db *sql.DB, _ *dburl.URL, tmp *os.File, o *Options) error {
			tmp.Close()
			// VACUUM INTO wants a file that does not exist or is empty.
			if err := os.Remove(tmp.Name()); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			return sqliteBackup(ctx, db, tmp.Name(), o.exclude())
		},
		restore: func(ctx context.Context, db *sql.DB, _ *dburl.URL, path string, _ *Options) error {
			return sqliteRestore(ctx, db, path)
		},
		clear:  sqliteClear,
		magic:  func(head []byte) bool { return bytes.HasPrefix(head, []byte("SQLite format 3\x00")) },
		format: "an SQLite database file",
	},
	dburl.MySQL: {
		dump: func(ctx context.Context, db *sql.DB, u *dburl.URL, tmp *os.File, o *Options) error {
			return closing(tmp, mysqlBackup(ctx, db, u, tmp, o))
		},
		restore: mysqlRestore,
		clear:   mysqlClear,
		magic: func(head []byte) bool {
			return bytes.Contains(head, []byte("-- MySQL dump")) || bytes.Contains(head, []byte("-- MariaDB dump"))
		},
		format: "a mysqldump file",
	},
	dburl.Postgres: {
		dump: func(ctx context.Context, _ *sql.DB, u *dburl.URL, tmp *os.File, o *Options) error {
			return closing(tmp, postgresBackup(ctx, u, tmp, o))
		},
		restore: postgresRestore,
		clear:   postgresClear,
		magic:   func(head []byte) bool { return bytes.Contains(head, []byte("-- PostgreSQL database dump")) },
		format:  "a pg_dump plain-SQL file",
	},
}

// closing closes f and returns err, or the error of the close.
func closing(f *os.File, err error) error {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// run executes a tool with extra environment variables, stdin and stdout,
// and turns a failure into a *CommandError carrying the tail of stderr.
func run(ctx context.Context, tool string, args, env []string, stdin io.Reader, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if stdout == nil {
		cmd.Stdout = &stderr
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &CommandError{Tool: filepath.Base(tool), Output: stderr.String(), Err: err}
	}
	return nil
}

// tailBuffer keeps the last few KiB written to it.
type tailBuffer struct{ b []byte }

const tailMax = 4096

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append([]byte(nil), t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.b))
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

// Clear drops every table, view, sequence, type and function of the
// database u names (db is an open pool on it), but those whose names
// start with Options.ExcludePrefix: what a restore drops before it loads
// a backup. On SQLite it drops the tables and views of the file.
func Clear(ctx context.Context, db *sql.DB, u *dburl.URL, o *Options) error {
	if e, ok := engines[u.Backend]; ok {
		return e.clear(ctx, db, o.exclude())
	}
	return fmt.Errorf("backup: unsupported backend %q", u.Backend)
}
