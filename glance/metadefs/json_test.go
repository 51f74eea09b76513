package metadefs

import (
	"errors"
	"strings"
	"testing"
)

// TestDumpLikePython pins Dump against Python's json.dumps(json.loads(in))
// (outputs recorded from CPython 3).
func TestDumpLikePython(t *testing.T) {
	cases := []struct{ in, want string }{
		{`[1, -0, 1.0, 1e16, 1.5e16, 1e-5, 0.0001, 123456789012345678, 1E2, -0.0, 1e400, -1e400, 1e-400, 0.1, 2.5e-07, 123.456e3, NaN, Infinity, -Infinity, 9999999999999999.0, 1234567890123456.7]`,
			`[1, 0, 1.0, 1e+16, 1.5e+16, 1e-05, 0.0001, 123456789012345678, 100.0, -0.0, Infinity, -Infinity, 0.0, 0.1, 2.5e-07, 123456.0, NaN, Infinity, -Infinity, 1e+16, 1234567890123456.8]`},
		{`"h\u00e9\u20ac\ud83d\ude00 \ud800 x\udc00 \u007f\u0001\t\n\"\\/"`, `"h\u00e9\u20ac\ud83d\ude00 \ud800 x\udc00 \u007f\u0001\t\n\"\\/"`},
		{"\"h\u00e9\u20ac\U0001F600\"", `"h\u00e9\u20ac\ud83d\ude00"`},
		{`{"x": 1, "x": 2, "y": {}}`, `{"x": 2, "y": {}}`},
		{` { "b" :[ ] , "a":null,"c":true,"d":false } `, `{"b": [], "a": null, "c": true, "d": false}`},
		{`{"\u00e9": "\b\f\r"}`, `{"\u00e9": "\b\f\r"}`},
	}
	for _, c := range cases {
		v, err := Parse([]byte(c.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", c.in, err)
			continue
		}
		if got := Dump(v); got != c.want {
			t.Errorf("Dump(Parse(%s))\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `1e`, `-`, `"\x"`, "\"a\nb\"", `"\u12"`,
		`{a: 1}`, `[1 2]`, `nul`, `1 2`, "\xff", "\ufeff{}", `"unterminated`, strings.Repeat("[", 1002),
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		} else if se := (*SyntaxError)(nil); !errors.As(err, &se) {
			t.Errorf("Parse(%q): %T, want *SyntaxError", in, err)
		}
	}
}

func TestParseFileErrorsNameFileAndPosition(t *testing.T) {
	cases := []struct{ file, in, want string }{
		{"a.json", "{\n  \"namespace\": \"x\",\n  \"properties\": {\"a\": {\"type\": \"string\",}}\n}", "a.json:3:41: invalid JSON: expecting a property name enclosed in double quotes"},
		{"b.json", "{\"namespace\": \"caf\u00e9\", \"x\": ]}", "b.json:1:28: invalid JSON: expecting a value"},
		{"c.json", "[]", "c.json:1:1: a definition file must hold one JSON object, not an array"},
		{"d.json", "{\"display_name\": \"x\"}", "d.json:1:1: the namespace has no \"namespace\" (a string)"},
		{"e.json", "{\"namespace\": 5}", "e.json:1:15: \"namespace\" of the namespace must be a string, not a number"},
		{"f.json", "{\"namespace\": \"n\",\n \"resource_type_associations\": [\n  {\"prefix\": \"p\"}]}", "f.json:3:3: a resource type association has no \"name\" (a string)"},
		{"g.json", "{\"namespace\": \"n\", \"tags\": [{\"name\": null}]}", "g.json:1:38: \"name\" of a tag must be a string, not null"},
		{"h.json", "{\"namespace\": \"n\", \"properties\": []}", "h.json:1:34: \"properties\" must be an object mapping names to schemas, not an array"},
		{"i.json", "{\"namespace\": \"n\", \"objects\": [1]}", "i.json:1:32: each element of \"objects\" must be an object, not a number"},
		{"j.json", "{\"namespace\": \"n\", \"protected\": \"yes\"}", "j.json:1:33: \"protected\" must be true, false or null, not a string"},
		{"k.json", "{\"namespace\": \"n\", \"owner\": null}", "k.json:1:29: \"owner\" of the namespace must be a string, not null"},
		{"l.json", "{\"namespace\": \"\\ud800\"}", "l.json:1:15: \"namespace\" of the namespace contains a lone UTF-16 surrogate"},
		{"m.json", "{\"namespace\": \"n\"}\n{}", "m.json:2:1: invalid JSON: extra data after the JSON value"},
	}
	for _, c := range cases {
		_, err := ParseFile(c.file, []byte(c.in))
		var fe *FileError
		if !errors.As(err, &fe) || err.Error() != c.want {
			t.Errorf("%s: got %v\n want %s", c.file, err, c.want)
		}
	}
}

func TestParseFileValues(t *testing.T) {
	ns, err := ReadFile("testdata/load/alpha.json")
	if err != nil {
		t.Fatal(err)
	}
	if ns.Namespace != "Test::Alpha" || *ns.DisplayName != "Alpha Test_Namespace" || ns.Owner != "admin" || !*ns.Protected || *ns.Visibility != "public" {
		t.Fatalf("namespace fields: %+v", ns)
	}
	if len(ns.Associations) != 2 || ns.Associations[0].PropertiesTarget != nil || *ns.Associations[1].PropertiesTarget != "flavor" {
		t.Fatalf("associations: %+v", ns.Associations)
	}
	wantProps := []Property{
		{"speed", `{"title": "Speed", "type": "integer", "minimum": 1, "maximum": 1000.0, "default": 2.5}`},
		{"mode", `{"title": "Mode", "type": "string", "enum": ["fast", "slow"], "description": "Line\nbreak \"quoted\""}`},
	}
	for i, p := range wantProps {
		if ns.Properties[i] != p {
			t.Errorf("property %d: %+v, want %+v", i, ns.Properties[i], p)
		}
	}
	if len(ns.Objects) != 2 || ns.Objects[0].Schema != `{"max": {"type": "number"}}` || ns.Objects[1].Schema != "null" || ns.Objects[1].Description != nil {
		t.Fatalf("objects: %+v", ns.Objects)
	}
	if strings.Join(ns.Tags, ",") != "red,blue,red" {
		t.Fatalf("tags: %v", ns.Tags)
	}
}

func TestFiles(t *testing.T) {
	files, err := Files("testdata/load")
	if err != nil || len(files) != 2 {
		t.Fatalf("Files = %v, %v", files, err)
	}
	if files, err := Files("testdata/load/beta.json"); err != nil || len(files) != 1 || files[0] != "testdata/load/beta.json" {
		t.Fatalf("relative file path: %v, %v", files, err)
	}
	if _, err := Files(t.TempDir()); !errors.Is(err, ErrNoFiles) {
		t.Fatalf("empty dir: %v", err)
	}
	var fe *FileError
	if _, err := Files("testdata/nonexistent"); !errors.As(err, &fe) || fe.Line != 0 {
		t.Fatalf("missing path: %v", err)
	}
}

func TestFileName(t *testing.T) {
	s := func(x string) *string { return &x }
	cases := []struct {
		ns      string
		display *string
		want    string
	}{
		{"CIM::X", s("CIM Processor Allocation Setting"), "CIMProcessorAllocationSetting"},
		{"OS::Compute::Libvirt", s("libvirt Driver Options"), "libvirtDriverOptions"},
		{"a", s("snake_case--and spaces!"), "snakecaseandspaces"},
		{"a", s("Caf\u00e9 \u00b2 \u0301x"), "Caf\u00e9\u00b2x"},
		{"OS::Null", nil, "OSNull"},
		{"OS::Empty", s("!!"), "OSEmpty"},
	}
	for _, c := range cases {
		if got := FileName(c.ns, c.display); got != c.want {
			t.Errorf("FileName(%q, %v) = %q, want %q", c.ns, c.display, got, c.want)
		}
	}
}
