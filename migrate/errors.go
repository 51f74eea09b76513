package migrate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Sentinels for control flow; match them with errors.Is.
var (
	// ErrUnknownRevision: a target or a version-table row names no revision
	// of the graph.
	ErrUnknownRevision = errors.New("migrate: unknown revision")
	// ErrAmbiguousRevision: a target matches several revisions.
	ErrAmbiguousRevision = errors.New("migrate: ambiguous revision")
	// ErrDowngrade: the target lies behind what is applied.
	ErrDowngrade = errors.New("migrate: downgrades are not supported")
	// ErrInconsistentVersion: the version table holds rows that alembic
	// would never write together.
	ErrInconsistentVersion = errors.New("migrate: inconsistent version table")
	// ErrDataMigrationPending: a contract step would drop data that the data
	// migrations have not carried over yet.
	ErrDataMigrationPending = errors.New("migrate: data migrations pending")
	// ErrLocked: another runner holds the migration lock.
	ErrLocked = errors.New("migrate: locked by another runner")
	// ErrNotUnderControl: the database has tables but no version table.
	ErrNotUnderControl = errors.New("migrate: database not under migration control")
)

// RevisionError reports a target that cannot be resolved.
type RevisionError struct {
	Spec   string
	Detail string
	Err    error
}

func (e *RevisionError) Error() string {
	msg := fmt.Sprintf("%v %q", e.Err, e.Spec)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}
func (e *RevisionError) Unwrap() error { return e.Err }

// DowngradeError reports a target that is already behind the database.
type DowngradeError struct {
	Target  string
	Current []string
}

func (e *DowngradeError) Error() string {
	return fmt.Sprintf("migrate: %q is older than the current revision(s) %s; downgrades are not supported",
		e.Target, strings.Join(e.Current, ", "))
}
func (e *DowngradeError) Unwrap() error { return ErrDowngrade }

// VersionTableError reports version-table rows that make no sense.
type VersionTableError struct {
	Rows   []string
	Detail string
	Err    error
}

func (e *VersionTableError) Error() string {
	return fmt.Sprintf("migrate: alembic_version holds [%s]: %s", strings.Join(e.Rows, ", "), e.Detail)
}
func (e *VersionTableError) Unwrap() error { return e.Err }

// StepError reports the operation that failed while applying a revision.
type StepError struct {
	Revision string
	Op       string // the operation's description
	SQL      string
	Err      error
	// Resumable: the revision ran in several transactions (MySQL, where
	// every DDL statement commits by itself, or a PostgreSQL revision
	// with a statement that cannot run in a transaction), so what it did
	// before the failure is kept, and the next run skips it (Done);
	// otherwise the revision's one transaction was rolled back.
	Resumable bool

	op schema.Op // the operation, when known
}

func (e *StepError) Error() string {
	return fmt.Sprintf("migrate: revision %s: %s: %v", e.Revision, e.Op, e.Err)
}
func (e *StepError) Unwrap() error { return e.Err }

// DataError reports a data-migration batch that failed. The batches
// before it committed and are kept (each is its own transaction); the
// failed one was rolled back, and the next run goes on from the rows
// still to migrate.
type DataError struct {
	Migration string
	Batch     int64 // the failed batch, counted from 1 in this run
	Done      int64 // rows this run migrated before it
	Err       error
}

func (e *DataError) Error() string {
	return fmt.Sprintf("migrate: data migration %s: batch %d: %v", e.Migration, e.Batch, e.Err)
}
func (e *DataError) Unwrap() error { return e.Err }
