package mysql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

var _ dialect.Shadow = Dialect{}

// Names of a table's shadow copy. The triggers keep their names when the
// table is renamed to the old name, and go when it is dropped.
func shadowNames(table string) (shadow, old string, triggers [3]string) {
	p := "_" + table
	return p + "_new", p + "_old", [3]string{p + "_shadow_ai", p + "_shadow_au", p + "_shadow_ad"}
}

func ident(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func idents(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ident(n)
	}
	return strings.Join(out, ", ")
}

// ShadowState implements dialect.Shadow. Shadow copies are done on
// MariaDB only, where they are tested: step 6 relies on its RENAME TABLE
// carrying along the foreign keys that reference a renamed table.
func (d Dialect) ShadowState(ctx context.Context, q dialect.Querier, table string) (*dialect.ShadowState, error) {
	st := &dialect.ShadowState{Table: table}
	var trig [3]string
	st.Shadow, st.Old, trig = shadowNames(table)
	var version string
	if err := q.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, err
	}
	if !strings.Contains(version, "MariaDB") {
		st.Unsupported = "the server is not MariaDB"
	}
	var err error
	if st.ShadowExists, err = d.TableExists(ctx, q, st.Shadow); err != nil {
		return nil, err
	}
	if st.OldExists, err = d.TableExists(ctx, q, st.Old); err != nil {
		return nil, err
	}
	if st.Columns, err = dialect.Strings(ctx, q, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position", table); err != nil {
		return nil, err
	}
	keys, err := dialect.Strings(ctx, q, "SELECT column_name FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY' ORDER BY ordinal_position", table)
	if err != nil {
		return nil, err
	}
	if len(keys) == 1 {
		st.Key = keys[0]
	} else if st.Unsupported == "" {
		st.Unsupported = "the table has no single-column primary key"
	}
	triggers, err := dialect.Strings(ctx, q, "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND event_object_table IN (?, ?)", table, st.Old)
	if err != nil {
		return nil, err
	}
	for _, t := range triggers {
		if slices.Contains(trig[:], t) {
			st.Triggers = true
		} else {
			st.OwnTriggers = append(st.OwnTriggers, t)
		}
	}
	own, err := dialect.Strings(ctx, q, "SELECT constraint_name FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE() AND table_name = ?", table)
	if err != nil {
		return nil, err
	}
	if len(own) > 0 && st.Unsupported == "" {
		st.Unsupported = "the table has foreign keys of its own (" + own[0] + "), which a copy would not carry"
	}
	st.Refs, err = references(ctx, q, table, st.Shadow, st.Old)
	return st, err
}

// ShadowLeft implements dialect.Shadow.
func (Dialect) ShadowLeft(ctx context.Context, q dialect.Querier, table string) (bool, error) {
	shadow, old, trig := shadowNames(table)
	var n int
	err := q.QueryRowContext(ctx, `SELECT
  (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?, ?))
+ (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name IN (?, ?, ?))`,
		shadow, old, trig[0], trig[1], trig[2]).Scan(&n)
	return n > 0, err
}

