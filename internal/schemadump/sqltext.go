package schemadump

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds a small SQL tokenizer and the normalizations built on it:
// expressions (defaults, CHECK clauses, index predicates) and trigger bodies
// are re-emitted from their tokens, so that spacing, comments, keyword case
// and identifier quoting do not matter, while string literals are kept
// verbatim.

type tokKind int

const (
	tkWord   tokKind = iota // unquoted identifier or keyword
	tkIdent                 // quoted identifier; text is the unquoted name
	tkString                // string literal; text is the unescaped content
	tkNumber
	tkOp    // operators, including multi-character ones
	tkPunct // ( ) [ ] , ; .
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(kind tokKind, text string) bool {
	return t.kind == kind && (kind != tkWord && t.text == text || kind == tkWord && strings.EqualFold(t.text, text))
}

func (t token) isWord(w string) bool  { return t.is(tkWord, w) }
func (t token) isPunct(p string) bool { return t.kind == tkPunct && t.text == p }

// lexer selects the lexical rules of a backend.
type lexer int

const (
	dSQLite lexer = iota
	dMySQL
	dPostgres
)

var multiOps = []string{"<=>", "->>", "<=", ">=", "<>", "!=", "||", "::", "<<", ">>", "==", ":=", "->", "&&"}

// tokenize splits s into tokens, dropping whitespace and comments. It never
// fails: an unterminated literal runs to the end of the input.
func tokenize(s string, d lexer) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"), c == '#' && d == dMySQL:
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			i += j
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				i = len(s)
			} else {
				i += j + 4
			}
		case c == '\'' || c == '"' && d == dMySQL:
			text, n := readQuoted(s[i:], c, d == dMySQL)
			toks = append(toks, token{tkString, text})
			i += n
		case (c == 'E' || c == 'e') && d == dPostgres && i+1 < len(s) && s[i+1] == '\'':
			text, n := readQuoted(s[i+1:], '\'', true)
			toks = append(toks, token{tkString, text})
			i += n + 1
		case c == '"' || c == '`':
			text, n := readQuoted(s[i:], c, false)
			toks = append(toks, token{tkIdent, text})
			i += n
		case c == '[' && d == dSQLite:
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, token{tkIdent, s[i+1 : i+1+j]})
			i += j + 2
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) {
				cj := s[j]
				if isDigit(cj) || cj == '.' || cj == '_' || isLetter(cj) {
					j++
				} else if (cj == '+' || cj == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(strings.ToLower(s[i:j]), "0x") {
					j++
				} else {
					break
				}
			}
			toks = append(toks, token{tkNumber, strings.ToLower(s[i:j])})
			i = j
		case isLetter(c) || c == '_' || c >= utf8.RuneSelf:
			j := i
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) {
					j += size
				} else {
					break
				}
			}
			if j == i { // an invalid byte or a lone non-letter rune
				_, size := utf8.DecodeRuneInString(s[i:])
				toks = append(toks, token{tkOp, s[i : i+size]})
				i += size
				continue
			}
			toks = append(toks, token{tkWord, s[i:j]})
			i = j
		case strings.IndexByte("()[],;.", c) >= 0:
			toks = append(toks, token{tkPunct, string(c)})
			i++
		default:
			op := string(c)
			for _, m := range multiOps {
				if strings.HasPrefix(s[i:], m) {
					op = m
					break
				}
			}
			toks = append(toks, token{tkOp, op})
			i += len(op)
		}
	}
	return toks
}

// readQuoted reads a literal starting with quote q at s[0], where a doubled
// quote stands for itself; with backslash, \x escapes are honoured too. It
// returns the content and the number of bytes consumed.
func readQuoted(s string, q byte, backslash bool) (string, int) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case backslash && c == '\\' && i+1 < len(s):
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			default:
				b.WriteByte(s[i+1])
			}
			i += 2
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i += 2
		case c == q:
			return b.String(), i + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// keywords are the words after which "(" is preceded by a space; after any
// other word "(" is taken to open a function's argument list. The list only
// affects the look of the output, which is canonical either way.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "any": true, "some": true,
	"all": true, "exists": true, "is": true, "between": true, "like": true,
	"ilike": true, "check": true, "values": true, "as": true, "then": true,
	"else": true, "when": true, "case": true, "on": true, "using": true,
	"where": true, "if": true, "elseif": true, "return": true, "select": true,
	"from": true, "set": true, "into": true, "begin": true, "end": true,
	"signal": true, "row": true, "of": true, "distinct": true, "by": true,
	"with": true, "escape": true, "similar": true, "to": true, "over": true,
	"insert": true, "update": true, "delete": true, "execute": true,
	"procedure": true, "function": true, "key": true, "unique": true,
	"references": true, "default": true, "null": true, "for": true,
}

func isPlainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c == '_' || c == '$' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

