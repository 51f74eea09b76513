package dialect

import (
	"context"
	"time"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Stmt is one step of an operation on a live, online run.
type Stmt struct {
	// Forms are alternative spellings of the same change, most online
	// first (MySQL: ALGORITHM=INSTANT, then INPLACE with LOCK=NONE, then
	// the plain statement). The engine tries them in order and moves to
	// the next only when the server refuses a form as unsupported
	// (Online.Refused); the last form is the plain statement.
	Forms []string
	// NoTx: the statement cannot run inside a transaction (PostgreSQL's
	// CREATE INDEX CONCURRENTLY). The engine commits the revision's
	// transaction before it and starts a new one after it, and resumes an
	// interrupted revision by asking Done for each operation.
	NoTx bool
}

// Plain wraps rendered statements as single-form, transactional steps.
func Plain(stmts []string) []Stmt {
	out := make([]Stmt, len(stmts))
	for i, s := range stmts {
		out[i] = Stmt{Forms: []string{s}}
	}
	return out
}

// Online is implemented by dialects that can change a schema while
// services keep writing to it. The engine uses it for online runs (db
// expand, db contract, db upgrade); offline runs and RenderSQL use Render.
//
// The contract:
//   - OnlineRender must have the same effect on the schema as Render.
//   - SessionSQL bounds how long one statement may wait for a lock before
//     it fails with an error Retryable accepts, so that a DDL statement
//     stuck behind a long transaction never keeps a queue of writers
//     waiting behind it for longer than timeout. The statements run at the
//     start of every transaction (transactional DDL) or once on the
//     connection (MySQL); ResetSQL undoes them on the connection.
//   - Retryable reports errors after which running the same work again
//     later may succeed: a lock wait that timed out, a deadlock, a busy
//     database.
//   - Refused reports that the server does not support this form of a
//     statement (try the next form).
type Online interface {
	OnlineRender(op schema.Op) ([]Stmt, error)
	SessionSQL(timeout time.Duration) []string
	ResetSQL() []string
	Retryable(err error) bool
	Refused(err error) bool
}

// Sizer is implemented by dialects whose online table rebuilds depend on
// the server keeping the table in memory. InnoDB (MySQL, MariaDB) rebuilds
// a table online while writers go on, then replays the last of their
// changes with the table latched; when the table is larger than the
// buffer pool that replay reads pages from disk, and writers wait
// seconds instead of milliseconds.
//
// TableSize returns the approximate bytes of table's data and indexes
// (the server's statistics), 0 when the table does not exist, and the
// bytes of the server's buffer cache.
type Sizer interface {
	TableSize(ctx context.Context, q Querier, table string) (size, cache int64, err error)
}

// Shadow is implemented by dialects that can change a table's columns by
// copying it into a shadow table while writers go on, instead of
// rebuilding it in place (MariaDB). The engine drives the copy; the
// dialect inspects and builds the statements:
//
//  1. ShadowCreate makes the shadow table: the table's definition with
//     the change applied (empty, so the change is instant).
//  2. ShadowTriggers make every insert, update and delete on the table
//     write the same row to the shadow, in the writer's transaction.
//  3. ShadowNext and ShadowCopy copy the rows in key ranges, each range
//     one short statement; a row the triggers wrote first is kept.
//  4. ShadowCompare reads both tables in one snapshot: their counts and
//     checksums must agree before anything changes for the service.
//  5. ShadowRepoint points each foreign key that references the table at
//     the shadow instead, under a temporary name (ShadowTempName).
//  6. ShadowSwap renames the table to the old name and the shadow to the
//     table's name in one atomic statement; the foreign keys follow the
//     shadow, the triggers go with the old table.
//  7. ShadowRepoint gives each foreign key its own name back, and
//     ShadowDropOld drops the old table with its triggers.
//
// ShadowState tells which of these steps a previous, interrupted run
// completed, so that the engine resumes: before step 5 it starts again
// from step 1 (ShadowDiscard removes what the earlier run made); from
// step 5 on it goes forward; once the old table exists, it finishes
// (step 7).
type Shadow interface {
	ShadowState(ctx context.Context, q Querier, table string) (*ShadowState, error)
	// ShadowLeft reports, in one cheap read, whether anything of a
	// shadow copy of table exists (the shadow, the old table or the
	// copy's triggers): what ShadowState would report as ShadowExists,
	// OldExists or Triggers.
	ShadowLeft(ctx context.Context, q Querier, table string) (bool, error)
	ShadowCreate(st *ShadowState, alter schema.Op) ([]string, error)
	ShadowTriggers(st *ShadowState) []string
	// ShadowDiscard drops the shadow and the copy's triggers (an
	// unfinished copy, before step 5).
	ShadowDiscard(st *ShadowState) []string
	// ShadowNext is a query taking (lower, n) (without lower when first):
	// the n-th key after lower, no row when fewer remain.
	ShadowNext(st *ShadowState, first bool) string
	// ShadowCopy copies the rows with keys in (lower, upper], taking
	// (lower, upper); without lower when first, without upper when last.
	ShadowCopy(st *ShadowState, first, last bool) string
	// ShadowCompare returns two queries, each giving (rows, checksum) of
	// the columns both tables share, for the table and for the shadow.
	ShadowCompare(st *ShadowState) [2]string
	// ShadowRepoint re-creates fk (of another table) as name, referencing
	// table to; the statements run on one connection and leave its
	// settings as they were.
	ShadowRepoint(fk ForeignKey, to, name string) []string
	// ShadowSwap renames the table and the shadow in one statement that
	// changes all or nothing; when token is not "", the statement also
	// renames that table to a temporary name and back, and so fails,
	// changing nothing, when it does not exist (see migrate.TokenFence).
	ShadowSwap(st *ShadowState, token string) []string
	ShadowDropOld(st *ShadowState) []string
}

// ShadowTempName is the name a foreign key carries while it references
// the shadow table (steps 5 to 7 of Shadow); ShadowOriginalName undoes it.
func ShadowTempName(name string) string { return "_" + name }

// ShadowOriginalName returns the name a temporary foreign key name stands
// for, and whether name is one.
func ShadowOriginalName(name string) (string, bool) {
	if len(name) > 1 && name[0] == '_' {
		return name[1:], true
	}
	return "", false
}

// ShadowState is a table's shadow copy as found in the database.
type ShadowState struct {
	Table, Shadow, Old string // the table, its shadow and its old name
	// Unsupported, when not empty, says why this table cannot be copied
	// into a shadow here (the server, no single-column primary key,
	// foreign keys of its own that the copy would not carry).
	Unsupported string
	// OwnTriggers are triggers on the table other than the copy's: the
	// swap would take them away with the old table, so a table that has
	// any is not copied either.
	OwnTriggers []string
	Key         string   // the single-column primary key
	Columns     []string // the table's columns, in order
	// ShadowExists, OldExists: the shadow or the old table exists;
	// Triggers: the copy's triggers exist (on the table or the old one).
	ShadowExists, OldExists, Triggers bool
	// Refs are the foreign keys of other tables that reference the
	// table, the shadow or the old table.
	Refs []ForeignKey
}

// ForeignKey is a foreign key of Table referencing RefTable.
type ForeignKey struct {
	Name, Table, RefTable string
	Columns, RefColumns   []string
	OnDelete, OnUpdate    string // "RESTRICT" (the default), "CASCADE", ...
}

// LockWaits is implemented by dialects that can say what an online
// statement waited for and who was in its way; the engine uses it when a
// statement that kept failing on a lock (Online.Retryable) has used up
// its retries, and reports what it returns with the error
// (migrate.LockWaitError). Neither method changes anything.
//
//   - WaitedFor names what err (a Retryable error) says the statement
//     waited for, for people: "a metadata lock" (MySQL), "a lock",
//     "a deadlock".
//   - Blockers returns the other sessions that hold a lock on table, or
//     (where the server does not say who holds which lock) that have a
//     transaction open, longest open first. q is a connection other than
//     the one that waited; the statement is no longer waiting.
type LockWaits interface {
	WaitedFor(err error) string
	Blockers(ctx context.Context, q Querier, table string) ([]Session, error)
}

// Session is another client's session on the server, as LockWaits
// reports it.
type Session struct {
	ID       int64  // MySQL: the connection id; PostgreSQL: the backend pid
	User     string // the database user
	Host     string // the client's address (host:port), "" for a local socket
	Database string
	// State is what the session is doing, in the server's words: "Sleep"
	// (MySQL, idle), "idle in transaction" (PostgreSQL), "Query", "active".
	State string
	// InTx: it has a transaction open, for TxAge (TxAge 0 when unknown).
	InTx  bool
	TxAge time.Duration
	// Query is its current or last statement, shortened; "" when unknown.
	Query string
	// Holds: the server's lock tables show it holding a lock on the
	// table. Otherwise it was only found to have a transaction open,
	// which may or may not hold the lock.
	Holds bool
	// End is the statement that ends the session ("KILL 42",
	// "SELECT pg_terminate_backend(42)").
	End string
}

// TotalOrderCluster is implemented by dialects whose server may be a node of a
// synchronous multi-primary cluster that runs schema changes in total
// order (MariaDB Galera Cluster's Total Order Isolation, TOI): a DDL
// statement is replicated before it runs and every node applies it at the
// same point of the cluster's history, holding back every other write
// (on every node) until it is done, whatever algorithm it asks for.
type TotalOrderCluster interface {
	// TotalOrder reports whether q's server is a node of such a cluster
	// and q's session replicates its DDL in total order (Galera:
	// wsrep_on is ON and wsrep_OSU_method is TOI).
	TotalOrder(ctx context.Context, q Querier) (bool, error)
	// TotalOrderStatement reports whether stmt is one of the statements
	// such a session runs in total order (DDL).
	TotalOrderStatement(stmt string) bool
	// SyncReadSQL makes the reads of a session wait, each, until the
	// node has applied every write the cluster had committed when the
	// read began (Galera: wsrep_sync_wait), so that a check never passes
	// on a node that is behind; UnsyncReadSQL restores the default.
	SyncReadSQL() []string
	UnsyncReadSQL() []string
	// NodeState returns the node's state in the cluster (Galera:
	// wsrep_local_state_comment) and whether it is synced with it, the
	// only state in which a phase may run there (a donor or a joining
	// node is behind, or about to be).
	NodeState(ctx context.Context, q Querier) (state string, synced bool, err error)
	// WriteSetRows returns how many rows of table one transaction may
	// change before the cluster refuses to replicate it (Galera:
	// wsrep_max_ws_rows, and wsrep_max_ws_size over the table's average
	// row), 0 when there is no such limit; table "" stands for a row of
	// unknown size.
	WriteSetRows(ctx context.Context, q Querier, table string) (int64, error)
}
