package metadefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Namespace is one definition file: a metadata definition namespace with
// its resource type associations, properties, objects and tags, in file
// order. Nil string pointers are JSON null or absent keys (NULL columns).
type Namespace struct {
	File         string // where it was read from
	Namespace    string
	DisplayName  *string
	Description  *string
	Visibility   *string
	Protected    *bool
	Owner        string // "admin" when absent, as upstream
	Associations []Association
	Properties   []Property
	Objects      []Object
	Tags         []string
}

// Association links the namespace to a resource type.
type Association struct {
	Name             string
	Prefix           *string
	PropertiesTarget *string
}

// Property is a named JSON schema; Schema is the text stored in
// metadef_properties.json_schema (Python's json.dumps of the file's value).
type Property struct {
	Name   string
	Schema string
}

// Object is a named group of properties; Schema is json.dumps of its
// "properties" member ("null" when absent, as upstream). The "required"
// member is ignored, as upstream does.
type Object struct {
	Name        string
	Description *string
	Schema      string
}

// DefaultOwner is the owner of a namespace whose file names none.
const DefaultOwner = "admin"

// ParseFile parses the content of one definition file named name. Every
// error is a *FileError with the line and column of the offending value.
func ParseFile(name string, data []byte) (*Namespace, error) {
	v, err := Parse(data)
	if err != nil {
		var se *SyntaxError
		errors.As(err, &se)
		line, col := position(data, se.Offset)
		return nil, &FileError{File: name, Line: line, Column: col, Msg: "invalid JSON: " + se.Msg, Err: err}
	}
	d := &decoder{file: name, data: data}
	ns := d.namespace(v)
	if d.err != nil {
		return nil, d.err
	}
	ns.File = name
	return ns, nil
}

// decoder checks the shape of a parsed file, keeping the first error.
type decoder struct {
	file string
	data []byte
	err  error
}

func (d *decoder) fail(v *Value, format string, args ...any) {
	if d.err != nil {
		return
	}
	line, col := position(d.data, v.Offset)
	d.err = &FileError{File: d.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// str returns the string member key of obj; what says what it is for
// messages. Absent or null members fail unless optional.
func (d *decoder) str(obj *Value, key, what string, optional bool) *string {
	v := obj.Get(key)
	if v == nil || v.Kind == JSONNull {
		if !optional {
			if v == nil {
				d.fail(obj, "%s has no %q (a string)", what, key)
			} else {
				d.fail(v, "%q of %s must be a string, not null", key, what)
			}
		}
		return nil
	}
	if v.Kind != JSONString {
		d.fail(v, "%q of %s must be a string, not %s", key, what, v.Kind)
		return nil
	}
	if !utf8.ValidString(v.Str) {
		d.fail(v, "%q of %s contains a lone UTF-16 surrogate", key, what)
		return nil
	}
	return &v.Str
}

// list returns the elements of the array member key (absent: none), each
// of which must be an object.
func (d *decoder) list(obj *Value, key string) []*Value {
	v := obj.Get(key)
	if v == nil {
		return nil
	}
	if v.Kind != JSONArray {
		d.fail(v, "%q must be an array, not %s", key, v.Kind)
		return nil
	}
	for _, e := range v.Elems {
		if e.Kind != JSONObject {
			d.fail(e, "each element of %q must be an object, not %s", key, e.Kind)
			return nil
		}
	}
	return v.Elems
}

func (d *decoder) namespace(v *Value) *Namespace {
	if v.Kind != JSONObject {
		d.fail(v, "a definition file must hold one JSON object, not %s", v.Kind)
		return nil
	}
	ns := &Namespace{Owner: DefaultOwner}
	if s := d.str(v, "namespace", "the namespace", false); s != nil {
		ns.Namespace = *s
	}
	ns.DisplayName = d.str(v, "display_name", "the namespace", true)
	ns.Description = d.str(v, "description", "the namespace", true)
	ns.Visibility = d.str(v, "visibility", "the namespace", true)
	// protected: a boolean, or 0 or 1 as upstream's export writes it on
	// MySQL (where the column reads back as an integer).
	if p := v.Get("protected"); p != nil && p.Kind != JSONNull {
		b := p.Bool
		switch {
		case p.Kind == JSONNumber && (p.Num == "0" || p.Num == "1"):
			b = p.Num == "1"
		case p.Kind != JSONBool:
			d.fail(p, "\"protected\" must be true, false or null, not %s", p.Kind)
		}
		ns.Protected = &b
	}
	if o := v.Get("owner"); o != nil {
		if s := d.str(v, "owner", "the namespace", false); s != nil {
			ns.Owner = *s
		}
	}
	for _, e := range d.list(v, "resource_type_associations") {
		a := Association{
			Prefix:           d.str(e, "prefix", "a resource type association", true),
			PropertiesTarget: d.str(e, "properties_target", "a resource type association", true),
		}
		if s := d.str(e, "name", "a resource type association", false); s != nil {
			a.Name = *s
		}
		ns.Associations = append(ns.Associations, a)
	}
	if p := v.Get("properties"); p != nil {
		if p.Kind != JSONObject {
			d.fail(p, "\"properties\" must be an object mapping names to schemas, not %s", p.Kind)
		} else {
			for _, m := range p.Members {
				if !utf8.ValidString(m.Key) {
					d.fail(m.Value, "a property name contains a lone UTF-16 surrogate")
				}
				ns.Properties = append(ns.Properties, Property{Name: m.Key, Schema: Dump(m.Value)})
			}
		}
	}
	for _, e := range d.list(v, "objects") {
		o := Object{Description: d.str(e, "description", "an object", true), Schema: "null"}
		if s := d.str(e, "name", "an object", false); s != nil {
			o.Name = *s
		}
		if p := e.Get("properties"); p != nil {
			o.Schema = Dump(p)
		}
		ns.Objects = append(ns.Objects, o)
	}
	for _, e := range d.list(v, "tags") {
		if s := d.str(e, "name", "a tag", false); s != nil {
			ns.Tags = append(ns.Tags, *s)
		}
	}
	return ns
}

// ReadFile reads and parses one definition file.
func ReadFile(path string) (*Namespace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: "cannot read: " + describeIOError(err), Err: err}
	}
	return ParseFile(path, data)
}

// Files lists the definition files at path as upstream does: path itself
// when it is a regular file (absolute or relative), otherwise the regular
// files in the directory whose names end in ".json", in directory order
// (upstream's os.listdir order, which decides the ids rows get). A
// directory without such files gives ErrNoFiles.
func Files(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: describeIOError(err), Err: err}
	}
	if st.Mode().IsRegular() {
		return []string{path}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: describeIOError(err), Err: err}
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, &FileError{File: path, Msg: describeIOError(err), Err: err}
	}
	var out []string
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		full := filepath.Join(path, n)
		if st, err := os.Stat(full); err == nil && st.Mode().IsRegular() {
			out = append(out, full)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoFiles
	}
	return out, nil
}

// ReadAll reads and checks every definition file at path (see Files),
// stopping at the first bad one.
func ReadAll(path string) ([]*Namespace, error) {
	files, err := Files(path)
	if err != nil {
		return nil, err
	}
	out := make([]*Namespace, 0, len(files))
	for _, f := range files {
		ns, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, ns)
	}
	return out, nil
}

func describeIOError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
