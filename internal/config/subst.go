package config

import (
	"errors"
	"strings"
)

// maxSubstDepth bounds nested "$name" references (upstream would recurse
// until Python's recursion limit on a loop).
const maxSubstDepth = 10

var (
	errSubstLoop  = errors.New(`"$" references nest too deeply (a reference loop?)`)
	errSubstUnset = errors.New(`the value contains a "$" reference to an option that is set nowhere, ` +
		`which oslo.config would substitute; write "$$" for a literal "$"`)
)

// substitute applies oslo.config's string.Template substitution to v, an
// option value of group: "\$" is first turned into "$$"; then "$$" is a
// literal "$", "$name" and "${name}" are replaced by option values, and a
// "$" that starts no valid reference is kept. With lenient, references to
// options set nowhere are kept as written; otherwise they are an error.
func (c *Config) substitute(v, group string, depth int, lenient bool) (string, error) {
	if !strings.Contains(v, "$") {
		return v, nil
	}
	if depth >= maxSubstDepth {
		return "", errSubstLoop
	}
	v = strings.ReplaceAll(v, `\$`, `$$`)
	var b strings.Builder
	for i := 0; i < len(v); {
		if v[i] != '$' {
			b.WriteByte(v[i])
			i++
			continue
		}
		if i+1 < len(v) && v[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		id, next, ok := placeholder(v, i+1)
		if !ok {
			b.WriteByte('$')
			i++
			continue
		}
		val, found, err := c.reference(id, group, depth, lenient)
		if err != nil {
			return "", err
		}
		if !found {
			if !lenient {
				return "", errSubstUnset
			}
			val = v[i:next]
		}
		b.WriteString(val)
		i = next
	}
	return b.String(), nil
}

// placeholder reads "name" or "{name}" at v[j:], with name matching
// Python's Template idpattern [_a-z][._a-z0-9]* (case-insensitive).
func placeholder(v string, j int) (id string, next int, ok bool) {
	braced := j < len(v) && v[j] == '{'
	if braced {
		j++
	}
	k := j
	for k < len(v) {
		ch := v[k]
		letter := ch == '_' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z'
		if !(letter || k > j && (ch == '.' || '0' <= ch && ch <= '9')) {
			break
		}
		k++
	}
	if k == j {
		return "", 0, false
	}
	if braced {
		if k >= len(v) || v[k] != '}' {
			return "", 0, false
		}
		return v[j:k], k + 1, true
	}
	return v[j:k], k, true
}

// reference resolves a template reference made from an option of group:
// "group.option" names another group; a plain name is looked up in the
// same group, then in [DEFAULT]. The referenced value is substituted in
// its own group.
func (c *Config) reference(id, group string, depth int, lenient bool) (string, bool, error) {
	try := func(n name) (string, bool, error) {
		v, ok := c.rawOrDefault(n)
		if !ok {
			return "", false, nil
		}
		s, err := c.substitute(v, n.group, depth+1, lenient)
		return s, err == nil, err
	}
	if g, opt, ok := strings.Cut(id, "."); ok {
		if s, found, err := try(name{g, opt}); found || err != nil {
			return s, found, err
		}
	} else if s, found, err := try(name{group, id}); found || err != nil {
		return s, found, err
	}
	return try(name{"DEFAULT", id})
}

func (c *Config) rawOrDefault(n name) (string, bool) {
	if v, _, _, ok := c.raw(n); ok {
		return v, true
	}
	v, ok := defaults[name{normalizeSection(n.group), n.opt}]
	return v, ok
}
