package preflight

import (
	"fmt"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// The checks, in the order Run makes them. Each reads its facts through
// the dialect's optional interface and adds its findings; a dialect
// without the interface has nothing to check there.

func clusterDetails(c *dialect.Cluster) *ClusterDetails {
	return &ClusterDetails{Node: c.Node, Ready: c.Ready, Status: c.Status, State: c.State,
		Size: c.Size, Configured: c.Configured, OSUMethod: c.Method}
}

func nodeName(c *dialect.Cluster) string {
	if c.Node == "" {
		return "this node"
	}
	return "node " + c.Node
}

// clusterRefuses reports a node that refuses queries: nothing else can
// be checked there.
func clusterRefuses(r *Report, c *dialect.Cluster) {
	if !c.Ready {
		r.add(Finding{Check: CheckGaleraNotReady, Severity: Blocker,
			Message: fmt.Sprintf("Galera %s is not ready (wsrep_ready is OFF, state %s): it refuses queries, so no phase can run on it. Point [database] connection at a node that is Synced in the primary component, or wait until this one has rejoined.", nodeName(c), c.State),
			Details: clusterDetails(c)})
	}
	if !c.Primary {
		r.add(Finding{Check: CheckGaleraNotPrimary, Severity: Blocker,
			Message: fmt.Sprintf("Galera %s is not in the primary component (wsrep_cluster_status is %s, %d node(s) in its component): it has lost quorum and refuses writes. Restore the cluster's quorum first, then run the phases on a node of the primary component.", nodeName(c), c.Status, c.Size),
			Details: clusterDetails(c)})
	}
}

func (c *checker) cluster() error {
	ci, ok := c.m.Dialect.(dialect.ClusterInspector)
	if !ok {
		return nil
	}
	cl, err := ci.Cluster(c.ctx, c.q)
	if err != nil || cl == nil {
		return err
	}
	if !cl.Ready || !cl.Primary {
		clusterRefuses(c.r, cl)
		return nil
	}
	if !cl.Synced {
		c.r.add(Finding{Check: CheckGaleraNotSynced, Severity: Blocker,
			Message: fmt.Sprintf("Galera %s is %s, not Synced: a donor, desynced or joining node applies the cluster's writes late, and schema changes run there stall the cluster or conflict with it. Point [database] connection at a Synced node, or wait until this one is Synced again.", nodeName(cl), cl.State),
			Details: clusterDetails(cl)})
	}
	if cl.Configured > 0 && cl.Size < cl.Configured {
		c.r.add(Finding{Check: CheckGaleraSize, Severity: Warning,
			Message: fmt.Sprintf("the Galera cluster has %d of the %d nodes it is configured with (wsrep_cluster_size): the missing ones need a state transfer of the new schema when they rejoin, and one more failure during a phase may cost the cluster its quorum. Bring them back first if you can.", cl.Size, cl.Configured),
			Details: clusterDetails(cl)})
	}
	if !cl.DDLReplicated {
		c.r.add(Finding{Check: CheckGaleraOSU, Severity: Blocker,
			Message: fmt.Sprintf("wsrep_OSU_method is %s for this tool's sessions: schema changes would be applied to %s only and not replicate, so the other nodes keep the old schema (and the rows written into new tables or a shadow copy fail to apply there). Set it back to TOI first (SET GLOBAL wsrep_OSU_method='TOI').", cl.Method, nodeName(cl)),
			Details: clusterDetails(cl)})
	}
	return nil
}

func processUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "this process's user"
}

func (c *checker) files() error {
	fi, ok := c.m.Dialect.(dialect.FileInspector)
	if !ok {
		return nil
	}
	f, err := fi.Files(c.ctx, c.q)
	if err != nil || f.Path == "" {
		return err
	}
	det := &FileDetails{Path: f.Path, Directory: f.Dir, Journal: f.Journal}
	if !f.Writable {
		c.r.add(Finding{Check: CheckFileReadOnly, Severity: Blocker,
			Message: fmt.Sprintf("the SQLite database file %s is not writable by user %s: every phase writes it. Run glance-manage as the user that owns it (the one Glance runs as), or make it writable.", f.Path, processUser()),
			Details: det})
	}
	if !f.DirWritable {
		c.r.add(Finding{Check: CheckDirReadOnly, Severity: Blocker,
			Message: fmt.Sprintf("the directory %s of the SQLite database is not writable by user %s: SQLite creates its journal there (journal mode %s) for every write, so every phase would fail. Run glance-manage as the user that owns the directory, or make it writable.", f.Dir, processUser(), f.Journal),
			Details: det})
	}
	return nil
}

