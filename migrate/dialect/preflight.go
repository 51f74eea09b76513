package dialect

import (
	"context"
	"time"

	"github.com/glance-manage/glance-manage/migrate/schema"
)

// Preflight facts. Before an upgrade starts, `glance-manage db preflight`
// (package glance/preflight) asks the database and its server what
// would make the phases still to run fail, or hold up the services while
// they run. The optional interfaces below read those facts; a dialect
// implements the ones that mean something on its backend, and declares
// each with a compile-time check (var _ dialect.X = Dialect{}).
//
// The common contract of every method:
//   - It only reads: it changes no schema, row or setting (not even of
//     its own session), takes no lock beyond what a catalog read takes,
//     and may run on a connection that later runs the upgrade. It reads
//     catalogs, never Glance's tables, so that a transaction holding
//     their locks does not make it wait.
//   - It returns facts, not judgements: what the server says, in plain
//     fields. Which facts block which phase is decided by the caller.
//   - A fact the server does not let this user read is reported as
//     unknown (the field that says why), not as an error; an error means
//     a query failed.

// Privilege names, as in MySQL's GRANT.
const (
	PrivCreate     = "CREATE"
	PrivAlter      = "ALTER"
	PrivIndex      = "INDEX"
	PrivDrop       = "DROP"
	PrivReferences = "REFERENCES"
	PrivTrigger    = "TRIGGER"
)

// Need is a privilege a statement of the upgrade needs on Table, or on
// the database itself when Table is "" (PrivCreate: new tables).
type Need struct {
	Privilege string `json:"privilege"`
	Table     string `json:"table,omitempty"`
}

// PrivilegeInspector is implemented by dialects whose servers check
// privileges (MySQL/MariaDB, PostgreSQL; SQLite has none, see
// FileInspector).
//
// Privileges returns the user the session is logged in as and, of needs,
// those that user lacks, as the server would judge them: a need on a
// table that does not exist yet is judged as the table's creator would
// have it (PostgreSQL: its owner; MySQL: the grants on the database and
// globally). A privilege the server does not enforce (REFERENCES on
// MariaDB) is never missing.
type PrivilegeInspector interface {
	Privileges(ctx context.Context, q Querier, needs []Need) (*Privileges, error)
}

// Privileges is what PrivilegeInspector reports.
type Privileges struct {
	User    string
	Missing []Need
	// BinlogTriggers is set where binary logging is on (MySQL/MariaDB):
	// there CREATE TRIGGER and DROP TRIGGER need, besides TRIGGER, SUPER
	// or the global log_bin_trust_function_creators, or the server
	// refuses them (error 1419). nil where that rule does not apply.
	BinlogTriggers *BinlogTriggers
}

// BinlogTriggers says whether a user may create triggers on a server
// with binary logging on.
type BinlogTriggers struct {
	TrustFunctionCreators bool // @@global.log_bin_trust_function_creators
	Super                 bool // the user has SUPER
}

// Allowed reports whether CREATE and DROP TRIGGER pass the binary-log
// rule.
func (b *BinlogTriggers) Allowed() bool { return b == nil || b.TrustFunctionCreators || b.Super }

// TableInspector is implemented by dialects whose tables have storage
// engines or character sets of their own (MySQL/MariaDB), or whose
// database has an encoding (PostgreSQL).
//
// TableFacts describes every base table of the current database, and
// what the revisions' own CREATE TABLE statements give a table
// (schema.Table.Options for MySQL) on this server.
type TableInspector interface {
	TableFacts(ctx context.Context, q Querier) (*Tables, error)
}

// Tables is what TableInspector reports.
type Tables struct {
	// Charset and Collation are what a table the revisions create gets
	// here ("" where tables have no character set of their own).
	Charset, Collation string
	// Encoding is the database's own character set where the database
	// has one that every table shares (PostgreSQL), and WantEncoding
	// the one Glance needs; both "" elsewhere.
	Encoding, WantEncoding string
	// ConvertEngine and ConvertCharset are the statements that convert
	// a table to a transactional engine (%[1]s: the table) and to a
	// character set and collation (%[1]s: the table, %[2]s the set,
	// %[3]s the collation); "" where there is no such thing.
	ConvertEngine, ConvertCharset string
	List                          []TableFact
}

// TableFact describes one table.
type TableFact struct {
	Name string
	// Engine is the storage engine ("" where the backend has one), and
	// Transactional whether it has transactions, row locks and online
	// DDL (InnoDB); a table of another engine (MyISAM) is locked whole by
	// every change of its schema.
	Engine        string
	Transactional bool
	// Charset and Collation are the table's defaults; OtherCharsets the
	// character sets of its text columns that differ from Charset.
	Charset, Collation string
	OtherCharsets      []string
	// Size is the bytes of its data and indexes (the server's estimate).
	Size int64
}

// Find returns the named table, or nil.
func (t *Tables) Find(name string) *TableFact {
	if t == nil {
		return nil
	}
	for i := range t.List {
		if t.List[i].Name == name {
			return &t.List[i]
		}
	}
	return nil
}

