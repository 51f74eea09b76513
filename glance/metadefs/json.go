package metadefs

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind int

// The JSON kinds.
const (
	JSONNull Kind = iota
	JSONBool
	JSONNumber
	JSONString
	JSONArray
	JSONObject
)

func (k Kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// Value is a parsed JSON value that keeps what Python's json module keeps:
// the order of object members, integers of any size, and lone UTF-16
// surrogates in strings (stored as WTF-8). Offset is the byte offset of
// the value in its document.
type Value struct {
	Kind    Kind
	Bool    bool
	Num     string // the number as Python's json.dumps writes it
	Str     string // WTF-8
	Elems   []*Value
	Members []Member
	Offset  int
}

// Member is one key of an object. Like a Python dict built by json.loads,
// a key given twice keeps its first position and its last value.
type Member struct {
	Key   string
	Value *Value
}

// Get returns the member named key, or nil.
func (v *Value) Get(key string) *Value {
	for _, m := range v.Members {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// maxDepth bounds nesting (Python's parser stops at its recursion limit).
const maxDepth = 1000

// maxIntDigits is Python's default limit on the digits of an integer
// converted from text (sys.int_info.str_digits_check_threshold).
const maxIntDigits = 4300

// Parse parses one JSON document with the grammar Python's json.loads
// accepts: standard JSON plus NaN, Infinity and -Infinity. Errors are
// *SyntaxError values carrying the byte offset.
func Parse(data []byte) (*Value, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &SyntaxError{Offset: off, Msg: "invalid UTF-8"}
	}
	p := &parser{data: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.data) {
		return nil, p.errorf("extra data after the JSON value")
	}
	return v, nil
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) literal(word string) bool {
	if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *parser) value(depth int) (*Value, error) {
	if depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d levels", maxDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("expecting a value, found the end of the file")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Value{Kind: JSONString, Str: s, Offset: start}, nil
	case p.literal("null"):
		return &Value{Kind: JSONNull, Offset: start}, nil
	case p.literal("true"):
		return &Value{Kind: JSONBool, Bool: true, Offset: start}, nil
	case p.literal("false"):
		return &Value{Kind: JSONBool, Offset: start}, nil
	case p.literal("NaN"):
		return &Value{Kind: JSONNumber, Num: "NaN", Offset: start}, nil
	case p.literal("Infinity"):
		return &Value{Kind: JSONNumber, Num: "Infinity", Offset: start}, nil
	case p.literal("-Infinity"):
		return &Value{Kind: JSONNumber, Num: "-Infinity", Offset: start}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errorf("expecting a value")
}

func (p *parser) object(depth int) (*Value, error) {
	v := &Value{Kind: JSONObject, Offset: p.pos}
	p.pos++ // {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	index := map[string]int{}
	for {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("expecting a property name enclosed in double quotes")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("expecting ':' delimiter")
		}
		p.pos++
		p.space()
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if i, ok := index[key]; ok {
			v.Members[i].Value = val
		} else {
			index[key] = len(v.Members)
			v.Members = append(v.Members, Member{Key: key, Value: val})
		}
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return v, nil
		}
		if p.pos >= len(p.data) || p.data[p.pos] != ',' {
			return nil, p.errorf("expecting ',' delimiter")
		}
		p.pos++
		p.space()
	}
}