func (c *checker) loadRebuilds() error {
	if !c.o.Online || c.p.Baseline {
		return nil
	}
	var err error
	c.rebuilds, err = c.m.Migrator.RebuildsFrom(c.ctx, c.p.Rows, c.targets, c.mo)
	return err
}

func (c *checker) privileges() error {
	pi, ok := c.m.Dialect.(dialect.PrivilegeInspector)
	if !ok {
		return nil
	}
	needs := c.needs()
	// Triggers that may have to be dropped: those the phases drop if
	// they still exist, and those of an interrupted shadow copy of a
	// table the phases alter, which the next run cleans up. TRIGGER on
	// their tables is asked for in advance, and what they need is kept
	// only if they are there: finding out costs reads of the triggers,
	// made only when they could make a difference.
	var probes []dialect.Need
	probe := func(table string) {
		n := dialect.Need{Privilege: dialect.PrivTrigger, Table: table}
		if !slices.Contains(needs, n) && !slices.Contains(probes, n) {
			probes = append(probes, n)
		}
	}
	for _, op := range c.dropTriggers {
		probe(op.Table)
	}
	if _, ok := c.m.Dialect.(dialect.Shadow); ok {
		for _, po := range c.p.Ops {
			if a, ok := po.Op.(schema.AlterColumn); ok && c.changed[a.Table] {
				probe(a.Table)
			}
		}
	}
	pr, err := pi.Privileges(c.ctx, c.q, append(slices.Clone(needs), probes...))
	if err != nil {
		return err
	}
	var missing []dialect.Need
	probeMissing := false
	for _, n := range pr.Missing {
		if slices.Contains(probes, n) {
			probeMissing = true
		} else {
			missing = append(missing, n)
		}
	}
	triggers := c.triggers || c.shadowing()
	if probeMissing || (!triggers && !pr.BinlogTriggers.Allowed()) {
		left, err := c.unfinishedCopies()
		if err != nil {
			return err
		}
		drops, err := c.dropsTriggers()
		if err != nil {
			return err
		}
		for _, n := range pr.Missing {
			if !slices.Contains(probes, n) {
				continue
			}
			dropped := drops && slices.ContainsFunc(c.dropTriggers, func(d schema.DropTrigger) bool { return d.Table == n.Table })
			if dropped || slices.Contains(left, n.Table) {
				missing = append(missing, n)
			}
		}
		triggers = triggers || drops || len(left) > 0
	}
	pr.Missing = missing
	if len(pr.Missing) > 0 {
		var list []string
		for _, n := range pr.Missing {
			on := "the database (new tables)"
			if n.Table != "" {
				on = n.Table
			}
			list = append(list, n.Privilege+" on "+on)
		}
		c.r.add(Finding{Check: CheckPrivileges, Severity: Blocker,
			Message: fmt.Sprintf("user %s lacks privileges the phases use: %s. Grant them first (the upgrade creates, alters, indexes, drops and references Glance's tables, and creates triggers on them), or run it as a user that has them.", pr.User, strings.Join(list, ", ")),
			Details: &PrivilegeDetails{User: pr.User, Missing: pr.Missing}})
	}
	if triggers && !pr.BinlogTriggers.Allowed() {
		c.r.add(Finding{Check: CheckBinlogTriggers, Severity: Blocker,
			Message: fmt.Sprintf("binary logging is on and user %s has neither SUPER nor log_bin_trust_function_creators: the server refuses to create or drop the triggers the phases need (error 1419). Set log_bin_trust_function_creators=1 for the upgrade (SET GLOBAL log_bin_trust_function_creators=1, as kolla-ansible does, and back to 0 afterwards), or run it as a user with SUPER.", pr.User),
			Details: &BinlogDetails{User: pr.User, LogBin: true, LogBinTrustFunctionCreators: pr.BinlogTriggers.TrustFunctionCreators, Super: pr.BinlogTriggers.Super}})
	}
	return nil
}

