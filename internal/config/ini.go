package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This is a small parser for oslo.config's INI dialect. gopkg.in/ini.v1 is
// not used because its dialect differs where it matters and cannot be fully
// configured away: Key.String() expands "%(name)s" references (a URL-encoded
// password like "pw%(x)s" would change), a missing key in a section named
// "a.b" falls back to section "a" (glance has "[glance.store.http.store]"),
// it has its own unquoting and inline-comment rules, indented continuation
// lines are an opt-in with different whitespace handling, and most syntax
// errors carry no line number. The rules below follow
// oslo_config/iniparser.py and cfg.ConfigParser:
//
//   - Lines are split on "\n", "\r\n" or "\r" and right-stripped of
//     whitespace. An empty line ends a multi-line value.
//   - A line starting with a space or tab continues the previous value: it
//     is left-stripped and appended after a "\n". With no value to
//     continue it is an error ("Unexpected continuation line").
//   - "[name]" starts a section; the line must end with "]" and the name
//     is everything in between, spaces included, and must not be empty.
//   - A line starting with "#" or ";" is a comment. There are no inline
//     comments: "key = a # b" has the value "a # b".
//   - Anything else is "key = value" or "key: value", split at whichever
//     of '=' and ':' comes first. Key and value are stripped of
//     surrounding whitespace; one pair of matching surrounding quotes
//     ("..." or '...') is removed from the value. An empty key is an error;
//     a line with neither '=' nor ':' is an error.
//   - An assignment before any section header is an error.
//   - A key given several times keeps all values; lookups use the last.
//   - Keys are case-sensitive. Section names are kept as written, but
//     lookups go through normalizeSection (case-insensitive except that
//     only "DEFAULT" itself is the default section), as oslo.config does.
//   - No "%" interpolation is done, so URL-encoded passwords are safe.
//     (oslo.config's "$name" substitution happens at lookup time; see
//     subst.go.)
//
// Beyond oslo.config, a leading UTF-8 byte order mark is skipped, and
// invalid UTF-8 is reported as a parse error (Python would crash).

// iniFile is one parsed file: normalized section name -> key -> values.
type iniFile struct {
	path     string
	sections map[string]map[string][]string
}

// normalizeSection maps a section name to the group oslo.config looks up:
// "DEFAULT" stays, anything else is lower-cased.
func normalizeSection(s string) string {
	if s == "DEFAULT" {
		return s
	}
	return strings.ToLower(s)
}

// isPySpace matches what Python's str.strip() removes.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

func parseINI(path string, data []byte) (*iniFile, error) {
	f := &iniFile{path: path, sections: map[string]map[string][]string{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}

	var (
		section    string
		hasSection bool
		key        string
		value      []string
		haveKey    bool
		keyLine    int
	)
	fail := func(line int, msg string) error {
		return &ParseError{File: path, Line: line, Msg: msg}
	}
	flush := func() error {
		if !haveKey {
			return nil
		}
		haveKey = false
		if !hasSection {
			return fail(keyLine, "Section must be started before assignment")
		}
		sec := f.sections[normalizeSection(section)]
		sec[key] = append(sec[key], strings.Join(value, "\n"))
		key, value = "", nil
		return nil
	}

	for i, line := range lines {
		n := i + 1
		if !utf8.ValidString(line) {
			return nil, fail(n, "invalid UTF-8")
		}
		line = strings.TrimRightFunc(line, isPySpace)
		switch {
		case line == "":
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case line[0] == ' ' || line[0] == '\t':
			if !haveKey {
				return nil, fail(n, "Unexpected continuation line")
			}
			value = append(value, strings.TrimLeftFunc(line, isPySpace))
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		switch line[0] {
		case '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fail(n, "Invalid section (must end with ])")
			}
			if len(line) <= 2 {
				return nil, fail(n, "Empty section name")
			}
			section, hasSection = line[1:len(line)-1], true
			norm := normalizeSection(section)
			if f.sections[norm] == nil {
				f.sections[norm] = map[string][]string{}
			}
		case '#', ';':
			// comment
		default:
			k, v, ok := splitKeyValue(line)
			if !ok {
				return nil, fail(n, "No ':' or '=' found in assignment")
			}
			if k == "" {
				return nil, fail(n, "Key cannot be empty")
			}
			key, value, haveKey, keyLine = k, []string{v}, true, n
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return f, nil
}

// splitKeyValue splits at the first '=' or ':', whichever comes first,
// strips both sides and removes one pair of matching surrounding quotes
// from the value.
func splitKeyValue(line string) (key, value string, ok bool) {
	i := strings.IndexAny(line, "=:")
	if i < 0 {
		return "", "", false
	}
	key = strings.TrimFunc(line[:i], isPySpace)
	value = strings.TrimFunc(line[i+1:], isPySpace)
	if len(value) > 0 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		// As in oslo.config, a lone quote character becomes "".
		if len(value) == 1 {
			value = ""
		} else {
			value = value[1 : len(value)-1]
		}
	}
	return key, value, true
}

// lookup returns the last value of key in the (normalized) section.
func (f *iniFile) lookup(section, key string) (string, bool) {
	vals := f.sections[normalizeSection(section)][key]
	if len(vals) == 0 {
		return "", false
	}
	return vals[len(vals)-1], true
}

// ParseError reports a syntax error in a config file. Its text names the
// file and line but does not repeat the line, which might hold a secret.
type ParseError struct {
	File string
	Line int
	Msg  string // oslo.config's wording, e.g. "No ':' or '=' found in assignment"
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("config: failed to parse %s: line %d: %s", e.File, e.Line, e.Msg)
}
