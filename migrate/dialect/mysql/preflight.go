package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// The preflight facts of MySQL and MariaDB (see dialect's preflight.go).

var (
	_ dialect.PrivilegeInspector = Dialect{}
	_ dialect.TableInspector     = Dialect{}
	_ dialect.SessionInspector   = Dialect{}
	_ dialect.ClusterInspector   = Dialect{}
	_ dialect.DiskInspector      = Dialect{}
	_ dialect.Rewriter           = Dialect{}
)

// grantee returns CURRENT_USER() as information_schema's privilege
// tables spell a grantee ('user'@'host').
func grantee(current string) string {
	user, host := current, ""
	if i := strings.LastIndexByte(current, '@'); i >= 0 {
		user, host = current[:i], current[i+1:]
	}
	return "'" + user + "'@'" + host + "'"
}

// Privileges implements dialect.PrivilegeInspector from
// information_schema's USER_, SCHEMA_ and TABLE_PRIVILEGES (global,
// database and table grants, the user's and its current role's). MariaDB
// does not enforce REFERENCES, so it is never missing there.
func (Dialect) Privileges(ctx context.Context, q dialect.Querier, needs []dialect.Need) (*dialect.Privileges, error) {
	var (
		current, version string
		role             sql.NullString
		logBin, trust    int
	)
	if err := q.QueryRowContext(ctx, "SELECT CURRENT_USER(), VERSION(), @@global.log_bin, @@global.log_bin_trust_function_creators").Scan(&current, &version, &logBin, &trust); err != nil {
		return nil, err
	}
	mariadb := strings.Contains(version, "MariaDB")
	grantees := []any{grantee(current)}
	if mariadb {
		if err := q.QueryRowContext(ctx, "SELECT CURRENT_ROLE()").Scan(&role); err != nil {
			return nil, err
		}
		if role.Valid && role.String != "" {
			grantees = append(grantees, "'"+role.String+"'")
		}
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(grantees)), ", ")
	args := append(append(append([]any{}, grantees...), grantees...), grantees...)
	rows, err := q.QueryContext(ctx, `SELECT privilege_type, '' FROM information_schema.user_privileges WHERE grantee IN (`+in+`)
UNION ALL SELECT privilege_type, '.' FROM information_schema.schema_privileges WHERE grantee IN (`+in+`) AND DATABASE() LIKE table_schema
UNION ALL SELECT privilege_type, table_name FROM information_schema.table_privileges WHERE grantee IN (`+in+`) AND table_schema = DATABASE()`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	global, database := map[string]bool{}, map[string]bool{}
	table := map[string]map[string]bool{}
	for rows.Next() {
		var priv, on string
		if err := rows.Scan(&priv, &on); err != nil {
			return nil, err
		}
		priv = strings.ToUpper(priv)
		switch on {
		case "":
			global[priv] = true
		case ".":
			database[priv] = true
		default:
			if table[on] == nil {
				table[on] = map[string]bool{}
			}
			table[on][priv] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := &dialect.Privileges{User: current}
	for _, n := range needs {
		if n.Privilege == dialect.PrivReferences && mariadb {
			continue
		}
		if global[n.Privilege] || database[n.Privilege] || table[n.Table][n.Privilege] {
			continue
		}
		out.Missing = append(out.Missing, n)
	}
	if logBin == 1 {
		out.BinlogTriggers = &dialect.BinlogTriggers{TrustFunctionCreators: trust == 1, Super: global["SUPER"]}
	}
	return out, nil
}

// tableCharset is the character set the revisions' tables are created
// with (render.go's table options).
const tableCharset = "utf8"

// TableFacts implements dialect.TableInspector from
// information_schema: each table's engine (and whether it is
// transactional), default collation and character set, the other
// character sets of its columns, and its data and index length. What
// the revisions' CHARSET=utf8 means is asked of the server (utf8mb3, or
// utf8mb4 where old_mode says so).
func (Dialect) TableFacts(ctx context.Context, q dialect.Querier) (*dialect.Tables, error) {
	out := &dialect.Tables{
		ConvertEngine:  "ALTER TABLE %[1]s ENGINE=InnoDB",
		ConvertCharset: "ALTER TABLE %[1]s CONVERT TO CHARACTER SET %[2]s COLLATE %[3]s",
	}
	if err := q.QueryRowContext(ctx, "SELECT CHARSET(CONVERT('' USING "+tableCharset+")), COLLATION(CONVERT('' USING "+tableCharset+"))").Scan(&out.Charset, &out.Collation); err != nil {
		return nil, err
	}
	// Each information_schema view on its own: joined, MariaDB reads
	// them again for every row (tens of milliseconds).
	transactional := map[string]bool{}
	engines, err := q.QueryContext(ctx, "SELECT engine, COALESCE(transactions, '') FROM information_schema.engines")
	if err != nil {
		return nil, err
	}
	defer engines.Close()
	for engines.Next() {
		var name, tx string
		if err := engines.Scan(&name, &tx); err != nil {
			return nil, err
		}
		transactional[strings.ToLower(name)] = strings.EqualFold(tx, "YES")
	}
	if err := engines.Err(); err != nil {
		return nil, err
	}
	engines.Close()
	rows, err := q.QueryContext(ctx, `SELECT table_name, COALESCE(engine, ''), COALESCE(table_collation, ''), COALESCE(data_length, 0) + COALESCE(index_length, 0)
FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	collations := map[string]string{}
	for rows.Next() {
		var f dialect.TableFact
		if err := rows.Scan(&f.Name, &f.Engine, &f.Collation, &f.Size); err != nil {
			return nil, err
		}
		f.Transactional = transactional[strings.ToLower(f.Engine)]
		collations[f.Collation] = ""
		out.List = append(out.List, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// The statistics behind data_length sample a few pages and may say a
	// quarter of what the table's file holds; what a copy of the table
	// writes is nearer the file's size. The tablespaces can be read only
	// with PROCESS: without it the statistics are what there is.
	if files, err := tablespaceSizes(ctx, q); err == nil {
		for i, f := range out.List {
			out.List[i].Size = max(f.Size, files[f.Name])
		}
	}
	for name := range collations {
		if name == "" {
			continue
		}
		var cs string
		err := q.QueryRowContext(ctx, "SELECT character_set_name FROM information_schema.collation_character_set_applicability WHERE collation_name = ?", name).Scan(&cs)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		collations[name] = cs
	}
	for i := range out.List {
		out.List[i].Charset = collations[out.List[i].Collation]
	}
	cols, err := q.QueryContext(ctx, "SELECT DISTINCT table_name, character_set_name FROM information_schema.columns WHERE table_schema = DATABASE() AND character_set_name IS NOT NULL ORDER BY table_name, character_set_name")
	if err != nil {
		return nil, err
	}
	defer cols.Close()
	for cols.Next() {
		var name, cs string
		if err := cols.Scan(&name, &cs); err != nil {
			return nil, err
		}
		if f := out.Find(name); f != nil && cs != f.Charset && !slices.Contains(f.OtherCharsets, cs) {
			f.OtherCharsets = append(f.OtherCharsets, cs)
		}
	}
	return out, cols.Err()
}

// Sessions implements dialect.SessionInspector: the InnoDB transactions
// (information_schema.INNODB_TRX with PROCESSLIST) open for at least
// minAge, of sessions connected to the current database or holding
// metadata locks on its tables where the server shows those
// (performance_schema.metadata_locks when performance_schema is on,
// information_schema.METADATA_LOCK_INFO with MariaDB's plugin). A
// transaction of a session in the current database is taken to hold
// locks there: a read inside a transaction keeps its table's metadata
// lock until the transaction ends, and DDL on that table waits for it.
// Without PROCESS the server shows only the user's own sessions.
func (Dialect) Sessions(ctx context.Context, q dialect.Querier, minAge time.Duration) (*dialect.Sessions, error) {
	var current string
	var process int
	if err := q.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&current); err != nil {
		return nil, err
	}
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.user_privileges WHERE grantee = ? AND privilege_type IN ('PROCESS', 'SUPER')", grantee(current)).Scan(&process); err != nil {
		return nil, err
	}
	if process == 0 {
		// INNODB_TRX refuses to be read without PROCESS (error 1227).
		return &dialect.Sessions{End: "KILL %d", Partial: "the transactions of the server (information_schema.INNODB_TRX) can be read only with the PROCESS privilege"}, nil
	}
	mdl, err := metadataLocks(ctx, q)
	if err != nil {
		return nil, err
	}
	out, err := openTransactions(ctx, q, minAge, mdl)
	if err != nil || len(out.List) == 0 {
		return out, err
	}
	// InnoDB serves INNODB_TRX from a cache it refreshes at most every
	// 100ms: a transaction that ended just before (a session that a
	// report of ours made its owner end) may still be listed. Read again
	// after that and keep the sessions both reads show.
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(trxCacheAge):
	}
	again, err := openTransactions(ctx, q, minAge, mdl)
	if err != nil {
		return nil, err
	}
	still := map[int64]bool{}
	for _, s := range again.List {
		still[s.ID] = true
	}
	kept := out.List[:0]
	for _, s := range out.List {
		if still[s.ID] {
			kept = append(kept, s)
		}
	}
	out.List = kept
	return out, nil
}

// trxCacheAge is a little more than the time for which InnoDB serves
// information_schema.INNODB_TRX from its cache without refreshing it.
const trxCacheAge = 150 * time.Millisecond

// openTransactions reads the InnoDB transactions open for at least minAge
// of sessions in the current database or holding metadata locks (mdl) on
// its tables.
func openTransactions(ctx context.Context, q dialect.Querier, minAge time.Duration, mdl map[int64][]string) (*dialect.Sessions, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.id, COALESCE(p.user, ''), COALESCE(p.host, ''), COALESCE(p.db, ''), COALESCE(p.command, ''), COALESCE(p.state, ''),
  TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)), t.trx_lock_structs, p.db = DATABASE()
FROM information_schema.innodb_trx t JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
WHERE p.id <> CONNECTION_ID() AND t.trx_started <= NOW(6) - INTERVAL ? MICROSECOND
ORDER BY t.trx_started`, minAge.Microseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &dialect.Sessions{End: "KILL %d"}
	for rows.Next() {
		var (
			s             dialect.OpenSession
			command, st   string
			micros, locks int64
			here          sql.NullBool
		)
		if err := rows.Scan(&s.ID, &s.User, &s.Host, &s.Database, &command, &st, &micros, &locks, &here); err != nil {
			return nil, err
		}
		s.Tables = mdl[s.ID]
		if !(here.Valid && here.Bool) && len(s.Tables) == 0 {
			continue
		}
		s.Host = strings.TrimSuffix(s.Host, ":"+portOf(s.Host))
		s.State = command
		if st != "" {
			s.State += " (" + st + ")"
		}
		s.Idle = command == "Sleep"
		s.TransactionAge = time.Duration(micros) * time.Microsecond
		s.HoldsLocks = true
		out.List = append(out.List, s)
	}
	return out, rows.Err()
}

// tablespaceSizes returns the allocated size of the file of each InnoDB
// table of the current database that has one (file-per-table), from
// MariaDB's INNODB_SYS_TABLESPACES or MySQL's INNODB_TABLESPACES.
func tablespaceSizes(ctx context.Context, q dialect.Querier) (map[string]int64, error) {
	view := "innodb_sys_tablespaces"
	ok, err := dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'information_schema' AND table_name = 'INNODB_SYS_TABLESPACES'")
	if err != nil {
		return nil, err
	}
	if !ok {
		view = "innodb_tablespaces"
	}
	rows, err := q.QueryContext(ctx, "SELECT name, allocated_size FROM information_schema."+view+" WHERE name LIKE CONCAT(DATABASE(), '/%')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size sql.NullInt64
		if err := rows.Scan(&name, &size); err != nil {
			return nil, err
		}
		out[name[strings.IndexByte(name, '/')+1:]] = size.Int64
	}
	return out, rows.Err()
}

// portOf returns the port of a PROCESSLIST host ("10.0.0.5:51234").
func portOf(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		return host[i+1:]
	}
	return ""
}

// metadataLocks returns, per connection id, the current database's
// tables it holds metadata locks on, where the server shows them (nil
// otherwise).
func metadataLocks(ctx context.Context, q dialect.Querier) (map[int64][]string, error) {
	var ps int
	if err := q.QueryRowContext(ctx, "SELECT @@performance_schema").Scan(&ps); err != nil {
		return nil, err
	}
	var query string
	switch {
	case ps == 1:
		query = `SELECT t.processlist_id, m.object_name FROM performance_schema.metadata_locks m JOIN performance_schema.threads t ON t.thread_id = m.owner_thread_id
WHERE m.object_type = 'TABLE' AND m.object_schema = DATABASE() AND m.lock_status = 'GRANTED' AND t.processlist_id IS NOT NULL`
	default:
		ok, err := dialect.Exists(ctx, q, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'information_schema' AND table_name = 'METADATA_LOCK_INFO'")
		if err != nil || !ok {
			return nil, err
		}
		query = "SELECT thread_id, table_name FROM information_schema.metadata_lock_info WHERE table_schema = DATABASE() AND table_name <> ''"
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var table string
		if err := rows.Scan(&id, &table); err != nil {
			return nil, err
		}
		if !slices.Contains(out[id], table) {
			out[id] = append(out[id], table)
		}
	}
	return out, rows.Err()
}

// Cluster implements dialect.ClusterInspector for MariaDB Galera with
// SHOW statements only, which a node answers even when it refuses
// queries. Schema changes replicate under the session's
// wsrep_OSU_method TOI (the value every new connection of this tool
// gets from the global one); under RSU they apply to this node only.
func (Dialect) Cluster(ctx context.Context, q dialect.Querier) (*dialect.Cluster, error) {
	vars, err := show(ctx, q, "SHOW SESSION VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_cluster_address', 'wsrep_node_name', 'wsrep_OSU_method')")
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(vars["wsrep_on"], "ON") {
		return nil, nil
	}
	status, err := show(ctx, q, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_cluster_status', 'wsrep_local_state_comment', 'wsrep_cluster_size')")
	if err != nil {
		return nil, err
	}
	c := &dialect.Cluster{
		Node:   vars["wsrep_node_name"],
		Ready:  strings.EqualFold(status["wsrep_ready"], "ON"),
		Status: status["wsrep_cluster_status"],
		State:  status["wsrep_local_state_comment"],
		Method: vars["wsrep_osu_method"],
	}
	c.Primary = c.Status == "Primary"
	c.Synced = c.State == "Synced"
	c.DDLReplicated = strings.EqualFold(c.Method, "TOI")
	c.Size, _ = strconv.Atoi(status["wsrep_cluster_size"])
	c.Configured = clusterNodes(vars["wsrep_cluster_address"])
	return c, nil
}

// clusterNodes counts the addresses of a wsrep_cluster_address
// ("gcomm://a,b,c?option=value"); 0 when it names none (a node that
// bootstraps a new cluster).
func clusterNodes(addr string) int {
	rest, ok := strings.CutPrefix(addr, "gcomm://")
	if !ok {
		return 0
	}
	rest, _, _ = strings.Cut(rest, "?")
	n := 0
	for _, a := range strings.Split(rest, ",") {
		if strings.TrimSpace(a) != "" {
			n++
		}
	}
	return n
}

// show runs a SHOW ... VARIABLES/STATUS statement and returns its rows by
// lower-cased name.
func show(ctx context.Context, q dialect.Querier, stmt string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		out[strings.ToLower(name)] = value
	}
	return out, rows.Err()
}

// Disk implements dialect.DiskInspector: the free space of the current
// database's directory in @@datadir (where a shadow copy's file goes: it
// may be a file system of its own, mounted or linked there), when the
// server runs on this host (its host name is this host's, and the data
// directory holds the current database's directory as seen from here);
// otherwise Known is false and Unknown says why.
func (Dialect) Disk(ctx context.Context, q dialect.Querier) (*dialect.Disk, error) {
	var datadir, host, db string
	if err := q.QueryRowContext(ctx, "SELECT @@datadir, @@hostname, COALESCE(DATABASE(), '')").Scan(&datadir, &host, &db); err != nil {
		return nil, err
	}
	d := &dialect.Disk{Path: datadir}
	if here, _ := os.Hostname(); !strings.EqualFold(here, host) {
		d.Unknown = fmt.Sprintf("the server runs on host %s, not this one (%s)", host, here)
		return d, nil
	}
	fi, err := os.Stat(filepath.Join(datadir, db))
	if err != nil || !fi.IsDir() {
		why := "it is not a directory"
		if err != nil {
			why = errors.Unwrap(err).Error()
			if why == "" {
				why = err.Error()
			}
		}
		d.Unknown = fmt.Sprintf("the server's data directory %s cannot be seen from this process (%s: %s)", datadir, filepath.Join(datadir, db), why)
		return d, nil
	}
	d.Path = filepath.Join(datadir, db)
	free, err := dialect.FreeSpace(d.Path)
	if err != nil {
		d.Unknown = fmt.Sprintf("the free space of %s cannot be read: %v", d.Path, err)
		return d, nil
	}
	d.Free, d.Known = free, true
	return d, nil
}

// Rewrites implements dialect.Rewriter: a change of a column's
// nullability rebuilds the table (in place, or by a shadow copy).
func (Dialect) Rewrites(op schema.Op) bool {
	a, ok := op.(schema.AlterColumn)
	return ok && a.ChangeNullable
}