// revisionTables are the tables the revisions create with explicit
// MySQL table options (schema.Table.Options): those whose character set
// they decide.
func (c *checker) revisionTables() map[string]bool {
	out := map[string]bool{}
	if c.p.Model == nil {
		return out
	}
	for _, t := range c.p.Model.Tables() {
		if t.Options[string(dialect.MySQL)] != "" {
			out[t.Name] = true
		}
	}
	return out
}

func (c *checker) tables() error {
	ti, ok := c.m.Dialect.(dialect.TableInspector)
	if !ok {
		return nil
	}
	ts, err := ti.TableFacts(c.ctx, c.q)
	if err != nil {
		return err
	}
	c.tableFacts = ts
	ours := c.revisionTables()
	for _, t := range ts.List {
		if glance.Naming.IsBookkeeping(t.Name) {
			continue
		}
		if t.Engine != "" && !t.Transactional {
			changed := c.changed[t.Name]
			stmt := fmt.Sprintf(ts.ConvertEngine, t.Name) + ";"
			f := Finding{Check: CheckEngine, Severity: Warning,
				Message: fmt.Sprintf("table %s uses the %s engine, which has no transactions or row locks (and a Galera cluster does not replicate it). Convert it while traffic is low: %s", t.Name, t.Engine, stmt),
				Details: &EngineDetails{Table: t.Name, Engine: t.Engine, Changed: changed, Statement: stmt}}
			if changed && c.o.Online {
				f.Severity = Blocker
				f.Message = fmt.Sprintf("table %s uses the %s engine, which has no online schema changes: each change the phases make to it locks the whole table, and the services' writers wait for all of it (seconds on a large table). Convert it first, while traffic is low: %s", t.Name, t.Engine, stmt)
			}
			c.r.add(f)
		}
		if ts.Charset != "" && ours[t.Name] && (t.Charset != ts.Charset || t.Collation != ts.Collation || len(t.OtherCharsets) > 0) {
			cols := ""
			if len(t.OtherCharsets) > 0 {
				cols = "; some columns in " + strings.Join(t.OtherCharsets, ", ")
			}
			stmt := fmt.Sprintf(ts.ConvertCharset, t.Name, ts.Charset, ts.Collation) + ";"
			c.r.add(Finding{Check: CheckCharset, Severity: Warning,
				Message: fmt.Sprintf("table %s has character set %s (collation %s%s), where the revisions create their tables in %s (%s): the new tables and columns will not match it, and comparisons between them convert every row and cannot use an index. If the difference is not intended, convert the table while traffic is low (it is rewritten; characters the target set lacks are lost): %s", t.Name, t.Charset, t.Collation, cols, ts.Charset, ts.Collation, stmt),
				Details: &CharsetDetails{Table: t.Name, Charset: t.Charset, Collation: t.Collation, ColumnCharsets: nonNil(t.OtherCharsets), WantCharset: ts.Charset, WantCollation: ts.Collation}})
		}
	}
	if ts.WantEncoding != "" && ts.Encoding != ts.WantEncoding {
		c.r.add(Finding{Check: CheckEncoding, Severity: Warning,
			Message: fmt.Sprintf("the database's encoding is %s, not %s: Glance writes image names and metadata in %s, which such a database rejects or stores as raw bytes. Plan to move it to a database created with encoding %s (dump and restore); the phases themselves are not affected.", ts.Encoding, ts.WantEncoding, ts.WantEncoding, ts.WantEncoding),
			Details: &EncodingDetails{Encoding: ts.Encoding, Want: ts.WantEncoding}})
	}
	return nil
}