func (p *parser) array(depth int) (*Value, error) {
	v := &Value{Kind: JSONArray, Offset: p.pos}
	p.pos++ // [
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.Elems = append(v.Elems, e)
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		if p.pos >= len(p.data) || p.data[p.pos] != ',' {
			return nil, p.errorf("expecting ',' delimiter")
		}
		p.pos++
		p.space()
	}
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func (p *parser) number() (*Value, error) {
	start := p.pos
	i := p.pos
	if p.data[i] == '-' {
		i++
	}
	switch {
	case i < len(p.data) && p.data[i] == '0':
		i++
	case i < len(p.data) && p.data[i] >= '1' && p.data[i] <= '9':
		i = digits(p.data, i)
	default:
		return nil, p.errorf("expecting a value")
	}
	float := false
	if i+1 < len(p.data) && p.data[i] == '.' && p.data[i+1] >= '0' && p.data[i+1] <= '9' {
		i = digits(p.data, i+1)
		float = true
	}
	if i < len(p.data) && (p.data[i] == 'e' || p.data[i] == 'E') {
		j := i + 1
		if j < len(p.data) && (p.data[j] == '+' || p.data[j] == '-') {
			j++
		}
		if j < len(p.data) && p.data[j] >= '0' && p.data[j] <= '9' {
			i = digits(p.data, j)
			float = true
		}
	}
	text := string(p.data[start:i])
	p.pos = i
	if !float {
		if len(strings.TrimPrefix(text, "-")) > maxIntDigits {
			p.pos = start
			return nil, p.errorf("integer longer than %d digits", maxIntDigits)
		}
		if text == "-0" {
			text = "0"
		}
		return &Value{Kind: JSONNumber, Num: text, Offset: start}, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !math.IsInf(f, 0) {
		p.pos = start
		return nil, p.errorf("invalid number %s", text)
	}
	return &Value{Kind: JSONNumber, Num: pyFloat(f), Offset: start}, nil
}

// str reads a string literal at p.pos; the result is WTF-8.
func (p *parser) str() (string, error) {
	p.pos++ // "
	var b strings.Builder
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("invalid control character in a string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		esc := p.data[p.pos+1]
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4(p.pos + 2)
			if !ok {
				return "", p.errorf("invalid \\uXXXX escape")
			}
			p.pos += 6
			if utf16.IsSurrogate(r) && r < 0xdc00 && p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
				if r2, ok := p.hex4(p.pos + 2); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
					b.WriteRune(utf16.DecodeRune(r, r2))
					p.pos += 6
					continue
				}
			}
			writeWTF8(&b, r)
			continue
		default:
			return "", p.errorf("invalid \\escape")
		}
		p.pos += 2
	}
}

func (p *parser) hex4(i int) (rune, bool) {
	if i+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[i:i+4]), 16, 32)
	if err != nil || strings.ContainsAny(string(p.data[i:i+4]), "+-") {
		return 0, false
	}
	return rune(n), true
}

// writeWTF8 writes r, encoding a surrogate code point the way UTF-8 would
// encode any other three-byte code point (which Go's encoder refuses).
func writeWTF8(b *strings.Builder, r rune) {
	if utf16.IsSurrogate(r) {
		b.WriteByte(byte(0xe0 | r>>12))
		b.WriteByte(byte(0x80 | (r>>6)&0x3f))
		b.WriteByte(byte(0x80 | r&0x3f))
		return
	}
	b.WriteRune(r)
}

// decodeWTF8 decodes one code point of s, accepting encoded surrogates.
func decodeWTF8(s string) (rune, int) {
	if len(s) >= 3 && s[0] == 0xed && s[1] >= 0xa0 && s[1] <= 0xbf && s[2]&0xc0 == 0x80 {
		return rune(s[0]&0x0f)<<12 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), 3
	}
	return utf8.DecodeRuneInString(s)
}

// pyFloat renders f as Python's repr(float) does (json.dumps uses it).
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX, shortest
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	ds := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		out := ds[:1]
		if len(ds) > 1 {
			out += "." + ds[1:]
		}
		es := fmt.Sprintf("%+03d", exp)
		return sign + out + "e" + es
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + ds
	}
	if len(ds) <= exp+1 {
		return sign + ds + strings.Repeat("0", exp+1-len(ds)) + ".0"
	}
	return sign + ds[:exp+1] + "." + ds[exp+1:]
}

// Dump renders v as Python's json.dumps(v) does with its defaults: ", "
// and ": " separators, no indentation, members in order, every character
// outside printable ASCII escaped.
func Dump(v *Value) string {
	var b strings.Builder
	dump(&b, v)
	return b.String()
}

func dump(b *strings.Builder, v *Value) {
	switch v.Kind {
	case JSONNull:
		b.WriteString("null")
	case JSONBool:
		if v.Bool {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case JSONNumber:
		b.WriteString(v.Num)
	case JSONString:
		dumpString(b, v.Str)
	case JSONArray:
		b.WriteByte('[')
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			dump(b, e)
		}
		b.WriteByte(']')
	case JSONObject:
		b.WriteByte('{')
		for i, m := range v.Members {
			if i > 0 {
				b.WriteString(", ")
			}
			dumpString(b, m.Key)
			b.WriteString(": ")
			dump(b, m.Value)
		}
		b.WriteByte('}')
	}
}

func dumpString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for len(s) > 0 {
		r, n := decodeWTF8(s)
		s = s[n:]
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

// String returns a Value holding s.
func stringValue(s string) *Value { return &Value{Kind: JSONString, Str: s} }

// position turns a byte offset into a 1-based line and column (in
// characters), as editors count them.
func position(data []byte, off int) (line, col int) {
	line, col = 1, 1
	for i := 0; i < off && i < len(data); {
		if data[i] == '\n' {
			line++
			col = 1
			i++
			continue
		}
		_, n := utf8.DecodeRune(data[i:])
		i += n
		col++
	}
	return line, col
}