// references lists the foreign keys that reference table, its shadow or
// its old name.
func references(ctx context.Context, q dialect.Querier, table, shadow, old string) ([]dialect.ForeignKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT rc.constraint_name, rc.table_name, rc.referenced_table_name, rc.delete_rule, rc.update_rule, k.column_name, k.referenced_column_name
FROM information_schema.referential_constraints rc
JOIN information_schema.key_column_usage k
  ON k.constraint_schema = rc.constraint_schema AND k.table_name = rc.table_name AND k.constraint_name = rc.constraint_name
WHERE rc.constraint_schema = DATABASE() AND rc.referenced_table_name IN (?, ?, ?)
ORDER BY rc.table_name, rc.constraint_name, k.ordinal_position`, table, shadow, old)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dialect.ForeignKey
	for rows.Next() {
		var fk dialect.ForeignKey
		var col, ref string
		if err := rows.Scan(&fk.Name, &fk.Table, &fk.RefTable, &fk.OnDelete, &fk.OnUpdate, &col, &ref); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].Name == fk.Name && out[n-1].Table == fk.Table {
			out[n-1].Columns = append(out[n-1].Columns, col)
			out[n-1].RefColumns = append(out[n-1].RefColumns, ref)
			continue
		}
		fk.Columns, fk.RefColumns = []string{col}, []string{ref}
		out = append(out, fk)
	}
	return out, rows.Err()
}

// ShadowCreate implements dialect.Shadow: CREATE TABLE ... LIKE keeps the
// columns, indexes, checks and table options; the change (an AlterColumn
// of the table, or on a Galera cluster a CreateIndex on it) is then made
// on the empty shadow, where it costs nothing.
func (d Dialect) ShadowCreate(st *dialect.ShadowState, change schema.Op) ([]string, error) {
	var op schema.Op
	switch c := change.(type) {
	case schema.AlterColumn:
		if c.Table == st.Table {
			c.Table = st.Shadow
			op = c
		}
	case schema.CreateIndex:
		if c.Index.Table == st.Table {
			c.Index.Table = st.Shadow
			op = c
		}
	}
	if op == nil {
		return nil, fmt.Errorf("mysql: a shadow copy of %s takes a change of one of its columns or a new index on it, not %s", st.Table, change.Describe())
	}
	stmts, err := d.Render(op)
	if err != nil {
		return nil, err
	}
	return append([]string{fmt.Sprintf("CREATE TABLE %s LIKE %s", ident(st.Shadow), ident(st.Table))}, stmts...), nil
}

// upsert writes NEW's row into the shadow, updating the row there when
// the copy or an earlier trigger put it there first (an update in place:
// a REPLACE would delete it, which the foreign keys pointing at the
// shadow in steps 5 and 6 forbid for an image with children).
func upsert(st *dialect.ShadowState) string {
	vals := make([]string, len(st.Columns))
	sets := make([]string, 0, len(st.Columns))
	for i, c := range st.Columns {
		vals[i] = "NEW." + ident(c)
		if c != st.Key {
			sets = append(sets, ident(c)+" = NEW."+ident(c))
		}
	}
	if len(sets) == 0 {
		sets = append(sets, ident(st.Key)+" = NEW."+ident(st.Key))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE %s",
		ident(st.Shadow), idents(st.Columns), strings.Join(vals, ", "), strings.Join(sets, ", "))
}

// ShadowTriggers implements dialect.Shadow: AFTER triggers, so that they
// see the row as the table's own BEFORE triggers (if any) left it.
func (Dialect) ShadowTriggers(st *dialect.ShadowState) []string {
	_, _, trig := shadowNames(st.Table)
	t, s, k := ident(st.Table), ident(st.Shadow), ident(st.Key)
	return []string{
		fmt.Sprintf("CREATE TRIGGER %s AFTER INSERT ON %s FOR EACH ROW %s", ident(trig[0]), t, upsert(st)),
		fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW BEGIN DELETE FROM %s WHERE %s = OLD.%s AND NOT (OLD.%s <=> NEW.%s); %s; END",
			ident(trig[1]), t, s, k, k, k, k, upsert(st)),
		fmt.Sprintf("CREATE TRIGGER %s AFTER DELETE ON %s FOR EACH ROW DELETE FROM %s WHERE %s = OLD.%s", ident(trig[2]), t, s, k, k),
	}
}

// ShadowDiscard implements dialect.Shadow.
func (Dialect) ShadowDiscard(st *dialect.ShadowState) []string {
	_, _, trig := shadowNames(st.Table)
	out := make([]string, 0, len(trig)+1)
	for _, t := range trig {
		out = append(out, "DROP TRIGGER IF EXISTS "+ident(t))
	}
	return append(out, "DROP TABLE IF EXISTS "+ident(st.Shadow))
}

// ShadowNext implements dialect.Shadow: a read of the primary key alone,
// without locks.
func (Dialect) ShadowNext(st *dialect.ShadowState, first bool) string {
	k := ident(st.Key)
	if first {
		return fmt.Sprintf("SELECT %s FROM %s FORCE INDEX (PRIMARY) ORDER BY %s LIMIT 1 OFFSET ?", k, ident(st.Table), k)
	}
	return fmt.Sprintf("SELECT %s FROM %s FORCE INDEX (PRIMARY) WHERE %s > ? ORDER BY %s LIMIT 1 OFFSET ?", k, ident(st.Table), k, k)
}

// ShadowCopy implements dialect.Shadow. The rows are read with shared
// locks (a writer holding one is waited for, so its trigger's row and
// the copied one agree), and a row already in the shadow is left as the
// trigger wrote it.
func (Dialect) ShadowCopy(st *dialect.ShadowState, first, last bool) string {
	k := ident(st.Key)
	var where []string
	if !first {
		where = append(where, k+" > ?")
	}
	if !last {
		where = append(where, k+" <= ?")
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	cols := idents(st.Columns)
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s FORCE INDEX (PRIMARY)%s LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE %s = %s.%s",
		ident(st.Shadow), cols, cols, ident(st.Table), w, k, ident(st.Shadow), k)
}

// ShadowCompare implements dialect.Shadow: the row count and the sum of
// a CRC32 per row over the shared columns, NULLs told apart from values.
func (Dialect) ShadowCompare(st *dialect.ShadowState) [2]string {
	parts := make([]string, 0, 2*len(st.Columns))
	for _, c := range st.Columns {
		parts = append(parts, "ISNULL("+ident(c)+")", ident(c))
	}
	sum := "COALESCE(SUM(CRC32(CONCAT_WS('#', " + strings.Join(parts, ", ") + "))), 0)"
	return [2]string{
		fmt.Sprintf("SELECT COUNT(*), %s FROM %s", sum, ident(st.Table)),
		fmt.Sprintf("SELECT COUNT(*), %s FROM %s", sum, ident(st.Shadow)),
	}
}

func rule(kind, r string) string {
	if r == "" || strings.EqualFold(r, "RESTRICT") {
		return "" // the default; spelling it out would change nothing
	}
	return " ON " + kind + " " + r
}

// ShadowRepoint implements dialect.Shadow. With foreign_key_checks off,
// MariaDB swaps the constraint in place (ALGORITHM=INPLACE, LOCK=NONE)
// without reading the rows; the third statement turns the checks back on
// and the engine runs it even when the ALTER failed.
func (Dialect) ShadowRepoint(fk dialect.ForeignKey, to, name string) []string {
	return []string{
		"SET SESSION foreign_key_checks = 0",
		fmt.Sprintf("ALTER TABLE %s DROP FOREIGN KEY %s, ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)%s%s, ALGORITHM=INPLACE, LOCK=NONE",
			ident(fk.Table), ident(fk.Name), ident(name), idents(fk.Columns), ident(to), idents(fk.RefColumns),
			rule("DELETE", fk.OnDelete), rule("UPDATE", fk.OnUpdate)),
		"SET SESSION foreign_key_checks = 1",
	}
}

// ShadowSwap implements dialect.Shadow: one atomic RENAME (MariaDB
// renames every table of the list or, on an error such as a missing
// table, none). The token, renamed to a temporary name (token + "_") and
// back, makes the swap fail when it is gone.
func (Dialect) ShadowSwap(st *dialect.ShadowState, token string) []string {
	q := fmt.Sprintf("RENAME TABLE %s TO %s, %s TO %s", ident(st.Table), ident(st.Old), ident(st.Shadow), ident(st.Table))
	if token != "" {
		q += fmt.Sprintf(", %s TO %s, %s TO %s", ident(token), ident(token+"_"), ident(token+"_"), ident(token))
	}
	return []string{q}
}

// ShadowDropOld implements dialect.Shadow.
func (Dialect) ShadowDropOld(st *dialect.ShadowState) []string {
	return []string{"DROP TABLE IF EXISTS " + ident(st.Old)}
}