// RebuildFinding is the warning for a table an online run rebuilds in
// place although it is larger than the server's buffer cache, or nil
// (see migrate.Rebuild and dialect.Sizer).
func RebuildFinding(rb migrate.Rebuild) *Finding {
	if rb.Shadow || rb.Cache <= 0 || rb.Size <= rb.Cache {
		return nil
	}
	return &Finding{Check: CheckBufferPool, Severity: Warning,
		Message: fmt.Sprintf("%s rebuilds table %s online, and the table (%s of data and indexes) is larger than the server's InnoDB buffer pool (%s): at the end of the rebuild InnoDB replays the writes made meanwhile while reading pages from disk, and writers may wait seconds. Raise innodb_buffer_pool_size above the table's size first (it can be changed at run time) or run this step when traffic is low.",
			rb.Revision, rb.Table, HumanBytes(rb.Size), HumanBytes(rb.Cache)),
		Details: &RebuildDetails{Revision: rb.Revision, Table: rb.Table, TableBytes: rb.Size, CacheBytes: rb.Cache}}
}

func (c *checker) bufferPool() error {
	for _, rb := range c.rebuilds {
		if f := RebuildFinding(rb); f != nil {
			c.r.add(*f)
		}
	}
	return nil
}

func (c *checker) disk() error {
	rw, ok := c.m.Dialect.(dialect.Rewriter)
	di, ok2 := c.m.Dialect.(dialect.DiskInspector)
	if !ok || !ok2 {
		return nil
	}
	var table string
	var need int64
	for _, po := range c.p.Ops {
		if !rw.Rewrites(po.Op) {
			continue
		}
		var name string
		switch op := po.Op.(type) {
		case schema.AlterColumn:
			name = op.Table
		case schema.RebuildTable:
			name = op.Table.Name
		}
		if !c.changed[name] {
			continue // created by the phases, empty
		}
		size := int64(-1)
		if t := c.tableFacts.Find(name); t != nil {
			size = t.Size
		} else if fi, ok := c.m.Dialect.(dialect.FileInspector); ok {
			// No sizes per table: the database's file bounds them.
			if f, err := fi.Files(c.ctx, c.q); err == nil {
				size = f.Size
			}
		}
		if size > need {
			table, need = name, size
		}
	}
	if need <= 0 {
		return nil
	}
	d, err := di.Disk(c.ctx, c.q)
	if err != nil {
		return err
	}
	det := &DiskDetails{Path: d.Path, Table: table, NeededBytes: need}
	switch {
	case !d.Known:
		det.Reason = d.Unknown
		c.r.add(Finding{Check: CheckDiskUnknown, Severity: Note,
			Message: fmt.Sprintf("the phases write a new copy of table %s (about %s), and the free disk for it cannot be checked from here: %s. Make sure the server's data directory has that much free.", table, HumanBytes(need), d.Unknown),
			Details: det})
	case d.Free < need:
		det.FreeBytes = d.Free
		c.r.add(Finding{Check: CheckDisk, Severity: Blocker,
			Message: fmt.Sprintf("the phases write a new copy of table %s, which needs about %s of disk, and %s has %s free: the copy would fill the disk and fail. Free space there (or grow the file system) first.", table, HumanBytes(need), d.Path, HumanBytes(d.Free)),
			Details: det})
	case d.Free < 2*need:
		det.FreeBytes = d.Free
		c.r.add(Finding{Check: CheckDisk, Severity: Warning,
			Message: fmt.Sprintf("the phases write a new copy of table %s, which needs about %s of disk, and %s has %s free: little margin for the logs the copy writes too. Free space there first if you can.", table, HumanBytes(need), d.Path, HumanBytes(d.Free)),
			Details: det})
	}
	return nil
}

func sessionDetails(s dialect.OpenSession) *SessionDetails {
	age := s.TransactionAge.Seconds()
	if s.TransactionAge == 0 && s.State != "" && strings.HasPrefix(s.State, "unknown") {
		age = -1
	}
	return &SessionDetails{ID: s.ID, User: s.User, Host: s.Host, Database: s.Database, State: s.State,
		TransactionAgeSeconds: age, Tables: nonNil(s.Tables)}
}