// render writes one token in canonical form: words lower-cased, quoted
// identifiers unquoted when that is unambiguous, strings single-quoted.
func render(t token) string {
	switch t.kind {
	case tkWord:
		return strings.ToLower(t.text)
	case tkIdent:
		if isPlainIdent(t.text) {
			return strings.ToLower(t.text)
		}
		return `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
	case tkString:
		return "'" + strings.ReplaceAll(t.text, "'", "''") + "'"
	}
	return t.text
}

// joiner accumulates tokens with canonical spacing.
type joiner struct {
	b          strings.Builder
	prev       *token
	noSpace    bool // the previous token was a unary sign
	prevCanOpr bool // the previous token ends an operand
}

func (j *joiner) add(t token) {
	if j.prev != nil && j.needSpace(*j.prev, t) {
		j.b.WriteByte(' ')
	}
	j.noSpace = false
	if t.kind == tkOp && (t.text == "-" || t.text == "+" || t.text == "~") && !j.prevCanOpr {
		j.noSpace = true // unary
	}
	j.b.WriteString(render(t))
	tt := t
	j.prev = &tt
	switch {
	case t.kind == tkWord:
		j.prevCanOpr = !keywords[strings.ToLower(t.text)] || t.isWord("null") || t.isWord("end")
	case t.kind == tkIdent, t.kind == tkString, t.kind == tkNumber:
		j.prevCanOpr = true
	case t.isPunct(")"), t.isPunct("]"):
		j.prevCanOpr = true
	default:
		j.prevCanOpr = false
	}
}

func (j *joiner) needSpace(prev, t token) bool {
	switch {
	case j.noSpace:
		return false
	case prev.isPunct("(") || prev.isPunct("[") || prev.isPunct("."):
		return false
	case t.isPunct(")") || t.isPunct("]") || t.isPunct(",") || t.isPunct(";") || t.isPunct("."):
		return false
	case prev.kind == tkOp && prev.text == "::", t.kind == tkOp && t.text == "::":
		return false
	case t.isPunct("("):
		if prev.kind == tkWord {
			return keywords[strings.ToLower(prev.text)]
		}
		return prev.kind != tkIdent
	case t.isPunct("["):
		return !(prev.kind == tkWord || prev.kind == tkIdent || prev.isPunct("]") || prev.isPunct(")"))
	}
	return true
}

func (j *joiner) String() string { return j.b.String() }

func joinTokens(toks []token) string {
	var j joiner
	for _, t := range toks {
		j.add(t)
	}
	return j.String()
}

// matching returns the index of the token closing the bracket at toks[i],
// or -1.
func matching(toks []token, i int) int {
	open := toks[i].text
	close := ")"
	if open == "[" {
		close = "]"
	}
	depth := 0
	for k := i; k < len(toks); k++ {
		if toks[k].kind != tkPunct {
			continue
		}
		switch toks[k].text {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// stripOuterParens removes parentheses that enclose the whole expression.
func stripOuterParens(toks []token) []token {
	for len(toks) >= 2 && toks[0].isPunct("(") && matching(toks, 0) == len(toks)-1 {
		toks = toks[1 : len(toks)-1]
	}
	return toks
}

// stripCasts removes PostgreSQL "::type" casts, including multi-word type
// names, modifiers and array brackets.
func stripCasts(toks []token) []token {
	out := make([]token, 0, len(toks))
	for i := 0; i < len(toks); i++ {
		if !(toks[i].kind == tkOp && toks[i].text == "::") {
			out = append(out, toks[i])
			continue
		}
		i = skipTypeName(toks, i+1) - 1
	}
	return out
}

// skipTypeName returns the index just past the type name starting at i.
func skipTypeName(toks []token, i int) int {
	if i >= len(toks) || toks[i].kind != tkWord && toks[i].kind != tkIdent {
		return i
	}
	base := strings.ToLower(toks[i].text)
	i++
	for i+1 < len(toks) && toks[i].isPunct(".") && (toks[i+1].kind == tkWord || toks[i+1].kind == tkIdent) {
		base = strings.ToLower(toks[i+1].text)
		i += 2
	}
	next := func(w string) bool {
		if i < len(toks) && toks[i].isWord(w) {
			i++
			return true
		}
		return false
	}
	switch base {
	case "character", "bit", "national":
		next("varying")
	case "double":
		next("precision")
	}
	if i < len(toks) && toks[i].isPunct("(") {
		if k := matching(toks, i); k > 0 {
			i = k + 1
		}
	}
	if base == "time" || base == "timestamp" {
		save := i
		if (next("with") || next("without")) && !(next("time") && next("zone")) {
			i = save
		}
	}
	for i+1 < len(toks) && toks[i].isPunct("[") && toks[i+1].isPunct("]") {
		i += 2
	}
	return i
}

// normExpr returns the canonical text of a SQL expression of backend d.
func normExpr(s string, d lexer) string {
	toks := tokenize(s, d)
	if d == dPostgres {
		toks = stripCasts(toks)
	}
	return joinTokens(stripOuterParens(toks))
}

// formatBody lays out a procedural body (MySQL trigger body, SQLite trigger
// statements) one statement per line, indenting BEGIN ... END and
// IF ... THEN / ELSEIF / ELSE / END IF blocks by two spaces. Comments and
// original whitespace are dropped.
func formatBody(toks []token) []string {
	var lines []string
	depth := 0
	var j *joiner
	var first token
	flush := func() {
		if j != nil {
			lines = append(lines, strings.Repeat("  ", depth)+j.String())
			j = nil
		}
	}
	for _, t := range toks {
		if j == nil {
			first = t
			switch {
			case t.isWord("end"), t.isWord("elseif"):
				depth = max(depth-1, 0)
			case t.isWord("else"):
				depth = max(depth-1, 0)
				lines = append(lines, strings.Repeat("  ", depth)+"else")
				depth++
				continue
			}
			j = &joiner{}
		}
		j.add(t)
		switch {
		case t.isPunct(";"):
			flush()
		case t.isWord("begin") && len(j.String()) == len("begin"):
			flush()
			depth++
		case t.isWord("then") && (first.isWord("if") || first.isWord("elseif")):
			flush()
			depth++
		}
	}
	flush()
	return lines
}
