// Package metadefs loads, unloads and exports Glance's metadata
// definitions (the metadef_* tables): `glance-manage db load_metadefs`,
// `db unload_metadefs` and `db export_metadefs`.
//
// The file format, the merge rules and the export layout are upstream's
// (glance/db/sqlalchemy/metadata.py): one JSON object per file describing
// one namespace; json_schema columns hold Python's json.dumps of the
// file's values, byte for byte; rows are looked up with the same
// statements, so each backend's collation decides what "already exists"
// means exactly as it does for upstream.
//
// Where this package deliberately differs from upstream:
//
//   - A load runs in one transaction: all files go in, or none. Every file
//     is read and checked before the database is touched, and a file that
//     cannot be read or is not a valid definition is an error (a
//     *FileError naming the file, line and column) instead of a logged
//     skip.
//   - Conflicting options, a missing path and a directory without *.json
//     files are errors rather than log lines followed by success.
//   - A relative path to a single file is loaded (upstream joins it with
//     itself and silently loads nothing).
//   - Export writes each file atomically, refuses (before writing any file)
//     when two namespaces would be written to the same file name, and
//     names a namespace without display_name after its namespace name
//     (upstream crashes).
package metadefs

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

// LoadOptions are the flags of `db load_metadefs`.
type LoadOptions struct {
	// Merge: for a namespace that already exists, add what the file has
	// and the database lacks (default: skip the namespace).
	Merge bool
	// PreferNew (with Merge): also update existing rows from the file.
	PreferNew bool
	// Overwrite (with Merge): delete the existing namespace and load it
	// again from the file.
	Overwrite bool
	// Now returns the time stamped in created_at and updated_at (UTC);
	// nil means time.Now.
	Now func() time.Time
	// Log receives upstream's log lines.
	Log func(msg string)
	// Fence, when set, is the migration lock the load runs under: the
	// load's transaction confirms it first (see migrate.Fence).
	Fence migrate.Fence
}

// Upstream's messages for conflicting options, word for word.
const (
	MsgNeedMerge = "To use --prefer_new or --overwrite you need to combine of these options with --merge option."
	MsgOneOption = "Please provide no more than one option from this list: --prefer_new, --overwrite"
)

// OptionsError is a conflicting combination of load options; Msg is
// upstream's message.
type OptionsError struct{ Msg string }

func (e *OptionsError) Error() string { return e.Msg }
func (e *OptionsError) Unwrap() error { return ErrOptions }

// Check refuses the combinations upstream refuses, in upstream's order.
func (o LoadOptions) Check() error {
	if !o.Merge && (o.PreferNew || o.Overwrite) {
		return &OptionsError{Msg: MsgNeedMerge}
	}
	if o.PreferNew && o.Overwrite {
		return &OptionsError{Msg: MsgOneOption}
	}
	return nil
}

// LoadResult counts what a load did.
type LoadResult struct {
	Loaded, Skipped, Overwritten int // namespaces
}

// timeFormat is how timestamps are written: SQLAlchemy's SQLite format,
// which MySQL and PostgreSQL read as well.
const timeFormat = "2006-01-02 15:04:05.000000"

// Load writes the namespaces into the database in one transaction, in
// order, following upstream's rules for namespaces that already exist
// (see LoadOptions). On error nothing is kept.
func Load(ctx context.Context, db *sql.DB, d dialect.Dialect, defs []*Namespace, o LoadOptions) (*LoadResult, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, &DBError{Err: err}
	}
	defer tx.Rollback()
	if o.Fence != nil {
		if err := o.Fence.Check(ctx, tx); err != nil {
			return nil, err
		}
	}
	l := &loader{tx: tx, d: d, o: o}
	res := &LoadResult{}
	for _, ns := range defs {
		if err := l.namespace(ctx, ns, res); err != nil {
			return nil, &DBError{File: ns.File, Namespace: ns.Namespace, Err: err}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, &DBError{Err: err}
	}
	o.Log("Metadata loading finished")
	return res, nil
}

type loader struct {
	tx *sql.Tx
	d  dialect.Dialect
	o  LoadOptions
}

