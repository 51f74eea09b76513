// Package purge removes old soft-deleted rows from a Glance database: the
// `glance-manage db purge` and `db purge_images_table` commands.
//
// Row selection is upstream's (glance/db/sqlalchemy/api.py): a row is old
// enough when its deleted_at is before the cutoff (now, UTC, minus the age
// in days); rows are taken oldest deleted_at first, at most max_rows per
// table (-1: all, 0: none). The tables and their order are upstream's:
//
//	db purge:               task_info (rows whose task is old enough),
//	                        image_properties, image_tags, image_locations,
//	                        image_members, tasks
//	db purge_images_table:  images
//
// Where this package deliberately differs from upstream:
//
//   - A row must also have deleted = true. Upstream ignores the flag, so it
//     purges live rows: Glance revives a soft-deleted property by setting
//     deleted back to false and leaves deleted_at as it was
//     (image_set_property_atomic), and upstream's purge then deletes that
//     live property. For rows that Glance soft-deleted normally (deleted
//     and deleted_at set together) the selection is upstream's.
//   - A row that another row still references is never deleted and never
//     makes the purge fail: images still referenced by image_properties,
//     image_tags, image_locations or image_members, and tasks that still
//     have a task_info row, are kept and counted (TableResult.Kept), and
//     max_rows counts only rows that can go, so a repeated run makes
//     progress. Upstream instead fails the whole table's statement with a
//     foreign-key error ("Purge command failed, check glance-manage logs for
//     more details.", exit 1).
//   - Rows are deleted in bounded batches, each its own short transaction
//     (a single DELETE statement), so purging millions of rows never holds
//     locks for long; upstream runs one DELETE per table. The batch size
//     adapts so that one batch takes about BatchTarget. Batches are ranges
//     of the key (integer keys: ranges of its values; PostgreSQL: ranges of
//     the table's pages), or the oldest rows for a small max_rows.
//     Options.NoYield is for a database no service writes to (Glance
//     stopped): each table's eligible rows go in one DELETE, with no
//     pause for writers; the rows deleted and kept are the same.
//
// On SQLite the purge runs on a connection with foreign keys enforced, as
// upstream's engine does (migrations keep them off).
package purge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Batch sizes: a batch starts at DefaultBatchSize rows (SQLiteBatchSize on
// SQLite) and adapts between MinBatchSize and Options.BatchSize so that
// one DELETE takes about BatchTarget (SQLiteBatchTarget on SQLite, see
// sqlitePause). Batches over a key range may grow to MaxBatchSize (a
// PostgreSQL DELETE is cheap per row); a DELETE that lists its keys never
// lists more than MaxKeyList (SQLite allows 32766 parameters).
const (
	DefaultBatchSize  = 5000
	SQLiteBatchSize   = 1000
	MaxBatchSize      = 100000
	MaxKeyList        = 10000
	MinBatchSize      = 100
	BatchTarget       = 100 * time.Millisecond
	SQLiteBatchTarget = 80 * time.Millisecond
)

// Options control a purge.
type Options struct {
	// AgeInDays: rows deleted at least this many days ago go.
	AgeInDays int
	// MaxRows is the most rows deleted per table; -1 means all, 0 none.
	MaxRows int64
	// BatchSize is the largest batch (rows per DELETE); 0 means
	// MaxBatchSize. FixedBatch disables the adaptation.
	BatchSize  int
	FixedBatch bool
	// Now is the current time (zero: time.Now()).
	Now time.Time
	// Log receives upstream's log lines ("Purging deleted rows older than
	// ...", "Deleted <n> row(s) from table <t>").
	Log func(msg string)
	// Progress, when set, is called after every batch and when a table is
	// done.
	Progress func(Progress)
	// NoYield deletes each table's eligible rows (all of them, or all
	// older than the max_rows-th oldest) in one DELETE, its own
	// transaction, instead of batches, and never pauses for writers: the
	// purge then costs about what one bare DELETE costs, and anything
	// else that writes the table waits for the whole statement (on SQLite,
	// for the whole database). The rows deleted and kept are the same as
	// without it. For a database no service writes to.
	NoYield bool
	// Fence, when set, is the migration lock the purge runs under: each
	// batch confirms it in its own transaction before it deletes (see
	// migrate.Fence), and a purge that lost it stops with an error
	// wrapping migrate.ErrLockLost.
	Fence migrate.Fence
	// Throttle, when set, is asked before every batch (every DELETE)
	// whether it may start, and told of each (see migrate.Throttler):
	// replica lag and load (--max-replica-lag, --max-load). Its error
	// ends the purge; the rows deleted so far stay deleted.
	Throttle migrate.Throttler
}

// Progress reports a table's purge as it goes.
type Progress struct {
	Table    string
	Deleted  int64 // rows deleted so far from Table
	Total    int64 // rows to delete, or -1 when unknown (max_rows -1)
	Elapsed  time.Duration
	Finished bool
	// Batches run so far on Table, and the longest (as long as any of
	// its locks were held).
	Batches int
	Longest time.Duration
}

// TableResult is what a purge did to one table.
type TableResult struct {
	Table   string
	Deleted int64
	Batches int
	// Longest is the longest time one batch's DELETE took (the longest
	// any of its locks were held).
	Longest time.Duration
	// Kept counts rows old enough to go that were kept because other rows
	// still reference them; KeptBy says, per referencing table, how many
	// of them it references.
	Kept   int64
	KeptBy map[string]int64
	// Walk says how the rows were found (one of the Walk constants; ""
	// when max_rows was 0).
	Walk string
}

// How a table's rows were walked (TableResult.Walk).
const (
	WalkOldest    = "oldest"     // one SELECT of the oldest rows, one DELETE (small max_rows)
	WalkKeys      = "keys"       // ranges of the key, found by reading it (string keys)
	WalkKeyRanges = "key ranges" // ranges of an integer key's values
	WalkPages     = "pages"      // ranges of the table's pages (PostgreSQL)
	WalkAtOnce    = "at once"    // one DELETE of every eligible row (Options.NoYield)
)

// Result is what a purge did.
type Result struct {
	Cutoff time.Time // rows deleted before this (UTC) were eligible
	Tables []TableResult
}

// ReferenceError reports a DELETE the database refused because of a
// foreign key: another session added a referencing row between our check
// and the delete. The rows deleted before stay deleted.
type ReferenceError struct {
	Table string
	Err   error
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("DBError detected when purging from %s: %v", e.Table, e.Err)
}
func (e *ReferenceError) Unwrap() error { return e.Err }

// ref is a foreign key pointing at a table's key.
type ref struct{ table, column string }

// table describes how one table is purged.
type table struct {
	name   string
	key    string // primary key column
	strKey bool   // the key is a string (else an integer)
	// join, for task_info: its age is its task's. The SELECTs use alias t
	// for the table and k for the joined tasks row.
	join bool
	refs []ref // rows that block deleting a row of this table
}

var (
	taskInfo = table{name: "task_info", key: "task_id", strKey: true, join: true}
	children = []table{
		{name: "image_properties", key: "id"},
		{name: "image_tags", key: "id"},
		{name: "image_locations", key: "id"},
		{name: "image_members", key: "id"},
	}
	tasks  = table{name: "tasks", key: "id", strKey: true, refs: []ref{{"task_info", "task_id"}}}
	images = table{name: "images", key: "id", strKey: true, refs: []ref{
		{"image_properties", "image_id"}, {"image_tags", "image_id"},
		{"image_locations", "image_id"}, {"image_members", "image_id"},
	}}
)

// Tables lists the tables `db purge` touches, in order.
func Tables() []string {
	out := []string{taskInfo.name}
	for _, c := range children {
		out = append(out, c.name)
	}
	return append(out, tasks.name)
}

// Rows is `db purge`: it purges task_info, image_properties, image_tags,
// image_locations, image_members and tasks, in that order. images is left
// to Images.
func Rows(ctx context.Context, db *sql.DB, d dialect.Dialect, o Options) (*Result, error) {
	list := append([]table{taskInfo}, children...)
	return run(ctx, db, d, o, append(list, tasks))
}

// Images is `db purge_images_table`: it purges images.
func Images(ctx context.Context, db *sql.DB, d dialect.Dialect, o Options) (*Result, error) {
	return run(ctx, db, d, o, []table{images})
}

// timeFormat is how cutoffs are passed: the text SQLAlchemy stores in
// SQLite, which MySQL and PostgreSQL read as a timestamp.
const timeFormat = "2006-01-02 15:04:05.000000"

// Cutoff is the time before which rows were deleted long enough ago.
func Cutoff(now time.Time, ageInDays int) time.Time {
	return now.UTC().AddDate(0, 0, -ageInDays)
}

type purger struct {
	d      dialect.Dialect
	q      dialect.Querier
	conn   *sql.Conn // q
	o      Options
	cutoff string
	batch  int
	target time.Duration // how long one batch should take
	// single is the dialect when its database takes one writer at a
	// time (SQLite): batches take the write lock first and pause after.
	single dialect.SingleWriter
}

func run(ctx context.Context, db *sql.DB, d dialect.Dialect, o Options, list []table) (res *Result, err error) {
	if o.MaxRows > MaxRowsLimit {
		return nil, &ArgError{Msg: MsgMaxRowsRange}
	}
	if o.MaxRows < -1 {
		return nil, &ArgError{Msg: MsgMinimalRows}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = MaxBatchSize
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cut := Cutoff(o.Now, o.AgeInDays)
	p := &purger{d: d, q: conn, conn: conn, o: o, cutoff: cut.Format(timeFormat), batch: min(DefaultBatchSize, o.BatchSize), target: BatchTarget}
	if sw, ok := d.(dialect.SingleWriter); ok {
		p.single = sw
		restore, err := sw.WriterSession(ctx, conn, sqliteCacheKiB)
		if err != nil {
			return nil, err
		}
		defer func() {
			if rerr := restore(); rerr != nil && err == nil {
				err = rerr
			}
		}()
		p.batch, p.target = min(SQLiteBatchSize, o.BatchSize), SQLiteBatchTarget
	}
	if o.FixedBatch {
		p.batch = o.BatchSize
	}
	if o.NoYield {
		// Only ties at max_rows' boundary still go by lists of keys.
		p.batch = MaxKeyList
	}
	res = &Result{Cutoff: cut}
	for _, t := range list {
		o.Log(fmt.Sprintf("Purging deleted rows older than %d day(s) from table %s", o.AgeInDays, t.name))
		tr, err := p.table(ctx, t)
		if tr != nil {
			res.Tables = append(res.Tables, *tr)
		}
		if err != nil {
			return res, err
		}
		o.Log(fmt.Sprintf("Deleted %d row(s) from table %s", tr.Deleted, t.name))
	}
	return res, nil
}

// sqliteCacheKiB is the page cache of the purge's connection on SQLite
// (SQLite's default is 2 MiB): a batch whose rows are scattered over the
// indexes touches many pages, and with the default cache it writes some of
// them out (and syncs the journal) before its commit and reads them back.
const sqliteCacheKiB = 64 * 1024

// args collects the arguments of one statement and renders their
// placeholders.
type args struct {
	d    dialect.Dialect
	list []any
}

func (a *args) add(v any) string {
	a.list = append(a.list, v)
	return a.d.Placeholder(len(a.list))
}

// sel builds the parts of a SELECT over t's eligible rows: the FROM clause,
// the WHERE condition (adding the cutoff to a), and the age and key
// expressions.
func (p *purger) sel(t table, a *args) (from, where, age, key string) {
	if t.join {
		from = fmt.Sprintf("%s t JOIN tasks k ON k.id = t.%s", t.name, t.key)
		where = fmt.Sprintf("k.deleted_at < %s AND k.deleted = TRUE", a.add(p.cutoff))
		return from, where, "k.deleted_at", "t." + t.key
	}
	from = t.name + " t"
	where = fmt.Sprintf("t.deleted_at < %s AND t.deleted = TRUE", a.add(p.cutoff))
	for _, r := range t.refs {
		where += fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s c WHERE c.%s = t.%s)", r.table, r.column, t.key)
	}
	return from, where, "t.deleted_at", "t." + t.key
}

// textCast renders expr as text in the database's own format, so that it
// can be passed back as an argument and compare equal.
func (p *purger) textCast(expr string) string {
	return p.d.CastText(expr)
}

func (p *purger) table(ctx context.Context, t table) (*TableResult, error) {
	tr := &TableResult{Table: t.name}
	start := time.Now()
	total := int64(-1)
	report := func(done bool) {
		if p.o.Progress != nil {
			p.o.Progress(Progress{Table: t.name, Deleted: tr.Deleted, Total: total, Elapsed: time.Since(start), Finished: done, Batches: tr.Batches, Longest: tr.Longest})
		}
	}
	var err error
	switch n := p.o.MaxRows; {
	case n == 0:
	case n == -1:
		err = p.byKey(ctx, t, tr, "", report)
	case n <= int64(min(p.o.BatchSize, MaxKeyList)):
		// Small limits (the default is 100): upstream's own shape, one
		// SELECT of the oldest rows and one DELETE.
		total = n
		tr.Walk = WalkOldest
		err = p.oldest(ctx, t, tr, n, report)
	default:
		// Large limits: find the deleted_at of the n-th oldest row, delete
		// everything older by key ranges, then enough rows of exactly
		// that age (upstream breaks such ties arbitrarily too).
		total = n
		var limit sql.NullString
		if limit, err = p.nth(ctx, t, n); err != nil {
			break
		}
		if !limit.Valid {
			// Fewer than n rows are eligible: all of them go.
			err = p.byKey(ctx, t, tr, "", report)
			break
		}
		if err = p.byKey(ctx, t, tr, limit.String, report); err == nil {
			err = p.ties(ctx, t, tr, limit.String, n-tr.Deleted, report)
		}
	}
	if err == nil && len(t.refs) > 0 {
		err = p.kept(ctx, t, tr)
	}
	report(true)
	return tr, err
}

// byKey deletes every eligible row (older than before too, unless it is
// ""), walking the primary key in ranges of about one batch: it finds the
// key that ends the next batch, then deletes the eligible rows up to it
// with one range DELETE (no list of keys travels, so each batch costs
// the database about what a bare DELETE of those rows costs). Tables
// with an integer key need no search for the range's end (byKeySpace).
func (p *purger) byKey(ctx context.Context, t table, tr *TableResult, before string, report func(bool)) error {
	if p.o.NoYield {
		tr.Walk = WalkAtOnce
		if err := p.exec(ctx, t, tr, nil, before, &args{d: p.d}); err != nil {
			return err
		}
		report(false)
		return nil
	}
	if !t.strKey && !t.join {
		if pg, ok := p.d.(dialect.Pages); ok && !p.o.FixedBatch {
			if done, err := p.byPages(ctx, pg, t, tr, before, report); done || err != nil {
				return err
			}
		}
		tr.Walk = WalkKeyRanges
		return p.byKeySpace(ctx, t, tr, before, report)
	}
	tr.Walk = WalkKeys
	var last any
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		a := &args{d: p.d}
		from, where, age, key := p.sel(t, a)
		if before != "" {
			where += fmt.Sprintf(" AND %s < %s", age, a.add(before))
		}
		if last != nil {
			where += fmt.Sprintf(" AND %s > %s", key, a.add(last))
		}
		if !t.join {
			// Walk the primary key: keep a planner (SQLite's) from
			// scanning the deleted or deleted_at index instead and
			// sorting (once per batch: quadratic on a large table).
			where = strings.Replace(where, "t.deleted_at <", p.d.KeyWalk("t.deleted_at")+" <", 1)
			where = strings.Replace(where, "t.deleted = TRUE", p.d.KeyWalk("t.deleted")+" = TRUE", 1)
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT 1 OFFSET %d", key, from, where, key, p.batch-1)
		ids, err := p.ids(ctx, t, q, a.list...)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			// Fewer than a batch left: delete up to the last of them,
			// so that no open-ended range DELETE scans (and on MySQL
			// locks) the rest of the table.
			q = fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s DESC LIMIT 1", key, from, where, key)
			if ids, err = p.ids(ctx, t, q, a.list...); err != nil || len(ids) == 0 {
				return err
			}
			if err := p.deleteRange(ctx, t, tr, last, ids[0], before); err != nil {
				return err
			}
			report(false)
			return nil
		}
		if err := p.deleteRange(ctx, t, tr, last, ids[0], before); err != nil {
			return err
		}
		report(false)
		last = ids[0]
	}
}

