package oslog

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON records as oslo.log's JSONFormatter writes them: its keys in its
// order, encoded as Python's json.dumps does by default (", " and ": "
// separators, non-ASCII as \uXXXX escapes, floats with a ".0").

// kv is one key of a JSON object, in order.
type kv struct {
	k string
	v jsonValue
}

// jsonValue is encoded JSON.
type jsonValue struct{ raw string }

func jsonString(s string) jsonValue { return jsonValue{raw: pyJSONString(s)} }
func jsonInt(i int64) jsonValue     { return jsonValue{raw: strconv.FormatInt(i, 10)} }
func jsonFloat(f float64) jsonValue { return jsonValue{raw: pyFloatRepr(f)} }

func jsonObject(items []kv) jsonValue {
	if len(items) == 0 {
		return jsonValue{raw: "{}"}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyJSONString(it.k))
		b.WriteString(": ")
		b.WriteString(it.v.raw)
	}
	b.WriteByte('}')
	return jsonValue{raw: b.String()}
}

// pyJSONString encodes s as Python's json.dumps(ensure_ascii=True).
func pyJSONString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
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
		case r < 0x20 || (r >= 0x7f && r < 0x10000):
			if r == 0x7f {
				b.WriteRune(r) // Python leaves DEL as it is
				continue
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// attrJSON encodes an slog attribute value for "extra".
func attrJSON(v slog.Value) jsonValue {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return jsonString(v.String())
	case slog.KindInt64:
		return jsonInt(v.Int64())
	case slog.KindUint64:
		return jsonValue{raw: strconv.FormatUint(v.Uint64(), 10)}
	case slog.KindFloat64:
		return jsonFloat(v.Float64())
	case slog.KindBool:
		if v.Bool() {
			return jsonValue{raw: "true"}
		}
		return jsonValue{raw: "false"}
	case slog.KindDuration:
		return jsonFloat(v.Duration().Seconds())
	case slog.KindTime:
		return jsonString(v.Time().Format(time.RFC3339Nano))
	case slog.KindGroup:
		var items []kv
		for _, a := range v.Group() {
			items = append(items, kv{a.Key, attrJSON(a.Value)})
		}
		return jsonObject(items)
	}
	return jsonString(fmt.Sprint(v.Any()))
}

// formatJSON is the JSONFormatter's record.
func (h *shared) formatJSON(r *record) string {
	context := jsonObject(nil)
	if r.requestID != "" {
		context = jsonObject(r.contextValues())
	}
	var extra []kv
	for _, a := range r.extra {
		extra = append(extra, kv{a.Key, attrJSON(a.Value)})
	}
	return jsonObject([]kv{
		{"message", jsonString(r.message)},
		{"asctime", jsonString(pyStrftime(h.opts.DateFormat, r.t))},
		{"name", jsonString(r.name)},
		// The message comes formatted: msg is the message itself, args
		// empty.
		{"msg", jsonString(r.message)},
		{"args", jsonValue{raw: "[]"}},
		{"levelname", jsonString(r.levelname)},
		{"levelno", jsonInt(int64(r.levelno))},
		{"pathname", jsonString(r.pathname)},
		{"filename", jsonString(r.filename())},
		{"module", jsonString(r.module())},
		{"lineno", jsonInt(int64(r.lineno))},
		{"funcname", jsonString(r.funcName)},
		{"created", jsonFloat(r.created())},
		{"msecs", jsonFloat(r.msecs())},
		{"relative_created", jsonFloat(r.relativeCreated())},
		{"thread", jsonInt(int64(threadID()))},
		{"thread_name", jsonString("MainThread")},
		{"process_name", jsonString("MainProcess")},
		{"process", jsonInt(int64(h.pid))},
		{"traceback", jsonValue{raw: "null"}},
		{"hostname", h.hostname},
		{"error_summary", jsonString("")},
		{"context", context},
		{"extra", jsonObject(extra)},
	}).raw
}
