package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/backup"
	"github.com/glance-manage/glance-manage/glance"
)

const backupMethods = "SQLite: VACUUM INTO; MySQL/MariaDB: mysqldump --single-transaction; PostgreSQL: pg_dump"

func (a *app) backupCommand() (cmd, legacy *cobra.Command) {
	var to string
	c := &cobra.Command{
		Use:   "backup --to PATH",
		Short: "Write a consistent backup of the database to a new file",
		Long: "Write a consistent backup of the database, taken while services keep running, to PATH (" + backupMethods +
			"). PATH must not exist; the file is readable by its owner only. The dump tools come from the Debian packages " +
			"mariadb-client and postgresql-client. `glance-manage db restore --from PATH` puts it back.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return exit(exitUsage, "glance-manage: error: db backup needs --to PATH")
			}
			return a.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				return a.backupTo(ctx, s, to)
			})
		},
	}
	c.Flags().StringVar(&to, "to", "", "the backup file to write, `PATH` (must not exist)")
	return c, nil
}

func (a *app) restoreCommand() (cmd, legacy *cobra.Command) {
	var from string
	c := &cobra.Command{
		Use:   "restore --from PATH",
		Short: "Replace the database with a backup made by db backup",
		Long: "Replace everything in the database with the backup at PATH, made by `glance-manage db backup` from a database " +
			"of the same backend: tables, data and the alembic_version rows. Stop the Glance services and any other glance-manage run first " +
			"(restore does not take the migration lock). PostgreSQL restores in one transaction; on MySQL/MariaDB DDL commits at once, so if a restore fails run it again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return exit(exitUsage, "glance-manage: error: db restore needs --from PATH")
			}
			return a.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				if err := backup.Restore(ctx, s.mgr.DB, s.url, from, backupOptions()); err != nil {
					return a.backupFail("restore", err)
				}
				rows, err := s.mgr.Heads(ctx)
				if err != nil {
					return a.fail(err)
				}
				a.printf("Restored the %s database from %s; current revision(s): %s", s.url.Backend, from, orNone(rows, "none"))
				return nil
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "the backup file to restore, `PATH`")
	return c, nil
}

// backupOptions leaves this tool's own tables (the migration lock) out of
// backups and alone in restores.
func backupOptions() *backup.Options {
	return &backup.Options{ExcludePrefix: glance.Naming.BookkeepingPrefix()}
}

// withSession opens the database and runs fn without taking the
// migration lock: for commands that only read (history, backup), and for
// restore, which replaces everything, the lock's table included on SQLite.
func (a *app) withSession(ctx context.Context, fn func(context.Context, *session) error) error {
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(ctx, s)
}

// backupFlag adds --backup-to to sync and expand.
func backupFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "backup-to", "", "first write a consistent backup of the database to `PATH`, a new file (as db backup --to does), and stop if that fails")
}

// backupTo writes a backup and says so; sync and expand call it first when
// given --backup-to.
func (a *app) backupTo(ctx context.Context, s *session, path string) error {
	if path == "" {
		return nil
	}
	if err := backup.Backup(ctx, s.mgr.DB, s.url, path, backupOptions()); err != nil {
		return a.backupFail("back up", err)
	}
	size := ""
	if fi, err := os.Stat(path); err == nil {
		size = " (" + humanBytes(fi.Size()) + ")"
	}
	a.printf("Backed up the %s database to %s%s.", s.url.Backend, path, size)
	return nil
}

// backupFail turns a backup error into one line on stderr, exit 1.
func (a *app) backupFail(what string, err error) error {
	var te *backup.ToolError
	var ce *backup.CommandError
	switch {
	case errors.Is(err, context.Canceled):
		return exit(a.exitInterrupted(), "ERROR: interrupted; nothing was changed by the %s.", what)
	case errors.As(err, &te):
		return exit(exitError, "ERROR: cannot %s the database: %s is not installed; install the Debian package %s.", what, te.Tool, te.Package)
	case errors.Is(err, backup.ErrExists):
		return exit(exitError, "ERROR: cannot %s the database: %s. Backups never overwrite a file.", what, strings.TrimPrefix(err.Error(), "backup: "))
	case errors.As(err, &ce):
		return exit(exitError, "ERROR: cannot %s the database: %s failed (%v): %s", what, ce.Tool, ce.Err, ce.Output)
	}
	return exit(exitError, "ERROR: cannot %s the database: %s", what, strings.TrimPrefix(err.Error(), "backup: "))
}

func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	f, i := float64(n)/1024, 0
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