// SessionInspector is implemented by dialects of servers with concurrent
// sessions (MySQL/MariaDB, PostgreSQL).
//
// Sessions lists the other sessions (never the caller's own) whose
// transaction has been open for at least minAge and that are connected
// to the current database or hold locks on its tables: what an online
// DDL statement would wait behind.
type SessionInspector interface {
	Sessions(ctx context.Context, q Querier, minAge time.Duration) (*Sessions, error)
}

// Sessions is what SessionInspector reports.
type Sessions struct {
	List []OpenSession
	// Partial, when not empty, says why sessions of other users may be
	// missing from List (the privilege that would show them).
	Partial string
	// End is the statement that ends a session, %d standing for its ID.
	End string
}

// OpenSession is one server session with an open transaction (the
// preflight checks; LockWaits reports Session).
type OpenSession struct {
	ID       int64  // connection id (MySQL) or backend pid (PostgreSQL)
	User     string // "" when the server does not say
	Host     string // client address ("" for a local socket, or not shown)
	Database string
	State    string // what the server says the session does ("Sleep", "idle in transaction", ...)
	// Idle: the session is doing nothing inside its open transaction.
	Idle           bool
	TransactionAge time.Duration
	// Tables are the current database's tables it holds locks on, where
	// the server tells which; HoldsLocks is set when it holds locks in
	// the current database whether or not Tables can name them.
	Tables     []string
	HoldsLocks bool
}

// ClusterInspector is implemented by dialects whose servers may be nodes
// of a synchronous cluster (MariaDB Galera).
//
// Cluster returns the node's state, or nil when the server is not a
// cluster node. It must work on a node that refuses queries (not ready,
// not Primary): callers ask it first.
type ClusterInspector interface {
	Cluster(ctx context.Context, q Querier) (*Cluster, error)
}

// Cluster is a cluster node's state.
type Cluster struct {
	Node string // the node's name
	// Ready: the node accepts queries (wsrep_ready).
	Ready bool
	// Primary: the node belongs to the primary component (it has quorum);
	// Status is what the server calls its component (wsrep_cluster_status).
	Primary bool
	Status  string
	// Synced: the node is in step with the cluster (not a donor, not
	// joining, not desynced); State is the server's word for its state
	// (wsrep_local_state_comment).
	Synced bool
	State  string
	// Size is the number of nodes in the component; Configured the
	// number the node was configured to join (0 when unknown).
	Size, Configured int
	// DDLReplicated: schema changes made on this session are applied by
	// every node (Galera's TOI); false when they are applied to this node
	// only (RSU). Method is the setting's value (wsrep_OSU_method).
	DDLReplicated bool
	Method        string
}

// DiskInspector is implemented by dialects that can tell the free space
// where the database keeps its files.
//
// Disk returns the directory and the bytes free there, or Known false
// with Unknown saying why it cannot be read from this process (a remote
// server, a directory this user cannot see).
type DiskInspector interface {
	Disk(ctx context.Context, q Querier) (*Disk, error)
}

// Disk is the free space where the database's files are.
type Disk struct {
	Path    string
	Free    int64
	Known   bool
	Unknown string
}

// Rewriter is implemented by dialects some of whose operations write a
// whole table again (a copy, a rebuild in place), which needs about the
// table's size in free disk while it runs.
type Rewriter interface {
	Rewrites(op schema.Op) bool
}

// SlotInspector is implemented by dialects of servers that keep
// replication slots (PostgreSQL): a slot keeps the write-ahead log its
// consumer has not confirmed, so an upgrade's writes fill the disk
// behind an inactive or lagging one.
type SlotInspector interface {
	Slots(ctx context.Context, q Querier) ([]Slot, error)
}

// Slot is one replication slot.
type Slot struct {
	Name, Type string // Type: "physical" or "logical"
	Active     bool
	// Retained is the bytes of write-ahead log the slot keeps (-1 when
	// unknown); WALStatus the server's word for it ("reserved",
	// "extended", "unreserved", "lost").
	Retained  int64
	WALStatus string
}

// LockLimiter is implemented by dialects whose servers keep locks in a
// table of fixed size (PostgreSQL's max_locks_per_transaction) and whose
// revisions lock every object they touch in one transaction.
//
// LockLimits returns the server's limits; TransactionLocks estimates how
// many lock slots one transaction running ops takes.
type LockLimiter interface {
	LockLimits(ctx context.Context, q Querier) (*LockLimits, error)
	TransactionLocks(ops []schema.Op) int
}

// LockLimits are a server's lock table limits.
type LockLimits struct {
	PerTransaction int // max_locks_per_transaction
	// Capacity is the objects the server's lock table is sized for,
	// shared by every transaction: one transaction may lock more than
	// PerTransaction while the others leave room, and past Capacity
	// while spare shared memory lasts; then a lock fails ("out of shared
	// memory").
	Capacity int
	Setting  string // the setting that raises them
}

// FileInspector is implemented by dialects whose database is a file on
// this host (SQLite).
//
// Files describes the database's file and its directory (where the
// journal is created), as this process may use them.
type FileInspector interface {
	Files(ctx context.Context, q Querier) (*File, error)
}

// File is a database file as this process sees it.
type File struct {
	Path        string // "" for an in-memory database
	Size        int64
	Exists      bool
	Writable    bool // the file may be written (or, when absent, created)
	Dir         string
	DirWritable bool // files may be created in Dir (the journal)
	Journal     string
}