// byKeySpace is byKey for a table with an integer key: each batch is the
// next p.batch key values, from the table's first key to its last (both
// read from the primary key's ends), and the range DELETE itself picks
// the eligible rows, so the rows are passed over once, as by a bare
// DELETE. Gaps in the keys make some batches smaller (the batch size
// adapts to the time they take either way); after a batch that deleted
// nothing the walk goes on from the next key present, so a jump in the
// keys costs one index probe, not a DELETE per batch of missing keys.
func (p *purger) byKeySpace(ctx context.Context, t table, tr *TableResult, before string, report func(bool)) error {
	var lo, hi sql.NullInt64
	if err := p.q.QueryRowContext(ctx, keyEnds(t)).Scan(&lo, &hi); err != nil || !lo.Valid {
		return err
	}
	next := fmt.Sprintf("SELECT MIN(%s) FROM %s WHERE %s > %s", t.key, t.name, t.key, p.d.Placeholder(1))
	for last := lo.Int64 - 1; last < hi.Int64; {
		if err := ctx.Err(); err != nil {
			return err
		}
		upper := min(last+int64(p.batch), hi.Int64)
		deleted := tr.Deleted
		if err := p.deleteRange(ctx, t, tr, last, upper, before); err != nil {
			return err
		}
		report(false)
		last = upper
		if tr.Deleted == deleted && last < hi.Int64 {
			var k sql.NullInt64
			if err := p.q.QueryRowContext(ctx, next, last).Scan(&k); err != nil {
				return err
			}
			if !k.Valid {
				return nil
			}
			last = max(last, k.Int64-1)
		}
	}
	return nil
}

