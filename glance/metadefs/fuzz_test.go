package metadefs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the definition-file parser: it
// must never panic, must fail only with a *FileError that has a position,
// and whatever it accepts must survive Dump and Parse unchanged (the
// export/load round trip).
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"testdata/load", "testdata/bad"} {
		names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err == nil {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{`{"namespace": "n", "properties": {"a": [1e400, -0, "\ud800", {"x": null}]}}`, `[`, `{"a":1,"a":2}`, `"\u00e9"`, `-Infinity`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err == nil {
			out := Dump(v)
			v2, err := Parse([]byte(out))
			if err != nil {
				t.Fatalf("Dump output does not parse: %v\n%s", err, out)
			}
			if again := Dump(v2); again != out {
				t.Fatalf("Dump not stable:\n%s\n%s", out, again)
			}
		}
		ns, err := ParseFile("f.json", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line < 1 || fe.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if ns.Namespace == "" && v.Get("namespace") == nil {
			t.Fatalf("accepted a file without a namespace")
		}
		for _, p := range ns.Properties {
			if _, err := Parse([]byte(p.Schema)); err != nil {
				t.Fatalf("property schema does not parse: %v", err)
			}
		}
	})
}
