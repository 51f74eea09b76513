package oslog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ncruces/go-strftime"
)

// Python's %-formatting of a log record, as logging.Formatter does with
// oslo.log's format strings: "%(name)s", "%(msecs)03d",
// "%(levelname)-8s", "%%". A key is a record attribute (see
// record.value); an unknown key gives "-" where Python would fail the
// record. Supported conversions: s r a d i u f F e E g G x X o c; flags
// '-', '0', ' ', '+', '#'; width; precision.

// pyValue is a record attribute as Python holds it.
type pyValue struct {
	kind byte // 's' string, 'i' int, 'f' float, 'n' None
	s    string
	i    int64
	f    float64
}

func pyStr(s string) pyValue    { return pyValue{kind: 's', s: s} }
func pyInt(i int64) pyValue     { return pyValue{kind: 'i', i: i} }
func pyFloat(f float64) pyValue { return pyValue{kind: 'f', f: f} }

var pyNone = pyValue{kind: 'n'}

// str is Python's str() of the value.
func (v pyValue) str() string {
	switch v.kind {
	case 's':
		return v.s
	case 'i':
		return strconv.FormatInt(v.i, 10)
	case 'f':
		return pyFloatRepr(v.f)
	}
	return "None"
}

// pyFloatRepr is Python's repr() of a float in the ranges log records
// hold: the shortest round-trip digits, with ".0" when integral.
func pyFloatRepr(f float64) string {
	if f != 0 && (f >= 1e16 || f <= -1e16 || (f < 1e-4 && f > -1e-4)) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Python writes 1e+16 and 1e-05.
		if i := strings.IndexAny(s, "e"); i >= 0 && len(s) == i+3 {
			s = s[:i+2] + "0" + s[i+2:]
		}
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// segment is a literal, or a %(key)spec conversion.
type segment struct {
	lit   string
	key   string
	flags string
	width int
	prec  int // -1: none
	conv  byte
}

// pyFormat is a parsed format string.
type pyFormat struct {
	src  string
	segs []segment
}

// parsePyFormat parses a %-style format string. Anything that is not a
// well-formed "%(key)..." or "%%" is kept literally.
func parsePyFormat(src string) *pyFormat {
	f := &pyFormat{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.segs = append(f.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(src) && src[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		seg, n, ok := parseSpec(src[i:])
		if !ok {
			lit.WriteByte(c)
			continue
		}
		flush()
		f.segs = append(f.segs, seg)
		i += n - 1
	}
	flush()
	return f
}

// parseSpec parses "%(key)flags width .prec conv" at the start of s and
// returns it and its length.
func parseSpec(s string) (segment, int, bool) {
	seg := segment{prec: -1}
	if len(s) < 4 || s[1] != '(' {
		return seg, 0, false
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return seg, 0, false
	}
	seg.key = s[2:end]
	i := end + 1
	for i < len(s) && strings.IndexByte("-0 +#", s[i]) >= 0 {
		seg.flags += s[i : i+1]
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > start {
		seg.width, _ = strconv.Atoi(s[start:i])
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		seg.prec, _ = strconv.Atoi(s[start:i])
	}
	// Python accepts and ignores a length modifier.
	if i < len(s) && strings.IndexByte("hlL", s[i]) >= 0 {
		i++
	}
	if i >= len(s) || strings.IndexByte("sradiufFeEgGxXoc", s[i]) < 0 {
		return seg, 0, false
	}
	seg.conv = s[i]
	return seg, i + 1, true
}

// format renders the format with values from get; a key get does not
// know renders as "-".
func (f *pyFormat) format(get func(key string) (pyValue, bool)) string {
	var b strings.Builder
	for _, s := range f.segs {
		if s.conv == 0 {
			b.WriteString(s.lit)
			continue
		}
		v, ok := get(s.key)
		if !ok {
			b.WriteString("-")
			continue
		}
		b.WriteString(s.render(v))
	}
	return b.String()
}

func (s segment) render(v pyValue) string {
	var body string
	numeric := false
	switch s.conv {
	case 's':
		body = v.str()
		if s.prec >= 0 && len([]rune(body)) > s.prec {
			body = string([]rune(body)[:s.prec])
		}
	case 'r', 'a':
		body = v.str()
		if v.kind == 's' {
			body = "'" + strings.ReplaceAll(strings.ReplaceAll(body, `\`, `\\`), "'", `\'`) + "'"
		}
		if s.prec >= 0 && len([]rune(body)) > s.prec {
			body = string([]rune(body)[:s.prec])
		}
	case 'c':
		switch v.kind {
		case 'i':
			body = string(rune(v.i))
		default:
			body = v.str()
		}
	default:
		numeric = true
		var ok bool
		body, ok = s.number(v)
		if !ok {
			// Python fails the record (TypeError); oslo.log then logs
			// an error line instead. Keep the value readable.
			body, numeric = v.str(), false
		}
	}
	pad := s.width - utf8.RuneCountInString(body)
	if pad <= 0 {
		return body
	}
	switch {
	case strings.Contains(s.flags, "-"):
		return body + strings.Repeat(" ", pad)
	case numeric && strings.Contains(s.flags, "0"):
		sign := ""
		if body != "" && strings.IndexByte("+- ", body[0]) >= 0 {
			sign, body = body[:1], body[1:]
		}
		return sign + strings.Repeat("0", pad) + body
	}
	return strings.Repeat(" ", pad) + body
}

// number formats v for the numeric conversions.
func (s segment) number(v pyValue) (string, bool) {
	var i int64
	var f float64
	switch v.kind {
	case 'i':
		i, f = v.i, float64(v.i)
	case 'f':
		i, f = int64(v.f), v.f // Python's int() truncates
	default:
		return "", false
	}
	sign := func(str string, neg bool) string {
		switch {
		case neg:
			return "-" + str
		case strings.Contains(s.flags, "+"):
			return "+" + str
		case strings.Contains(s.flags, " "):
			return " " + str
		}
		return str
	}
	prec := s.prec
	switch s.conv {
	case 'd', 'i', 'u':
		neg := i < 0
		if neg {
			i = -i
		}
		str := strconv.FormatInt(i, 10)
		if prec > len(str) {
			str = strings.Repeat("0", prec-len(str)) + str
		}
		return sign(str, neg), true
	case 'x', 'X', 'o':
		neg := i < 0
		if neg {
			i = -i
		}
		base, prefix := 16, "0x"
		if s.conv == 'o' {
			base, prefix = 8, "0o"
		}
		str := strconv.FormatInt(i, base)
		if s.conv == 'X' {
			str, prefix = strings.ToUpper(str), "0X"
		}
		if strings.Contains(s.flags, "#") {
			str = prefix + str
		}
		return sign(str, neg), true
	default: // f F e E g G
		if prec < 0 {
			prec = 6
		}
		neg := f < 0
		if neg {
			f = -f
		}
		conv := s.conv
		if conv == 'F' {
			conv = 'f'
		}
		if conv == 'g' || conv == 'G' {
			if prec == 0 {
				prec = 1
			}
		}
		str := strconv.FormatFloat(f, conv, prec, 64)
		if conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G' {
			str = pyExponent(str)
		}
		return sign(str, neg), true
	}
}

// pyExponent writes Go's "e+7" exponents as C does: at least two digits.
func pyExponent(s string) string {
	i := strings.IndexAny(s, "eE")
	if i < 0 || len(s) != i+3 {
		return s
	}
	return s[:i+2] + "0" + s[i+2:]
}

// glibcSpecs are the conversions glibc's strftime knows, which Python's
// time.strftime (and so logging's asctime) hands it on Linux. Anything
// else is printed as written, as glibc does; go-strftime would render
// some of them (%f, %L, %N, %Q, %v, %+, %:z).
const glibcSpecs = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%"

// pyStrftime formats t with a Python (C) strftime format.
func pyStrftime(format string, t time.Time) string {
	return strftime.Format(glibcOnly(format), t)
}

// glibcOnly escapes the '%' of every conversion glibc does not know.
func glibcOnly(format string) string {
	if !strings.Contains(format, "%") {
		return format
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		if j < len(format) && format[j] == '-' { // glibc's no-padding flag, which go-strftime has
			j++
		}
		if j < len(format) && (format[j] == 'E' || format[j] == 'O') {
			j++
		}
		if j < len(format) && strings.IndexByte(glibcSpecs, format[j]) >= 0 {
			b.WriteString(format[i : j+1])
			i = j
			continue
		}
		b.WriteString("%%")
	}
	return b.String()
}