// byPages is byKey for a table with an integer key on PostgreSQL: each
// batch is a range of the table's pages (a TID range scan, ctid >= '(a,0)'
// AND ctid < '(b,0)'), about p.batch rows' worth by the table's statistics,
// from the first page to the last one at the start, and the DELETE itself
// picks the eligible rows. The pages are read in order, once, as a bare
// DELETE's sequential scan reads them; walking the key instead fetches
// each row through the index, which costs PostgreSQL (whose DELETE only
// marks rows) up to half as much again. Rows written after the start go
// to later pages or to these pages' free space; either way they are new
// rows, which are not old enough to purge (a row only moves when it is
// updated: a purge that meets an old soft-deleted row being updated
// leaves it to the next run).
//
// A batch is a whole number of pages, sized by the statistics' rows per
// page; without statistics (a table never analyzed, which autovacuum does
// to any table that grows) byPages does nothing and returns false, and the
// key is walked instead. So is it with Options.FixedBatch, whose sizes are
// rows.
func (p *purger) byPages(ctx context.Context, pg dialect.Pages, t table, tr *TableResult, before string, report func(bool)) (bool, error) {
	pages, tuples, statPages, err := pg.PageStats(ctx, p.q, t.name)
	if err != nil {
		return false, err
	}
	if tuples <= 0 || statPages <= 0 {
		return false, nil
	}
	tr.Walk = WalkPages
	perPage := max(1, tuples/statPages)
	for lo := int64(0); lo < int64(pages); {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		hi := min(lo+max(1, int64(float64(p.batch)/perPage)), int64(pages))
		cond := pg.PageRange(lo, hi)
		if hi == int64(pages) {
			cond = pg.PageRange(lo, -1)
		}
		if err := p.exec(ctx, t, tr, []string{cond}, before, &args{d: p.d}); err != nil {
			return true, err
		}
		report(false)
		lo = hi
	}
	return true, nil
}

