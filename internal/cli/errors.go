package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
)

// fail turns an error from the library into the one line a person reads,
// saying what is wrong and what to do next, and exit code 1.
func (a *app) fail(err error) error {
	var (
		de  *migrate.DowngradeError
		re  *migrate.RevisionError
		ve  *migrate.VersionTableError
		dp  *migrate.DataPendingError
		pe  *migrate.PreconditionError
		fe  *glance.ForeignDatabaseError
		se  *migrate.StepError
		ee  *exitErr
		rpe *migrate.ReplicaError
		ns  *migrate.NodeNotSyncedError
	)
	if e, ok := a.explainWait(err); ok {
		return e
	}
	switch {
	case errors.As(err, &ee):
		return err
	case errors.As(err, &rpe):
		return replicaError(rpe)
	case errors.Is(err, context.Canceled):
		return exit(a.exitInterrupted(), "ERROR: interrupted; the database is at a consistent revision. Run `glance-manage db version` to see where it stopped and run the same command again to finish.")
	case errors.As(err, &de):
		return exit(exitError, "ERROR: cannot move the database to %s: it is already at %s, and glance-manage does not downgrade. The way back is to restore the backup taken before the upgrade.",
			de.Target, strings.Join(de.Current, ", "))
	case errors.As(err, &re) && errors.Is(err, migrate.ErrAmbiguousRevision):
		return exit(exitError, "ERROR: revision %q is ambiguous: %s.", re.Spec, re.Detail)
	case errors.As(err, &re):
		msg := "ERROR: unknown revision " + quote(re.Spec)
		if re.Detail != "" {
			msg += ": " + re.Detail
		}
		return exit(exitError, "%s. Run `glance-manage db history` to list the revisions.", msg)
	case errors.As(err, &ve) && errors.Is(err, migrate.ErrUnknownRevision):
		return exit(exitError, "ERROR: the database is at a revision this glance-manage does not know (alembic_version: %s): it was upgraded by a newer release. Use the glance-manage of that release.",
			strings.Join(ve.Rows, ", "))
	case errors.As(err, &ve):
		return exit(exitError, "ERROR: the alembic_version table makes no sense (%s). Restore it from a backup, or set it right with `glance-manage db version_control --version <revision>`.", ve.Detail)
	case errors.As(err, &pe):
		// Rows lacking the new data appeared after the data migration
		// (services of the previous release still writing): the
		// revision stopped before dropping anything.
		return exit(exitError, "ERROR: %s refused and changed nothing: %d row(s) of %s still lack the new data (%s). Stop every service of the previous release, run `glance-manage db migrate`, then run `glance-manage db contract` again.",
			pe.Revision, pe.Rows, pe.Table, pe.Where)
	case errors.As(err, &dp):
		return exit(exitError, "ERROR: %d row(s) still need the data migration %s before %s can run. Run `glance-manage db migrate` first.", dp.Rows, dp.Migration, dp.Revision)
	case errors.As(err, &fe) && fe.Glance:
		return exit(exitError, "ERROR: the database has Glance tables but no version table. Tell glance-manage its revision with `glance-manage db version_control --version <revision>`, then run the command again.")
	case errors.As(err, &fe):
		return exit(exitError, "ERROR: the database is not empty and holds no Glance tables (%s); it seems to belong to another application. Check [database] connection.", strings.Join(first(fe.Tables, 5), ", "))
	case errors.As(err, &ns):
		return exit(exitError, "ERROR: this Galera node is %s, not Synced with its cluster (a donor of a state transfer, or a node still joining): no phase runs on it. Wait until `SHOW STATUS LIKE 'wsrep_local_state_comment'` says Synced, or point [database] connection at a Synced node (or the cluster's proxy), then run %s again.", ns.State, a.again())
	case errors.As(err, &se) && errors.Is(err, migrate.ErrShadowMismatch):
		// The copy did not match its table in one snapshot; the next run
		// discards it and copies afresh.
		return exit(exitError, "ERROR: revision %s failed to %s: %v. Nothing was swapped and services were not affected. Run the same command again to copy the table afresh, or add --in-place-rebuild to rebuild it in place instead.", se.Revision, se.Op, oneLine(se.Err))
	case errors.As(err, &se):
		return exit(exitError, "ERROR: revision %s failed to %s: %v. %s Fix the cause and run %s again.", se.Revision, se.Op, oneLine(se.Err), stateAfter(a, se), a.again())
	}
	return exit(exitError, "ERROR: %v", err)
}

func quote(s string) string { return "\"" + s + "\"" }

func first(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), "...")
	}
	return s
}
