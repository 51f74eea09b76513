// Package migrate is a schema-migration engine with alembic's semantics
// and rolling (expand / migrate / contract) upgrades, on SQLite,
// MySQL/MariaDB and PostgreSQL. glance-manage is built on it, and any Go
// service can use it for its own database: declare revisions and data
// migrations, and get planning, online and offline upgrades, offline SQL,
// status and a migration lock.
//
// # Revisions and the graph
//
// A Revision is one node of the history, as in alembic: an ID, a Down
// revision ("" for a base), DependsOn (extra parents) and Labels (branch
// labels, which propagate to the descendants along Down). Ops returns the
// schema operations (package schema: CreateTable, AddColumn, RebuildTable,
// CreateTrigger, Exec, ...) for an Env: the dialect, whether the run is
// online, and what is applied by then. Ops must be deterministic; the
// engine calls it to plan, to render SQL and to run. There are no
// downgrades: the way back is a restore (package backup).
//
// NewGraph validates a set of revisions (unknown parents, cycles, labels
// declared twice) into a Graph. Graph.Resolve turns what operators write
// into revision ids: "heads", "head", "<label>@head", a label, an id or a
// unique prefix of one, "base". Graph.Plan lists the revisions that bring a
// database whose version table holds some rows to some targets, in
// alembic's walk order, and refuses downgrades (DowngradeError).
//
// # Rolling upgrades
//
// A rolling schema change is split in two branches. Expand revisions
// (Branch Expand, the first one declaring the label "expand") only add:
// columns, tables, triggers that keep old and new columns in step. Old and
// new services both work after them. Contract revisions (Branch Contract)
// remove what only old services used; each one DependsOn the expand
// revision of its release, so it can only run after it. Between the two, a
// DataMigration carries the data over (see below). The example of this
// package declares such a pair.
//
// # Running
//
// A Migrator binds a Graph and its data migrations to a database (a
// *sql.DB and a dialect.Dialect: dialect/sqlite, dialect/mysql,
// dialect/postgres). Migrator.Upgrade applies what Plan returns, each
// revision in its own transaction where DDL is transactional (SQLite,
// PostgreSQL); on MySQL each operation checks the live schema first, so a
// run interrupted part-way resumes where it stopped. Options.Online marks
// a rolling upgrade (revisions may then install triggers, and statements
// ask for non-blocking algorithms); Options.RunData lets an upgrade run
// the data migrations a contract revision needs, as an offline sync does,
// instead of refusing with a DataPendingError.
//
// Migrator.Heads reads the version table, Migrator.Stamp sets it without
// running anything, and Migrator.RenderSQL returns the statements an
// upgrade from given rows would run, without a database: alembic's
// offline mode.
//
// # The version table
//
// The applied revisions are recorded in alembic's table, alembic_version
// (VersionTable), with alembic's rules: the rows are the minimal applied
// revisions, none an ancestor of another, changed by the same UPDATE,
// INSERT and DELETE statements alembic emits. A database upgraded by
// alembic can therefore continue with this engine, and the other way
// round.
//
// # Data migrations
//
// A DataMigration runs after its After revision and must be complete before
// its Before revision. Pending counts the rows it still has to change;
// Batch changes at most limit rows whose key sorts after a cursor, inside
// the transaction it is given, and returns the last key. Batches must be
// idempotent, so an interrupted migration simply starts again, and short,
// so writers never wait long for a row: Migrator.RunData runs them one
// transaction at a time, adapting the batch size, and reports progress
// through Options.DataProgress. Migrator.PendingData says what remains.
// A data migration works on the rows present when it runs, in batches; one
// that can also be written as plain statements over every row at once
// (DataMigration.SQL) gives offline scripts that form, so that a script
// from a database holding rows carries them over; the others cannot be
// written ahead of time, and a script says where to run them instead.
//
// # Concurrency and errors
//
// A Migrator is not safe for concurrent use; a Locker serializes runs
// across processes and hosts with a lease row in the database. The lease
// is a fencing token (Fence): with Migrator.Fence set, every step that
// changes the database confirms it in the database first, inside the
// step's transaction where it has one, and a run that lost its lock
// stops with ErrLockLost. Breaking a live lease (Locker.Break) leaves a
// tombstone that makes the next holder wait for the broken run to stop
// (or for one lease). Errors
// wrap a few sentinels for control flow (ErrUnknownRevision, ErrDowngrade,
// ErrDataMigrationPending, ErrLocked, ...), matched with errors.Is, and
// carry context in typed errors (RevisionError, DowngradeError,
// VersionTableError, DataPendingError, StepError, LockWaitError,
// DataError) matched with errors.As. A StepError says whether the failed
// revision was rolled back (one transaction) or kept what it committed
// for the next run to skip (Resumable); a LockWaitError, that an online
// statement gave up waiting for its lock after Options.LockWait, and who
// was in its way (dialect.LockWaits).
package migrate