// keyEnds is the query of t's first and last key. Two subqueries: SQLite
// reads one end of the key's index for a lone MIN or MAX, but scans the
// whole table for both in one SELECT, and meanwhile holds its read lock,
// which keeps writers from committing (a quarter of a second at 1M rows).
func keyEnds(t table) string {
	return fmt.Sprintf("SELECT (SELECT MIN(%[1]s) FROM %[2]s), (SELECT MAX(%[1]s) FROM %[2]s)", t.key, t.name)
}

// deleteRange deletes the eligible rows whose key is after from (nil: the
// first) up to and including to, deleted before before too unless it is
// "", in one statement.
func (p *purger) deleteRange(ctx context.Context, t table, tr *TableResult, from, to any, before string) error {
	a := &args{d: p.d}
	var conds []string
	if from != nil {
		conds = append(conds, fmt.Sprintf("%s > %s", t.key, a.add(from)))
	}
	conds = append(conds, fmt.Sprintf("%s <= %s", t.key, a.add(to)))
	return p.exec(ctx, t, tr, conds, before, a)
}

// oldest deletes the n oldest eligible rows with one SELECT and one DELETE.
func (p *purger) oldest(ctx context.Context, t table, tr *TableResult, n int64, report func(bool)) error {
	a := &args{d: p.d}
	from, where, age, key := p.sel(t, a)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d", key, from, where, age, n)
	ids, err := p.ids(ctx, t, q, a.list...)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := p.delete(ctx, t, tr, ids); err != nil {
		return err
	}
	report(false)
	return nil
}

