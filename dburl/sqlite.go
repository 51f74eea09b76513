package dburl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DefaultSQLiteBusyTimeout is how long a statement on an SQLite database
// waits for another connection's lock (SQLite's busy timeout) unless the
// URL has ?timeout= or WithSQLiteBusyTimeout says otherwise.
const DefaultSQLiteBusyTimeout = 30 * time.Second

var sqliteOptions = []string{"timeout", "check_same_thread", "cached_statements", "detect_types", "isolation_level"}

func buildSQLite(u *URL, o openOptions) string {
	p := u.p
	if p.hasUser || p.host != "" || p.port != "" {
		return "sqlite URLs take no user, password, host or port: write sqlite:///relative/path.db (3 slashes) or sqlite:////absolute/path.db (4 slashes)"
	}
	busy := int(DefaultSQLiteBusyTimeout.Milliseconds())
	for _, q := range p.query {
		switch q.key {
		case "timeout":
			// pysqlite's timeout, in (possibly fractional) seconds.
			f, err := strconv.ParseFloat(q.value, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 86400*365 {
				return fmt.Sprintf("invalid value for query option \"timeout\": %q is not a number of seconds", q.value)
			}
			busy = int(math.Round(f * 1000))
		case "check_same_thread", "cached_statements", "detect_types", "isolation_level":
			// Options of Python's sqlite3 module that only shape its
			// Python-side behaviour; nothing to do for Go.
		case "uri":
			return "query option \"uri\" (SQLite URI filenames) is not supported: name the database file directly"
		default:
			return unknownOption(q.key, sqliteOptions)
		}
	}
	if o.sqliteBusy >= 0 {
		busy = int(o.sqliteBusy.Milliseconds())
	}
	u.sqliteBusy = time.Duration(busy) * time.Millisecond
	db := p.db
	if db == ":memory:" {
		db = ""
	}
	u.Path = db
	u.Database = db
	u.Driver = "sqlite"

	fk := 0
	if o.sqliteFK {
		fk = 1
	}
	var b strings.Builder
	b.WriteString("file:")
	if db == "" {
		b.WriteString(":memory:")
	} else {
		esc := escapeSQLitePath(db)
		if strings.HasPrefix(esc, "//") {
			// "file://x" would make x a URI authority.
			b.WriteString("//")
		}
		b.WriteString(esc)
	}
	fmt.Fprintf(&b, "?_pragma=busy_timeout(%d)&_pragma=foreign_keys(%d)&_txlock=immediate", busy, fk)
	u.DSN = b.String()
	return ""
}

// escapeSQLitePath percent-encodes a file path for an SQLite "file:" URI:
// everything except unreserved characters, '/' and a few harmless
// sub-delimiters is encoded, in particular '%', '?' and '#'.
func escapeSQLitePath(path string) string {
	const safe = "-._~/!$&'()*+,;=:@"
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