// rebind turns ? placeholders into the dialect's.
func rebind(d dialect.Dialect, q string) string {
	if d.Placeholder(1) == "?" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString(d.Placeholder(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (l *loader) exec(ctx context.Context, q string, args ...any) error {
	_, err := l.tx.ExecContext(ctx, rebind(l.d, q), args...)
	return err
}

// id runs a query returning one id, or 0 when there is no row.
func (l *loader) id(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := l.tx.QueryRowContext(ctx, rebind(l.d, q), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

func (l *loader) now() string { return l.o.Now().UTC().Format(timeFormat) }

func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func boolOrNil(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// childTables are a namespace's rows, deleted before the namespace.
var childTables = []string{"metadef_properties", "metadef_objects", "metadef_tags", "metadef_namespace_resource_types"}

func (l *loader) namespace(ctx context.Context, ns *Namespace, res *LoadResult) error {
	const byName = "SELECT id FROM metadef_namespaces WHERE namespace = ?"
	nsID, err := l.id(ctx, byName, ns.Namespace)
	if err != nil {
		return err
	}
	if nsID != 0 && l.o.Overwrite {
		l.o.Log("Overwriting namespace " + ns.Namespace)
		for _, t := range childTables {
			if err := l.exec(ctx, "DELETE FROM "+t+" WHERE namespace_id = ?", nsID); err != nil {
				return err
			}
		}
		if err := l.exec(ctx, "DELETE FROM metadef_namespaces WHERE id = ?", nsID); err != nil {
			return err
		}
		nsID = 0
		res.Overwritten++
	}
	preferNew := l.o.PreferNew
	switch {
	case nsID == 0:
		err := l.exec(ctx, "INSERT INTO metadef_namespaces (namespace, display_name, description, visibility, protected, owner, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			ns.Namespace, str(ns.DisplayName), str(ns.Description), str(ns.Visibility), boolOrNil(ns.Protected), ns.Owner, l.now())
		if err != nil {
			return err
		}
		if nsID, err = l.id(ctx, byName, ns.Namespace); err != nil {
			return err
		}
		if nsID == 0 {
			return fmt.Errorf("namespace %s cannot be found after its insert", ns.Namespace)
		}
	case !l.o.Merge:
		l.o.Log(fmt.Sprintf("Skipping namespace %s. It already exists in the database.", ns.Namespace))
		res.Skipped++
		return nil
	case preferNew:
		err := l.exec(ctx, "UPDATE metadef_namespaces SET namespace = ?, display_name = ?, description = ?, visibility = ?, protected = ?, owner = ?, updated_at = ? WHERE id = ?",
			ns.Namespace, str(ns.DisplayName), str(ns.Description), str(ns.Visibility), boolOrNil(ns.Protected), ns.Owner, l.now(), nsID)
		if err != nil {
			return err
		}
	}
	for _, a := range ns.Associations {
		if err := l.association(ctx, nsID, a); err != nil {
			return err
		}
	}
	for _, p := range ns.Properties {
		id, err := l.id(ctx, "SELECT id FROM metadef_properties WHERE namespace_id = ? AND name = ?", nsID, p.Name)
		switch {
		case err != nil:
			return err
		case id == 0:
			err = l.exec(ctx, "INSERT INTO metadef_properties (name, namespace_id, json_schema, created_at) VALUES (?, ?, ?, ?)", p.Name, nsID, p.Schema, l.now())
		case preferNew:
			err = l.exec(ctx, "UPDATE metadef_properties SET name = ?, namespace_id = ?, json_schema = ?, updated_at = ? WHERE id = ?", p.Name, nsID, p.Schema, l.now(), id)
		}
		if err != nil {
			return fmt.Errorf("property %s: %w", p.Name, err)
		}
	}
	for _, o := range ns.Objects {
		id, err := l.id(ctx, "SELECT id FROM metadef_objects WHERE namespace_id = ? AND name = ?", nsID, o.Name)
		switch {
		case err != nil:
			return err
		case id == 0:
			err = l.exec(ctx, "INSERT INTO metadef_objects (name, description, namespace_id, json_schema, created_at) VALUES (?, ?, ?, ?, ?)", o.Name, str(o.Description), nsID, o.Schema, l.now())
		case preferNew:
			err = l.exec(ctx, "UPDATE metadef_objects SET name = ?, description = ?, namespace_id = ?, json_schema = ?, updated_at = ? WHERE id = ?", o.Name, str(o.Description), nsID, o.Schema, l.now(), id)
		}
		if err != nil {
			return fmt.Errorf("object %s: %w", o.Name, err)
		}
	}
	for _, t := range ns.Tags {
		id, err := l.id(ctx, "SELECT id FROM metadef_tags WHERE namespace_id = ? AND name = ?", nsID, t)
		switch {
		case err != nil:
			return err
		case id == 0:
			err = l.exec(ctx, "INSERT INTO metadef_tags (name, namespace_id, created_at) VALUES (?, ?, ?)", t, nsID, l.now())
		case preferNew:
			err = l.exec(ctx, "UPDATE metadef_tags SET name = ?, namespace_id = ?, updated_at = ? WHERE id = ?", t, nsID, l.now(), id)
		}
		if err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
	}
	res.Loaded++
	l.o.Log(fmt.Sprintf("File %s loaded to database.", ns.File))
	return nil
}

func (l *loader) association(ctx context.Context, nsID int64, a Association) error {
	const byName = "SELECT id FROM metadef_resource_types WHERE name = ?"
	rtID, err := l.id(ctx, byName, a.Name)
	if err != nil {
		return err
	}
	switch {
	case rtID == 0:
		if err := l.exec(ctx, "INSERT INTO metadef_resource_types (name, created_at, protected) VALUES (?, ?, ?)", a.Name, l.now(), true); err != nil {
			return fmt.Errorf("resource type %s: %w", a.Name, err)
		}
		if rtID, err = l.id(ctx, byName, a.Name); err != nil {
			return err
		}
	case l.o.PreferNew:
		if err := l.exec(ctx, "UPDATE metadef_resource_types SET updated_at = ? WHERE id = ?", l.now(), rtID); err != nil {
			return fmt.Errorf("resource type %s: %w", a.Name, err)
		}
	}
	var one int
	err = l.tx.QueryRowContext(ctx, rebind(l.d, "SELECT 1 FROM metadef_namespace_resource_types WHERE namespace_id = ? AND resource_type_id = ?"), nsID, rtID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = l.exec(ctx, "INSERT INTO metadef_namespace_resource_types (namespace_id, resource_type_id, properties_target, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
			nsID, rtID, str(a.PropertiesTarget), str(a.Prefix), l.now())
	case err != nil:
	case l.o.PreferNew:
		err = l.exec(ctx, "UPDATE metadef_namespace_resource_types SET namespace_id = ?, resource_type_id = ?, properties_target = ?, prefix = ?, updated_at = ? WHERE resource_type_id = ? AND namespace_id = ?",
			nsID, rtID, str(a.PropertiesTarget), str(a.Prefix), l.now(), rtID, nsID)
	}
	if err != nil {
		return fmt.Errorf("resource type association %s: %w", a.Name, err)
	}
	return nil
}

// Tables are the metadef tables, in the order unload empties them.
var Tables = []string{"metadef_properties", "metadef_objects", "metadef_tags", "metadef_namespace_resource_types", "metadef_namespaces", "metadef_resource_types"}

// Unload deletes every row of every metadef table (user-created
// namespaces and resource types too, as upstream) in one transaction.
// With a fence (the migration lock it runs under, may be nil), the
// transaction confirms the lock first (see migrate.Fence).
func Unload(ctx context.Context, db *sql.DB, log func(string), fence migrate.Fence) error {
	if log == nil {
		log = func(string) {}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return &DBError{Err: err}
	}
	defer tx.Rollback()
	if fence != nil {
		if err := fence.Check(ctx, tx); err != nil {
			return err
		}
	}
	var done []string
	for _, t := range Tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return &DBError{Err: fmt.Errorf("clearing %s: %w", t, err)}
		}
		done = append(done, t)
	}
	if err := tx.Commit(); err != nil {
		return &DBError{Err: err}
	}
	for _, t := range done {
		log("Table " + t + " has been cleared")
	}
	return nil
}