// nth returns the age of the n-th oldest eligible row, or NULL when there
// are fewer than n.
func (p *purger) nth(ctx context.Context, t table, n int64) (sql.NullString, error) {
	a := &args{d: p.d}
	from, where, age, _ := p.sel(t, a)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT 1 OFFSET %d", p.textCast(age), from, where, age, n-1)
	var s sql.NullString
	err := p.q.QueryRowContext(ctx, q, a.list...).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return sql.NullString{}, nil
	}
	return s, err
}

// ties deletes up to n eligible rows whose age equals at.
func (p *purger) ties(ctx context.Context, t table, tr *TableResult, at string, n int64, report func(bool)) error {
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		a := &args{d: p.d}
		from, where, age, key := p.sel(t, a)
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s = %s ORDER BY %s LIMIT %d",
			key, from, where, age, a.add(at), key, min(n, int64(p.batch), MaxKeyList))
		ids, err := p.ids(ctx, t, q, a.list...)
		if err != nil || len(ids) == 0 {
			return err
		}
		before := tr.Deleted
		if err := p.delete(ctx, t, tr, ids); err != nil {
			return err
		}
		report(false)
		if tr.Deleted == before {
			return nil // they all changed under us
		}
		n -= tr.Deleted - before
	}
	return nil
}