func describeSession(s dialect.OpenSession) string {
	who := s.User
	if who == "" {
		who = "an unknown user"
	}
	if s.Host != "" {
		who += " from " + s.Host
	}
	return fmt.Sprintf("session %d (%s, %s)", s.ID, who, s.State)
}

func describeAge(s dialect.OpenSession) string {
	if s.TransactionAge <= 0 {
		return "an unknown time"
	}
	return s.TransactionAge.Round(time.Second).String()
}

func (c *checker) sessions() error {
	si, ok := c.m.Dialect.(dialect.SessionInspector)
	if !ok {
		return nil
	}
	ss, err := si.Sessions(c.ctx, c.q, c.o.TransactionAge)
	if err != nil {
		return err
	}
	end := func(s dialect.OpenSession) string { return fmt.Sprintf(ss.End, s.ID) }
	for _, s := range ss.List {
		// This tool's own tables (the migration lock, whose lease row a
		// run's transactions renew) are not what the phases change.
		held := len(s.Tables)
		s.Tables = slices.DeleteFunc(s.Tables, glance.Naming.IsBookkeeping)
		if held > 0 && len(s.Tables) == 0 {
			s.HoldsLocks = false
		}
		blocking := c.ddl && s.HoldsLocks && (len(s.Tables) == 0 || c.anyChanged(s.Tables))
		on := "its tables"
		if len(s.Tables) > 0 {
			on = strings.Join(s.Tables, ", ")
		}
		switch {
		case blocking:
			c.r.add(Finding{Check: CheckBlockingSession, Severity: Blocker,
				Message: fmt.Sprintf("%s has had a transaction open for %s in this database, holding locks on %s: each schema change of the phases on those tables waits for it, the services' writers queue behind the waiting change, and after its retries the phase fails. End that session (%s) or let its transaction finish first.", describeSession(s), describeAge(s), on, end(s)),
				Details: sessionDetails(s)})
		case s.Idle:
			c.r.add(Finding{Check: CheckIdleInTransaction, Severity: Warning,
				Message: fmt.Sprintf("%s has been idle in an open transaction for %s: it holds back the cleanup of old row versions while the phases rewrite rows, and whatever it locks later stalls them. Find the client that left it open, or end it (%s).", describeSession(s), describeAge(s), end(s)),
				Details: sessionDetails(s)})
		default:
			c.r.add(Finding{Check: CheckLongTransaction, Severity: Warning,
				Message: fmt.Sprintf("%s has had a transaction open for %s: it holds back the cleanup of old row versions while the phases rewrite rows, and whatever it locks later stalls them. Let it finish before the phases run, or end it (%s).", describeSession(s), describeAge(s), end(s)),
				Details: sessionDetails(s)})
		}
	}
	if ss.Partial != "" {
		c.r.add(Finding{Check: CheckSessionsHidden, Severity: Note,
			Message: fmt.Sprintf("other sessions' transactions cannot be checked: %s. Look for long transactions on this database with an administrative user before the phases run.", ss.Partial),
			Details: &ReasonDetails{Reason: ss.Partial}})
	}
	return nil
}

func (c *checker) anyChanged(tables []string) bool {
	for _, t := range tables {
		if c.changed[t] {
			return true
		}
	}
	return false
}

