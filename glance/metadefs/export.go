package metadefs

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// ExportOptions control `db export_metadefs`.
type ExportOptions struct {
	// Path is upstream's: the file name of namespace N is Path + FileName(N)
	// + ".json", by plain concatenation, so a Path without a trailing
	// slash is a file-name prefix.
	Path string
	// Log receives upstream's log lines.
	Log func(msg string)
}

// ExportedFile is one file written by Export.
type ExportedFile struct {
	Namespace string
	Path      string
}

// FileName is the base name (without ".json") a namespace is exported
// to: its display name without any run of non-word characters or
// underscores (Python's re.sub(r'[\W_]+', ”, name) in Unicode mode). A
// namespace without a display name, or whose display name has no word
// character, uses its namespace name instead (upstream crashes or
// writes ".json").
func FileName(namespace string, displayName *string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsNumber(r) {
				return r
			}
			return -1
		}, s)
	}
	if displayName != nil {
		if s := clean(*displayName); s != "" {
			return s
		}
	}
	return clean(namespace)
}

// Build reads every namespace from the database and renders each as
// upstream's export does: one line of JSON (Python's json.dumps) with the
// keys namespace, display_name, description, visibility, protected,
// resource_type_associations, properties, objects and tags, in that
// order. Namespaces come in id order; their rows in id order
// (associations: resource type id order).
func Build(ctx context.Context, db *sql.DB, d dialect.Dialect) ([]ExportNamespace, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: dialect.ReadOnlyTransactions(d)})
	if err != nil {
		return nil, &DBError{Err: err}
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT id, namespace, display_name, description, visibility, protected FROM metadef_namespaces ORDER BY id")
	if err != nil {
		return nil, &DBError{Err: err}
	}
	type nsRow struct {
		id                         int64
		namespace                  string
		display, descr, visibility sql.NullString
		protected                  sql.NullBool
	}
	var list []nsRow
	for rows.Next() {
		var r nsRow
		if err := rows.Scan(&r.id, &r.namespace, &r.display, &r.descr, &r.visibility, &r.protected); err != nil {
			rows.Close()
			return nil, &DBError{Err: err}
		}
		list = append(list, r)
	}
	if err := rows.Close(); err != nil {
		return nil, &DBError{Err: err}
	}
	var out []ExportNamespace
	for _, r := range list {
		v := &Value{Kind: JSONObject}
		add := func(k string, x *Value) { v.Members = append(v.Members, Member{Key: k, Value: x}) }
		add("namespace", stringValue(r.namespace))
		add("display_name", nullString(r.display))
		add("description", nullString(r.descr))
		add("visibility", nullString(r.visibility))
		if r.protected.Valid {
			add("protected", &Value{Kind: JSONBool, Bool: r.protected.Bool})
		} else {
			add("protected", &Value{Kind: JSONNull})
		}
		assoc, err := query(ctx, tx, d, "SELECT rt.name, a.prefix, a.properties_target FROM metadef_namespace_resource_types a JOIN metadef_resource_types rt ON rt.id = a.resource_type_id WHERE a.namespace_id = ? ORDER BY a.resource_type_id", r.id,
			func(s scanner) (*Value, error) {
				var name string
				var prefix, target sql.NullString
				if err := s.Scan(&name, &prefix, &target); err != nil {
					return nil, err
				}
				return &Value{Kind: JSONObject, Members: []Member{{"name", stringValue(name)}, {"prefix", nullString(prefix)}, {"properties_target", nullString(target)}}}, nil
			})
		if err != nil {
			return nil, &DBError{Namespace: r.namespace, Err: err}
		}
		add("resource_type_associations", &Value{Kind: JSONArray, Elems: assoc})
		props := &Value{Kind: JSONObject}
		_, err = query(ctx, tx, d, "SELECT name, json_schema FROM metadef_properties WHERE namespace_id = ? ORDER BY id", r.id,
			func(s scanner) (*Value, error) {
				var name, schema string
				if err := s.Scan(&name, &schema); err != nil {
					return nil, err
				}
				sv, err := Parse([]byte(schema))
				if err != nil {
					return nil, fmt.Errorf("property %s: json_schema is not valid JSON: %w", name, err)
				}
				props.Members = append(props.Members, Member{Key: name, Value: sv})
				return nil, nil
			})
		if err != nil {
			return nil, &DBError{Namespace: r.namespace, Err: err}
		}
		add("properties", props)
		objs, err := query(ctx, tx, d, "SELECT name, description, json_schema FROM metadef_objects WHERE namespace_id = ? ORDER BY id", r.id,
			func(s scanner) (*Value, error) {
				var name, schema string
				var descr sql.NullString
				if err := s.Scan(&name, &descr, &schema); err != nil {
					return nil, err
				}
				sv, err := Parse([]byte(schema))
				if err != nil {
					return nil, fmt.Errorf("object %s: json_schema is not valid JSON: %w", name, err)
				}
				return &Value{Kind: JSONObject, Members: []Member{{"name", stringValue(name)}, {"description", nullString(descr)}, {"properties", sv}}}, nil
			})
		if err != nil {
			return nil, &DBError{Namespace: r.namespace, Err: err}
		}
		add("objects", &Value{Kind: JSONArray, Elems: objs})
		tags, err := query(ctx, tx, d, "SELECT name FROM metadef_tags WHERE namespace_id = ? ORDER BY id", r.id,
			func(s scanner) (*Value, error) {
				var name string
				if err := s.Scan(&name); err != nil {
					return nil, err
				}
				return &Value{Kind: JSONObject, Members: []Member{{"name", stringValue(name)}}}, nil
			})
		if err != nil {
			return nil, &DBError{Namespace: r.namespace, Err: err}
		}
		add("tags", &Value{Kind: JSONArray, Elems: tags})
		var display *string
		if r.display.Valid {
			display = &r.display.String
		}
		out = append(out, ExportNamespace{Namespace: r.namespace, FileName: FileName(r.namespace, display), JSON: Dump(v)})
	}
	return out, nil
}

