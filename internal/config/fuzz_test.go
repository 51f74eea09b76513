package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretMarker stands for a password in the seeds; errors may name files,
// lines, sections and keys, never repeat a value.
const secretMarker = "Secr3tPw"

// markerInName reports whether the marker appears in a section name or
// a key of text (where an error may legitimately quote it).
func markerInName(text string) bool {
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if !strings.Contains(line, secretMarker) {
			continue
		}
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			return true
		}
		name := line
		if i := strings.IndexAny(line, "=:"); i >= 0 {
			name = line[:i]
		}
		if strings.Contains(name, secretMarker) {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"[database]\nconnection = mysql+pymysql://glance:" + secretMarker + "@controller/glance\n",
		"[DEFAULT]\nsql_connection = sqlite:///x.db\n[database]\nmysql_sql_mode =\n",
		"connection = mysql://u:" + secretMarker + "@h/d\n",
		"[database]\nconnection = mysql://u:$pw@h/d\n",
		"[database]\nconnection = mysql://u:${pw}@h/d\npw = " + secretMarker + "\n",
		"[database]\na = $b\nb = $a\n",
		"[database\nconnection=x\n",
		"[]\n",
		"[database]\n  continued " + secretMarker + "\n",
		"[database]\nconnection = \"postgresql://u:" + secretMarker + "@h/d\"\n  more\n",
		"\xef\xbb\xbf[database]\r\nconnection: sqlite:////tmp/x.db\r\n",
		"[database]\nconnection = \xff\xfe" + secretMarker + "\n",
		"[database]\n= " + secretMarker + "\n",
		"[database]\nconnection " + secretMarker + "\n",
		"; comment\n# comment\n[DATABASE]\nsql_connection = $$" + secretMarker + "\n[sql]\nconnection = \\$x\n",
		"[DEFAULT]\nmetadata_source_path = ${metadata_source_path}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "glance-api.conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		load := func() (*Config, error) {
			return Load(Options{ConfigFiles: []string{path}, ConfigDirs: nil,
				Getenv: func(string) string { return "" }, SearchDirs: []string{}})
		}
		cfg, err := load()
		cfg2, err2 := load()
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line: %q", msg)
			}
			if strings.Contains(msg, secretMarker) && !markerInName(text) {
				t.Fatalf("error repeats a value: %q", msg)
			}
			var pe *ParseError
			var se *SubstitutionError
			switch {
			case errors.As(err, &pe):
				lines := strings.Count(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n") + 1
				if pe.Line < 1 || pe.Line > lines {
					t.Fatalf("parse error on line %d of a %d-line file: %v", pe.Line, lines, err)
				}
				if pe.File != path {
					t.Fatalf("parse error names %q, not the file read", pe.File)
				}
			case errors.As(err, &se):
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if cfg.Connection != cfg2.Connection || cfg.MySQLSQLMode != cfg2.MySQLSQLMode {
			t.Fatalf("not deterministic: %q / %q", cfg.Connection, cfg2.Connection)
		}
		if len(cfg.Files) != 1 || cfg.Files[0] != path {
			t.Fatalf("files read: %v", cfg.Files)
		}
		if cfg.Connection != "" && cfg.ConnectionSource != path {
			t.Fatalf("connection from %q, not the file", cfg.ConnectionSource)
		}
		for _, d := range cfg.Deprecations {
			if strings.Contains(d, secretMarker) && !markerInName(text) {
				t.Fatalf("deprecation warning repeats a value: %q", d)
			}
		}
	})
}
