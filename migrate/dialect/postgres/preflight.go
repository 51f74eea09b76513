package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// The preflight facts of PostgreSQL (see dialect's preflight.go).

var (
	_ dialect.PrivilegeInspector = Dialect{}
	_ dialect.TableInspector     = Dialect{}
	_ dialect.SessionInspector   = Dialect{}
	_ dialect.SlotInspector      = Dialect{}
	_ dialect.LockLimiter        = Dialect{}
)

// Privileges implements dialect.PrivilegeInspector. Creating a table
// needs CREATE on the current schema; altering, indexing or dropping an
// existing table needs its ownership (or membership of its owner role);
// a trigger needs TRIGGER on the table (and CREATE on the schema for its
// function); a foreign key REFERENCES on the table it references. A
// superuser has them all, and a table this run creates is its own.
func (Dialect) Privileges(ctx context.Context, q dialect.Querier, needs []dialect.Need) (*dialect.Privileges, error) {
	var (
		user          string
		super, create bool
	)
	if err := q.QueryRowContext(ctx, "SELECT current_user::text, COALESCE((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false), has_schema_privilege(current_schema(), 'CREATE')").Scan(&user, &super, &create); err != nil {
		return nil, err
	}
	out := &dialect.Privileges{User: user}
	if super {
		return out, nil
	}
	type rights struct{ owner, trigger, references bool }
	tables := map[string]rights{}
	rows, err := q.QueryContext(ctx, `SELECT c.relname::text, pg_has_role(c.relowner, 'USAGE'), has_table_privilege(c.oid, 'TRIGGER'), has_table_privilege(c.oid, 'REFERENCES')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var r rights
		if err := rows.Scan(&name, &r.owner, &r.trigger, &r.references); err != nil {
			return nil, err
		}
		tables[name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range needs {
		r, exists := tables[n.Table]
		ok := true
		switch {
		case n.Table == "" || n.Privilege == dialect.PrivCreate:
			ok = create
		case !exists:
			// Created by this run: its own.
		case n.Privilege == dialect.PrivTrigger:
			ok = r.trigger && create
		case n.Privilege == dialect.PrivReferences:
			ok = r.references
		default: // ALTER, INDEX, DROP
			ok = r.owner
		}
		if !ok {
			out.Missing = append(out.Missing, n)
		}
	}
	return out, nil
}

// TableFacts implements dialect.TableInspector: the database's encoding
// (Glance writes UTF-8) and each table's size with its indexes and TOAST
// (the catalog's estimate); PostgreSQL tables have no engine or
// character set of their own.
func (Dialect) TableFacts(ctx context.Context, q dialect.Querier) (*dialect.Tables, error) {
	out := &dialect.Tables{WantEncoding: "UTF8"}
	if err := q.QueryRowContext(ctx, "SELECT pg_encoding_to_char(encoding)::text FROM pg_catalog.pg_database WHERE datname = current_database()").Scan(&out.Encoding); err != nil {
		return nil, err
	}
	// The sizes from the catalog's page counts (as of the last VACUUM or
	// ANALYZE), with the indexes' and TOAST's: pg_total_relation_size
	// would wait for the lock of a table that a transaction has altered.
	rows, err := q.QueryContext(ctx, `SELECT c.relname::text, current_setting('block_size')::bigint * (c.relpages::bigint
    + COALESCE((SELECT SUM(i.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)
    + COALESCE((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0))
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname::text COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		f := dialect.TableFact{Transactional: true}
		if err := rows.Scan(&f.Name, &f.Size); err != nil {
			return nil, err
		}
		out.List = append(out.List, f)
	}
	return out, rows.Err()
}

// Sessions implements dialect.SessionInspector from pg_stat_activity and
// pg_locks: the client sessions of the current database whose
// transaction has been open for at least minAge, with the tables of the
// current schema they hold locks on. pg_stat_activity hides the state
// and times of other users' sessions from a user without
// pg_read_all_stats (even that it is a client's); such a session is
// listed, with its age unknown, when it holds locks on the current
// schema's tables.
func (Dialect) Sessions(ctx context.Context, q dialect.Querier, minAge time.Duration) (*dialect.Sessions, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.pid, COALESCE(a.usename::text, ''), COALESCE(host(a.client_addr), ''), COALESCE(a.datname::text, ''), a.state,
  EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start)::float8,
  COALESCE((SELECT string_agg(DISTINCT c.relname::text, ',' ORDER BY c.relname::text) FROM pg_catalog.pg_locks l
    JOIN pg_catalog.pg_class c ON c.oid = l.relation JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE l.pid = a.pid AND l.granted AND n.nspname = current_schema() AND c.relkind IN ('r', 'p')), '')
FROM pg_catalog.pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.datname = current_database()
  AND (a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usename IS NOT NULL))
ORDER BY a.xact_start NULLS LAST, a.pid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &dialect.Sessions{End: "SELECT pg_terminate_backend(%d)"}
	hidden := false
	for rows.Next() {
		var (
			s      dialect.OpenSession
			state  sql.NullString
			age    sql.NullFloat64
			tables string
		)
		if err := rows.Scan(&s.ID, &s.User, &s.Host, &s.Database, &state, &age, &tables); err != nil {
			return nil, err
		}
		if tables != "" {
			s.Tables = strings.Split(tables, ",")
			s.HoldsLocks = true
		}
		switch {
		case !state.Valid:
			// Another user's session, its state hidden.
			hidden = true
			if !s.HoldsLocks {
				continue
			}
			s.State = "unknown (insufficient privilege)"
		case !age.Valid || time.Duration(age.Float64*float64(time.Second)) < minAge:
			continue
		default:
			s.State = state.String
			s.TransactionAge = time.Duration(age.Float64 * float64(time.Second))
			s.Idle = strings.HasPrefix(state.String, "idle in transaction")
		}
		out.List = append(out.List, s)
	}
	if hidden {
		out.Partial = "pg_stat_activity hides other users' transactions from a user without pg_read_all_stats"
	}
	return out, rows.Err()
}

// Slots implements dialect.SlotInspector from pg_replication_slots: each
// slot, whether a consumer is attached, and the write-ahead log it keeps
// (from its restart_lsn to the current position; unknown on a standby).
func (Dialect) Slots(ctx context.Context, q dialect.Querier) ([]dialect.Slot, error) {
	var version int
	if err := q.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, err
	}
	status := "''"
	if version >= 130000 {
		status = "COALESCE(wal_status, '')"
	}
	rows, err := q.QueryContext(ctx, `SELECT slot_name::text, slot_type, active, `+status+`,
  CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN -1 ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END
FROM pg_catalog.pg_replication_slots ORDER BY slot_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dialect.Slot
	for rows.Next() {
		var s dialect.Slot
		if err := rows.Scan(&s.Name, &s.Type, &s.Active, &s.WALStatus, &s.Retained); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LockLimits implements dialect.LockLimiter: the shared lock table is
// sized for max_locks_per_transaction × (max_connections +
// autovacuum_max_workers + 1 + max_worker_processes + max_wal_senders +
// max_prepared_transactions) objects; it may grow past that into the
// server's spare shared memory, which other sessions' locks use too.
func (Dialect) LockLimits(ctx context.Context, q dialect.Querier) (*dialect.LockLimits, error) {
	var per, backends int
	err := q.QueryRowContext(ctx, `SELECT current_setting('max_locks_per_transaction')::int,
  current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1
  + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int
  + current_setting('max_prepared_transactions')::int`).Scan(&per, &backends)
	if err != nil {
		return nil, err
	}
	return &dialect.LockLimits{PerTransaction: per, Capacity: per * backends, Setting: "max_locks_per_transaction"}, nil
}

// TransactionLocks implements dialect.LockLimiter: the lock table
// keeps one entry per locked object, whatever the modes a transaction
// takes it in; a transaction locks each table it creates or changes and,
// for a new table, its row type, TOAST table and index, the indexes,
// sequences and constraints it creates (measured on PostgreSQL 15: the
// build of an empty Glance database holds 172 relation, 36 constraint
// and 17 type locks); each object is counted once.
func (Dialect) TransactionLocks(ops []schema.Op) int {
	seen := map[string]bool{}
	add := func(kind, name string) { seen[kind+" "+name] = true }
	for _, op := range ops {
		switch o := op.(type) {
		case schema.CreateTable:
			t := o.Table
			for _, k := range []string{"table", "type", "toast", "toast index"} {
				add(k, t.Name)
			}
			if len(t.PrimaryKey) > 0 {
				add("index", t.Name+"_pkey")
				add("constraint", t.Name+"_pkey")
			}
			for _, u := range t.Uniques {
				add("index", u.Name)
				add("constraint", u.Name)
			}
			for _, ix := range t.Indexes {
				add("index", ix.Name)
			}
			for i, fk := range t.ForeignKeys {
				add("constraint", fmt.Sprintf("%s fk %d %s", t.Name, i, fk.RefTable))
				add("table", fk.RefTable)
			}
			for _, c := range t.Columns {
				if c.Type.Kind == schema.Boolean && c.Type.Check {
					add("constraint", t.Name+" check "+c.Name)
				}
				if c.AutoIncrement && dialect.IsSinglePK(c, t) {
					add("sequence", t.Name+"."+c.Name)
				}
			}
		case schema.CreateEnum:
			add("type", o.Name)
		case schema.DropTable:
			for _, k := range []string{"table", "type", "toast", "toast index"} {
				add(k, o.Name)
			}
		case schema.AddColumn:
			add("table", o.Table)
		case schema.DropColumn:
			add("table", o.Table)
		case schema.AlterColumn:
			add("table", o.Table)
		case schema.CreateIndex:
			add("table", o.Index.Table)
			add("index", o.Index.Name)
		case schema.DropIndex:
			add("table", o.Table)
			add("index", o.Name)
		case schema.CreateTrigger:
			add("table", o.Table)
		case schema.DropTrigger:
			add("table", o.Table)
		case schema.RebuildTable:
			add("table", o.Table.Name)
		}
	}
	return len(seen)
}