// ExportNamespace is one namespace rendered for export.
type ExportNamespace struct {
	Namespace string
	FileName  string // base name without ".json"; see FileName
	JSON      string // the file's content (no trailing newline, as upstream)
}

type scanner interface{ Scan(dest ...any) error }

// query runs q with arg and maps each row; nil results are dropped.
func query(ctx context.Context, tx *sql.Tx, d dialect.Dialect, q string, arg any, f func(scanner) (*Value, error)) ([]*Value, error) {
	rows, err := tx.QueryContext(ctx, rebind(d, q), arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Value
	for rows.Next() {
		v, err := f(rows)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, rows.Err()
}

func nullString(s sql.NullString) *Value {
	if !s.Valid {
		return &Value{Kind: JSONNull}
	}
	return stringValue(s.String)
}

// Export writes every namespace to its file (see ExportOptions.Path and
// FileName), each atomically (a temporary file renamed into place),
// overwriting existing files. It refuses before writing anything when two
// namespaces map to the same file (a *ClashError).
func Export(ctx context.Context, db *sql.DB, d dialect.Dialect, o ExportOptions) ([]ExportedFile, error) {
	if o.Log == nil {
		o.Log = func(string) {}
	}
	list, err := Build(ctx, db, d)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, ns := range list {
		file := o.Path + ns.FileName + ".json"
		if other, ok := seen[file]; ok {
			return nil, &ClashError{File: file, A: other, B: ns.Namespace}
		}
		seen[file] = ns.Namespace
	}
	var out []ExportedFile
	for _, ns := range list {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		file := o.Path + ns.FileName + ".json"
		if st, err := os.Stat(file); err == nil && st.Mode().IsRegular() {
			o.Log("Overwriting: " + file)
		}
		if err := writeAtomic(file, []byte(ns.JSON)); err != nil {
			return out, &FileError{File: file, Msg: "cannot write: " + describeIOError(err), Err: err}
		}
		o.Log(fmt.Sprintf("Namespace %s saved in %s", ns.FileName, file))
		out = append(out, ExportedFile{Namespace: ns.Namespace, Path: file})
	}
	return out, nil
}

func writeAtomic(file string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
