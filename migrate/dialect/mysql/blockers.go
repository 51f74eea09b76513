package mysql

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Who is in an online statement's way (dialect.LockWaits). Every DDL
// statement needs an exclusive metadata lock on its table, at least
// briefly, and waits (lock_wait_timeout) while any open transaction that
// has read or written the table holds a shared one. The server knows who
// holds which metadata lock only where it keeps count of them:
// performance_schema.metadata_locks (MySQL 5.7 and later, and MariaDB
// with performance_schema on and its metadata-lock instrument enabled) or
// MariaDB's METADATA_LOCK_INFO plugin. Elsewhere (MariaDB's default) the
// sessions using this database with an InnoDB transaction open are
// reported instead, longest open first: one of them most likely holds the
// lock (sessions of other databases, which a shared server has many of,
// are left out).

var _ dialect.LockWaits = Dialect{}

// WaitedFor implements dialect.LockWaits.
func (Dialect) WaitedFor(err error) string {
	switch number(err) {
	case errLockWaitTimeout:
		return "a metadata lock"
	case errDeadlock:
		return "a deadlock"
	}
	return "a lock"
}

// Blockers implements dialect.LockWaits.
func (Dialect) Blockers(ctx context.Context, q dialect.Querier, table string) ([]dialect.Session, error) {
	holders, known := mdlHolders(ctx, q, table)
	// Every session with a transaction open, and the lock holders; the
	// holders are kept whether or not they have one (LOCK TABLES, or a
	// statement running in autocommit mode).
	rows, err := q.QueryContext(ctx, `SELECT p.ID, p.USER, p.HOST, COALESCE(p.DB, ''), p.COMMAND, COALESCE(p.STATE, ''),
		COALESCE(LEFT(p.INFO, 200), ''), t.trx_started IS NOT NULL, COALESCE(TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), 0),
		p.DB <=> DATABASE()
		FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
		WHERE p.ID <> CONNECTION_ID() AND p.COMMAND <> 'Daemon'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dialect.Session
	for rows.Next() {
		var s dialect.Session
		var state string
		var age int64
		var here bool
		if err := rows.Scan(&s.ID, &s.User, &s.Host, &s.Database, &s.State, &state, &s.Query, &s.InTx, &age, &here); err != nil {
			return nil, err
		}
		if state != "" {
			s.State += ": " + state
		}
		s.TxAge = time.Duration(age) * time.Second
		s.Holds = holders[s.ID]
		if known && !s.Holds || !known && !(s.InTx && here) {
			continue
		}
		s.End = "KILL " + strconv.FormatInt(s.ID, 10)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TxAge > out[j].TxAge })
	return out, nil
}

// mdlHolders returns the connections holding a metadata lock on table
// (other than this one), and whether the server keeps count of them at
// all.
func mdlHolders(ctx context.Context, q dialect.Querier, table string) (map[int64]bool, bool) {
	queries := []string{
		// MariaDB's plugin, when loaded (an error otherwise).
		`SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO
		 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND THREAD_ID <> CONNECTION_ID()`,
	}
	if psCountsMDL(ctx, q) {
		queries = append(queries, `SELECT t.PROCESSLIST_ID FROM performance_schema.metadata_locks m
		 JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID
		 WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = DATABASE() AND m.OBJECT_NAME = ?
		 AND m.LOCK_STATUS = 'GRANTED' AND t.PROCESSLIST_ID IS NOT NULL AND t.PROCESSLIST_ID <> CONNECTION_ID()`)
	}
	for _, query := range queries {
		ids, err := dialect.Strings(ctx, q, query, table)
		if err != nil {
			continue
		}
		out := map[int64]bool{}
		for _, id := range ids {
			if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil {
				out[n] = true
			}
		}
		return out, true
	}
	return nil, false
}

// psCountsMDL reports whether performance_schema records metadata locks:
// it is on, and so is its metadata-lock instrument (the tables exist,
// empty, when it is off).
func psCountsMDL(ctx context.Context, q dialect.Querier) bool {
	var on string
	if err := q.QueryRowContext(ctx, "SELECT @@performance_schema").Scan(&on); err != nil || on != "1" {
		return false
	}
	var enabled string
	err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT ENABLED FROM performance_schema.setup_instruments WHERE NAME = %s",
		dialect.Quote("wait/lock/metadata/sql/mdl"))).Scan(&enabled)
	return err == nil && strings.EqualFold(enabled, "YES")
}