func (p *purger) ids(ctx context.Context, t table, q string, args ...any) ([]any, error) {
	rows, err := p.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		if t.strKey {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		} else {
			var i int64
			if err := rows.Scan(&i); err != nil {
				return nil, err
			}
			out = append(out, i)
		}
	}
	return out, rows.Err()
}

// delete deletes the rows with these keys in one statement (its own
// transaction), checking again that each is still eligible and
// unreferenced.
func (p *purger) delete(ctx context.Context, t table, tr *TableResult, ids []any) error {
	a := &args{d: p.d}
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = a.add(id)
	}
	return p.exec(ctx, t, tr, []string{fmt.Sprintf("%s IN (%s)", t.key, strings.Join(ph, ", "))}, "", a)
}

// exec runs one DELETE of t's rows matching conds that are still eligible
// (and deleted before before, unless it is "") and unreferenced, counts
// them, and adapts the batch size to how long it took.
func (p *purger) exec(ctx context.Context, t table, tr *TableResult, conds []string, before string, a *args) error {
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE ", t.name)
	for _, c := range conds {
		b.WriteString(c + " AND ")
	}
	ph := a.add(p.cutoff)
	if t.join {
		fmt.Fprintf(&b, "EXISTS (SELECT 1 FROM tasks k WHERE k.id = %s.%s AND k.deleted_at < %s AND k.deleted = TRUE", t.name, t.key, ph)
		if before != "" {
			fmt.Fprintf(&b, " AND k.deleted_at < %s", a.add(before))
		}
		b.WriteString(")")
	} else {
		// Keep the planner on the key (see byKey).
		fmt.Fprintf(&b, "%s < %s AND %s = TRUE", p.d.KeyWalk("deleted_at"), ph, p.d.KeyWalk("deleted"))
		if before != "" {
			fmt.Fprintf(&b, " AND %s < %s", p.d.KeyWalk("deleted_at"), a.add(before))
		}
		for _, r := range t.refs {
			fmt.Fprintf(&b, " AND NOT EXISTS (SELECT 1 FROM %s c WHERE c.%s = %s.%s)", r.table, r.column, t.name, t.key)
		}
	}
	if p.o.Throttle != nil {
		if err := p.o.Throttle.Wait(ctx); err != nil {
			return err
		}
	}
	res, took, err := p.execBatch(ctx, b.String(), a.list...)
	if p.o.Throttle != nil {
		var n int64
		if err == nil {
			n, _ = res.RowsAffected()
		}
		p.o.Throttle.Done(migrate.Batch{Work: t.name, Rows: n, Took: took, Err: err})
	}
	if err != nil {
		if p.isForeignKeyError(err) {
			return &ReferenceError{Table: t.name, Err: err}
		}
		return fmt.Errorf("purging %s: %w", t.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	tr.Deleted += n
	tr.Batches++
	tr.Longest = max(tr.Longest, took)
	p.adapt(took)
	if p.single != nil && !p.o.NoYield {
		// SQLite has no queue of waiting writers: a writer waiting
		// for the database lock polls it and would rarely catch the
		// moment between two batches. Pausing after each batch lets it
		// in (see sqlitePause).
		select {
		case <-ctx.Done():
		case <-time.After(sqlitePause(took)):
		}
	}
	return nil
}

// sqlitePause is how long to pause after a batch that took took on
// SQLite. SQLite's default busy handler, which Glance's writers wait in,
// tries again after 1, 2, 5, 10, 15, 20, 25, 25 and 25 ms, then after 50,
// 50 and every 100 ms: from 53 to 128 ms into its wait a writer tries
// every 25 ms (a little more: each try and each wake-up take time). With
// batches of about SQLiteBatchTarget (under 128 ms, the end of that
// window) and pauses of 35 ms (25 and the drift), one of those tries falls
// in a pause, so a writer that starts waiting during a batch gets in
// within about 130 ms. A batch that ran longer may have pushed the writer
// into its 100 ms sleeps, which a short pause would mostly miss: after
// such a batch the pause is 100 ms.
func sqlitePause(took time.Duration) time.Duration {
	if took > sqliteWindow {
		return 100 * time.Millisecond
	}
	return 35 * time.Millisecond
}

// sqliteWindow is when the busy handler's 25 ms retries end.
const sqliteWindow = 125 * time.Millisecond

// execBatch runs one batch's DELETE as its own transaction and returns
// how long the transaction held its locks. On SQLite the write lock is
// taken first (BEGIN IMMEDIATE), through the busy handler, and the time
// counts from when it is held: a wait for another writer is not the
// batch's cost, and counting it would shrink the batches on a busy
// database until per-commit overhead dominates.
func (p *purger) execBatch(ctx context.Context, query string, args ...any) (sql.Result, time.Duration, error) {
	if p.single == nil {
		began := time.Now()
		if p.o.Fence == nil {
			res, err := p.q.ExecContext(ctx, query, args...)
			return res, time.Since(began), err
		}
		// The DELETE and the confirmation of the lock in one
		// transaction: a break waits for the batch, or stops it.
		tx, err := p.conn.BeginTx(ctx, nil)
		if err != nil {
			return nil, 0, err
		}
		defer tx.Rollback() //nolint:errcheck // no-op after commit
		if err := p.o.Fence.Check(ctx, tx); err != nil {
			return nil, time.Since(began), err
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err == nil {
			err = tx.Commit()
		}
		return res, time.Since(began), err
	}
	if _, err := p.q.ExecContext(ctx, p.single.BeginWrite()); err != nil {
		return nil, 0, err
	}
	began := time.Now()
	var res sql.Result
	err := p.fence(ctx)
	if err == nil {
		res, err = p.q.ExecContext(ctx, query, args...)
	}
	if err == nil {
		_, err = p.q.ExecContext(ctx, "COMMIT")
	}
	took := time.Since(began)
	if err != nil {
		// context.Background: roll back even when ctx was cancelled.
		_, _ = p.q.ExecContext(context.Background(), "ROLLBACK")
		return nil, took, err
	}
	return res, took, nil
}

// fence confirms the migration lock on the purge's connection, inside
// the batch's transaction (Options.Fence).
func (p *purger) fence(ctx context.Context) error {
	if p.o.Fence == nil {
		return nil
	}
	return p.o.Fence.Check(ctx, p.q)
}

// adapt scales the batch by how far the last DELETE was from the target
// time (by at most a factor of two either way, within MinBatchSize and
// Options.BatchSize), leaving it alone within 20% of the target.
func (p *purger) adapt(took time.Duration) {
	if p.o.FixedBatch || p.o.NoYield {
		return
	}
	if took > p.target*6/5 || took < p.target*4/5 {
		scale := min(2, max(0.5, float64(p.target)/float64(max(took, time.Microsecond))))
		p.batch = min(p.o.BatchSize, max(MinBatchSize, int(float64(p.batch)*scale)))
	}
}

// kept counts the rows old enough to go that references keep, per
// referencing table.
func (p *purger) kept(ctx context.Context, t table, tr *TableResult) error {
	var cols []string
	for _, r := range t.refs {
		cols = append(cols, fmt.Sprintf("COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM %s c WHERE c.%s = t.%s) THEN 1 ELSE 0 END), 0)", r.table, r.column, t.key))
	}
	var refd []string
	for _, r := range t.refs {
		refd = append(refd, fmt.Sprintf("EXISTS (SELECT 1 FROM %s c WHERE c.%s = t.%s)", r.table, r.column, t.key))
	}
	q := fmt.Sprintf("SELECT COUNT(*), %s FROM %s t WHERE t.deleted_at < %s AND t.deleted = TRUE AND (%s)",
		strings.Join(cols, ", "), t.name, p.d.Placeholder(1), strings.Join(refd, " OR "))
	counts := make([]int64, len(t.refs)+1)
	dest := make([]any, len(counts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := p.q.QueryRowContext(ctx, q, p.cutoff).Scan(dest...); err != nil {
		return fmt.Errorf("counting %s rows kept by references: %w", t.name, err)
	}
	tr.Kept = counts[0]
	if tr.Kept > 0 {
		tr.KeptBy = map[string]int64{}
		for i, r := range t.refs {
			if counts[i+1] > 0 {
				tr.KeptBy[r.table] = counts[i+1]
			}
		}
	}
	return nil
}

// isForeignKeyError recognises a foreign-key violation by the server's
// error number (dialect.ForeignKeys).
func (p *purger) isForeignKeyError(err error) bool {
	fk, ok := p.d.(dialect.ForeignKeys)
	return ok && fk.ForeignKeyViolation(err)
}
