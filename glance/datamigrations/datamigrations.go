// Package datamigrations holds Glance's data migrations: the work that
// moves data from the columns an expand revision adds to the columns a
// contract revision keeps. Unlike upstream, which only runs the current
// release's modules, the engine runs every data migration between a
// database's revision and the target, whatever release it comes from.
package datamigrations

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// All returns the data migrations in the order they must run.
func All() []*migrate.DataMigration {
	return []*migrate.DataMigration{communityImages(), backendToStore()}
}

// count runs a COUNT(*) query.
func count(ctx context.Context, q dialect.Querier, query string, args ...any) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// keyRange finds the next batch (a DataMigration.Range): the keys of up
// to limit rows of table matching where with key > cursor, as a
// primary-key range. It returns the range's upper bound (inclusive) and
// how many matching rows it holds (0: none left). The batch's Apply then
// updates the rows of the range (cursor, upper] that still match where,
// in one short transaction: rows services wrote meanwhile are left alone
// or picked up.
//
// index, when not "", names the index of table whose entries are
// (column of where, key): on MySQL/MariaDB the query is told to read it
// (FORCE INDEX), as a range starting at the cursor. Left to itself,
// MariaDB reads "col IS NULL AND id > ?" as a lookup of every NULL entry,
// filtered by id: each batch's search starts at the first NULL entry,
// passing over the entries of rows already migrated that InnoDB has not
// purged yet (measured on 1M images with 100k NULL rows before the
// cursor: 28 ms to find a batch of 2000 rows, against 2 ms as a range).
//
// A database without that index (an operator dropped it) is searched
// without the hint: MySQL refuses a hint naming a missing index, which
// the dialect reports as a refused form (dialect.Online.Refused).
func keyRange(ctx context.Context, q dialect.Querier, d dialect.Dialect, table, index, key, where string, cursor any, limit int) (upper string, n int, err error) {
	search := func(from string) error {
		var hi sql.NullString
		err := q.QueryRowContext(ctx, fmt.Sprintf(
			"SELECT COUNT(*), MAX(k) FROM (SELECT %s AS k FROM %s WHERE %s AND %s > %s ORDER BY %s LIMIT %d) batch",
			key, from, where, key, d.Placeholder(1), key, limit), cursor).Scan(&n, &hi)
		upper = hi.String
		return err
	}
	if from := d.ForceIndex(table, index); index != "" && from != "" {
		err = search(from)
		if err == nil {
			return upper, n, nil
		}
		if on, ok := d.(dialect.Online); !ok || !on.Refused(err) {
			return "", 0, err
		}
	}
	if err := search(table); err != nil {
		return "", 0, err
	}
	return upper, n, nil
}

// notIndexed keeps the planner from reading col through its own index
// where that would defeat the primary-key range: SQLite's and
// PostgreSQL's index on visibility does not keep the rows in id order, so
// walking it sorts every NULL row for each batch (dialect's Unindexed);
// SQLite's planner would also read other columns' indexes (KeyWalk).
// MySQL's secondary indexes end with the primary key, so its index is in
// id order already (and keyRange makes the planner read it as such).
func notIndexed(d dialect.Dialect, col string) string {
	if col == "visibility" {
		return d.Unindexed(col)
	}
	return d.KeyWalk(col)
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
