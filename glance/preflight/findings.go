package preflight

import (
	"slices"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Severity says what a finding means for the run.
type Severity string

// Severities.
const (
	// Blocker: a phase would fail, or hold up the services' writers,
	// if it ran now. Commands that change the schema refuse to start.
	Blocker Severity = "blocker"
	// Warning: the run would go through, with a risk or a cost the
	// operator should know of first.
	Warning Severity = "warning"
	// Note: something could not be checked.
	Note Severity = "note"
)

// The checks' ids: stable, for programs (the README lists them).
const (
	CheckUnknownRevision   = "unknown_revision"
	CheckPrivileges        = "missing_privileges"
	CheckBinlogTriggers    = "binlog_trigger_privilege"
	CheckEngine            = "non_transactional_table"
	CheckCharset           = "charset_mismatch"
	CheckEncoding          = "database_encoding"
	CheckBufferPool        = "rebuild_exceeds_buffer_pool"
	CheckDisk              = "disk_space"
	CheckDiskUnknown       = "disk_space_unknown"
	CheckBlockingSession   = "blocking_session"
	CheckLongTransaction   = "long_transaction"
	CheckIdleInTransaction = "idle_in_transaction"
	CheckSessionsHidden    = "sessions_not_visible"
	CheckMigrationLock     = "migration_lock_held"
	CheckGaleraNotReady    = "galera_not_ready"
	CheckGaleraNotPrimary  = "galera_not_primary"
	CheckGaleraNotSynced   = "galera_not_synced"
	CheckGaleraSize        = "galera_cluster_size"
	CheckGaleraOSU         = "galera_osu_method"
	CheckFileReadOnly      = "sqlite_file_not_writable"
	CheckDirReadOnly       = "sqlite_directory_not_writable"
	CheckMaxLocks          = "max_locks_per_transaction"
	CheckSlotInactive      = "replication_slot_inactive"
	CheckSlotLagging       = "replication_slot_lagging"
)

// Finding is one thing found. Details is one of the *Details types of
// this package, as the check documents.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"-"`
	Message  string   `json:"message"`
	Details  any      `json:"details"`
}

// Report is what Run found, by severity, in the order of the checks.
type Report struct {
	// Phases are those still to run that were checked ("expand",
	// "migrate", "contract"; "build" for an empty database), in order;
	// none when the database is up to date.
	Phases   []string  `json:"phases"`
	Blockers []Finding `json:"blockers"`
	Warnings []Finding `json:"warnings"`
	Notes    []Finding `json:"notes"`
}

// Blocked reports whether anything blocks.
func (r *Report) Blocked() bool { return len(r.Blockers) > 0 }

// Has reports whether r has a finding of any of the checks.
func (r *Report) Has(checks ...string) bool {
	for _, list := range [][]Finding{r.Blockers, r.Warnings, r.Notes} {
		for _, f := range list {
			if slices.Contains(checks, f.Check) {
				return true
			}
		}
	}
	return false
}

func (r *Report) add(f Finding) {
	switch f.Severity {
	case Blocker:
		r.Blockers = append(r.Blockers, f)
	case Warning:
		r.Warnings = append(r.Warnings, f)
	default:
		r.Notes = append(r.Notes, f)
	}
}

// RevisionDetails: CheckUnknownRevision.
type RevisionDetails struct {
	Rows []string `json:"rows"`
}

// PrivilegeDetails: CheckPrivileges.
type PrivilegeDetails struct {
	User    string         `json:"user"`
	Missing []dialect.Need `json:"missing"`
}

// BinlogDetails: CheckBinlogTriggers.
type BinlogDetails struct {
	User                        string `json:"user"`
	LogBin                      bool   `json:"log_bin"`
	LogBinTrustFunctionCreators bool   `json:"log_bin_trust_function_creators"`
	Super                       bool   `json:"super"`
}

// EngineDetails: CheckEngine.
type EngineDetails struct {
	Table string `json:"table"`
	// Engine is the table's storage engine; Changed, whether the phases
	// change its schema.
	Engine    string `json:"engine"`
	Changed   bool   `json:"changed_by_phases"`
	Statement string `json:"statement"`
}

// CharsetDetails: CheckCharset.
type CharsetDetails struct {
	Table          string   `json:"table"`
	Charset        string   `json:"charset"`
	Collation      string   `json:"collation"`
	ColumnCharsets []string `json:"column_charsets"`
	WantCharset    string   `json:"expected_charset"`
	WantCollation  string   `json:"expected_collation"`
}

// EncodingDetails: CheckEncoding.
type EncodingDetails struct {
	Encoding string `json:"encoding"`
	Want     string `json:"expected"`
}

// RebuildDetails: CheckBufferPool.
type RebuildDetails struct {
	Revision   string `json:"revision"`
	Table      string `json:"table"`
	TableBytes int64  `json:"table_bytes"`
	CacheBytes int64  `json:"buffer_pool_bytes"`
}

// DiskDetails: CheckDisk and CheckDiskUnknown (Reason and no FreeBytes).
type DiskDetails struct {
	Path        string `json:"path"`
	Table       string `json:"table"`
	NeededBytes int64  `json:"needed_bytes"`
	FreeBytes   int64  `json:"free_bytes,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// SessionDetails: CheckBlockingSession, CheckLongTransaction,
// CheckIdleInTransaction.
type SessionDetails struct {
	ID       int64  `json:"id"`
	User     string `json:"user"`
	Host     string `json:"host"`
	Database string `json:"database"`
	State    string `json:"state"`
	// TransactionAgeSeconds is -1 when the server does not say.
	TransactionAgeSeconds float64  `json:"transaction_age_seconds"`
	Tables                []string `json:"tables"`
}

// ReasonDetails: CheckSessionsHidden.
type ReasonDetails struct {
	Reason string `json:"reason"`
}

// LockDetails: CheckMigrationLock.
type LockDetails struct {
	Command             string  `json:"command"`
	Host                string  `json:"host"`
	PID                 int     `json:"pid"`
	Owner               string  `json:"owner"`
	Acquired            string  `json:"acquired"`
	HeartbeatAgeSeconds float64 `json:"heartbeat_age_seconds"`
	ExpiresInSeconds    float64 `json:"expires_in_seconds"`
	Stale               bool    `json:"stale"`
}

// ClusterDetails: the Galera checks.
type ClusterDetails struct {
	Node       string `json:"node"`
	Ready      bool   `json:"ready"`
	Status     string `json:"cluster_status"`
	State      string `json:"local_state"`
	Size       int    `json:"cluster_size"`
	Configured int    `json:"configured_nodes"`
	OSUMethod  string `json:"osu_method"`
}

// FileDetails: CheckFileReadOnly, CheckDirReadOnly.
type FileDetails struct {
	Path      string `json:"path"`
	Directory string `json:"directory"`
	Journal   string `json:"journal_mode"`
}

// LockLimitDetails: CheckMaxLocks.
type LockLimitDetails struct {
	Revision               string `json:"revision"`
	LocksNeeded            int    `json:"locks_needed"`
	MaxLocksPerTransaction int    `json:"max_locks_per_transaction"`
	Capacity               int    `json:"lock_table_capacity"`
}

// SlotDetails: CheckSlotInactive, CheckSlotLagging.
type SlotDetails struct {
	Slot          string `json:"slot"`
	Type          string `json:"type"`
	Active        bool   `json:"active"`
	RetainedBytes int64  `json:"retained_bytes"`
	WALStatus     string `json:"wal_status"`
}