func (c *checker) lockLimits() error {
	ll, ok := c.m.Dialect.(dialect.LockLimiter)
	if !ok || !c.m.Dialect.TransactionalDDL() {
		return nil
	}
	lim, err := ll.LockLimits(c.ctx, c.q)
	if err != nil {
		return err
	}
	var (
		rev    string
		needed int
		group  []schema.Op
	)
	flush := func(id string) {
		if n := ll.TransactionLocks(group); n > needed {
			rev, needed = id, n
		}
		group = group[:0]
	}
	for i, po := range c.p.Ops {
		group = append(group, po.Op)
		if i == len(c.p.Ops)-1 || c.p.Ops[i+1].Revision != po.Revision {
			flush(po.Revision)
		}
	}
	if c.p.Baseline {
		rev = "the build of the empty database"
	}
	det := &LockLimitDetails{Revision: rev, LocksNeeded: needed, MaxLocksPerTransaction: lim.PerTransaction, Capacity: lim.Capacity}
	if needed > lim.Capacity {
		// Past the table's size the server lends spare shared memory,
		// which other sessions' locks compete for: a risk, not a
		// certain failure.
		c.r.add(Finding{Check: CheckMaxLocks, Severity: Warning,
			Message: fmt.Sprintf("%s locks about %d objects in one transaction, more than the server's lock table is sized for (%d, from %s=%d): it fails with \"out of shared memory\" if the server's spare shared memory runs out, sooner when other sessions hold many locks. Raise %s (it takes a server restart), or run the phases when the server is quiet.", rev, needed, lim.Capacity, lim.Setting, lim.PerTransaction, lim.Setting),
			Details: det})
	}
	return nil
}

// SlotLagBytes is the write-ahead log behind an active replication slot
// that counts as lagging.
const SlotLagBytes = 1 << 30

func (c *checker) slots() error {
	si, ok := c.m.Dialect.(dialect.SlotInspector)
	if !ok {
		return nil
	}
	slots, err := si.Slots(c.ctx, c.q)
	if err != nil {
		return err
	}
	for _, s := range slots {
		det := &SlotDetails{Slot: s.Name, Type: s.Type, Active: s.Active, RetainedBytes: s.Retained, WALStatus: s.WALStatus}
		kept := "an unknown amount"
		if s.Retained >= 0 {
			kept = HumanBytes(s.Retained)
		}
		switch {
		case !s.Active:
			c.r.add(Finding{Check: CheckSlotInactive, Severity: Warning,
				Message: fmt.Sprintf("replication slot %s (%s) has no consumer attached and keeps %s of write-ahead log: every write of the phases adds to it, until the disk fills and the server stops. Reconnect its standby or subscriber first, or drop the slot if nothing uses it any more.", s.Name, s.Type, kept),
				Details: det})
		case s.Retained > SlotLagBytes || s.WALStatus == "extended" || s.WALStatus == "unreserved" || s.WALStatus == "lost":
			c.r.add(Finding{Check: CheckSlotLagging, Severity: Warning,
				Message: fmt.Sprintf("replication slot %s (%s) lags: it keeps %s of write-ahead log (wal_status %s), and the phases' writes add to it. Let its consumer catch up first, and watch the disk while the phases run.", s.Name, s.Type, kept, s.WALStatus),
				Details: det})
		}
	}
	return nil
}

func (c *checker) migrationLock() error {
	if c.o.Before {
		return nil // the command waits for the lock, and says so
	}
	l := &migrate.Locker{DB: c.m.DB, Dialect: c.m.Dialect, Naming: glance.Naming}
	info, err := l.Show(c.ctx)
	if err != nil || info == nil {
		return err
	}
	det := &LockDetails{Command: info.Command, Host: info.Host, PID: info.PID, Owner: info.Owner,
		Acquired: info.Acquired.Format(time.RFC3339), HeartbeatAgeSeconds: info.Silence.Seconds(),
		ExpiresInSeconds: info.ExpiresIn.Seconds(), Stale: info.Stale()}
	since := info.Acquired.Format("2006-01-02 15:04:05 MST")
	msg := fmt.Sprintf("the migration lock is held by %s since %s (last heartbeat %s ago): another glance-manage run is working on this database, and the phases would wait for it (up to --lock-timeout). Let it finish first; `glance-manage db lock show` tells more.", info.Holder, since, info.Silence.Round(time.Second))
	if info.Stale() {
		msg = fmt.Sprintf("the migration lock is held by %s since %s, but that run is gone or its lease expired: the next run takes the lock over and goes on from where it stopped. Check that it is really gone with `glance-manage db lock show`.", info.Holder, since)
	}
	c.r.add(Finding{Check: CheckMigrationLock, Severity: Warning, Message: msg, Details: det})
	return nil
}

// HumanBytes renders a size for people ("900.0 MiB").
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
