package dburl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Backend is the database family a URL selects: the dialect package's
// one backend type.
type Backend = dialect.Backend

// The supported backends (the dialect package's constants).
const (
	SQLite   = dialect.SQLite
	MySQL    = dialect.MySQL
	Postgres = dialect.PostgreSQL
)

// URL is a parsed SQLAlchemy database URL together with what is needed to
// open it with database/sql. Only Parse creates usable values.
type URL struct {
	Backend Backend
	// Dialect is the SQLAlchemy dialect name upstream sees: "sqlite",
	// "mysql", "mariadb" (for mariadb:// and mariadb+<driver>://) or
	// "postgresql". Upstream's rolling-upgrade commands accept only
	// "mysql" and "sqlite".
	Dialect string
	// Driver is the database/sql driver name for sql.Open: "sqlite"
	// (modernc.org/sqlite), "mysql" (go-sql-driver) or "pgx".
	Driver string
	// DSN is the data source name for Driver, built with the default
	// OpenOptions. It contains the password.
	DSN string
	// Path is the SQLite database file as written in the URL, relative
	// to the working directory unless absolute; "" for in-memory.
	Path string
	// Host, Port, User and Database are informational. Host is empty
	// when a unix socket is used (see Socket); Port is the effective
	// TCP port (defaults filled in); User is the effective user name.
	Host, Port, User, Database string
	// Socket is the MySQL unix socket path (?unix_socket=) or the
	// PostgreSQL socket directory (?host=/dir); "" otherwise.
	Socket string

	p          *parts
	password   string
	mysqlCfg   *mysql.Config // MySQL only
	sqliteBusy time.Duration // SQLite only: the busy timeout
}

// Redacted returns the URL as written, with the password replaced by
// "****" (and the values of password-like query options likewise). It
// never contains the password.
func (u *URL) Redacted() string {
	if u == nil || u.p == nil {
		return ""
	}
	return u.p.redacted()
}

// String returns the same as Redacted, so that printing a URL with %v
// or %s cannot leak the password.
func (u *URL) String() string { return u.Redacted() }

// GoString keeps %#v from printing the unexported password.
func (u *URL) GoString() string { return fmt.Sprintf("dburl.URL(%q)", u.Redacted()) }

// schemeInfo describes one accepted "dialect[+driver]" scheme.
type schemeInfo struct {
	backend Backend
	dialect string
}

var schemes = map[string]schemeInfo{
	"sqlite":                 {SQLite, "sqlite"},
	"sqlite+pysqlite":        {SQLite, "sqlite"},
	"mysql":                  {MySQL, "mysql"},
	"mysql+pymysql":          {MySQL, "mysql"},
	"mysql+mysqldb":          {MySQL, "mysql"},
	"mysql+mysqlconnector":   {MySQL, "mysql"},
	"mariadb":                {MySQL, "mariadb"},
	"mariadb+pymysql":        {MySQL, "mariadb"},
	"mariadb+mysqldb":        {MySQL, "mariadb"},
	"mariadb+mysqlconnector": {MySQL, "mariadb"},
	"postgresql":             {Postgres, "postgresql"},
	"postgres":               {Postgres, "postgresql"},
	"postgresql+psycopg2":    {Postgres, "postgresql"},
	"postgresql+psycopg":     {Postgres, "postgresql"},
	"postgresql+pg8000":      {Postgres, "postgresql"},
}

// SupportedSchemes returns the accepted URL schemes, sorted.
func SupportedSchemes() []string {
	out := make([]string, 0, len(schemes))
	for s := range schemes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// supportedList names the supported schemes compactly, for messages.
func supportedList() string {
	return "sqlite[+pysqlite], mysql[+pymysql|+mysqldb|+mysqlconnector], mariadb[+pymysql|+mysqldb|+mysqlconnector], " +
		"postgresql[+psycopg2|+psycopg|+pg8000], postgres"
}

type queryParam struct{ key, value string }

// parts is the SQLAlchemy-level decomposition of a URL, before any
// backend-specific interpretation.
type parts struct {
	raw     string // the whole URL as given (trimmed)
	scheme  string // as written
	info    schemeInfo
	hasUser bool   // a userinfo "...@" is present
	userRaw string // username as written (percent-encoded)
	user    string // decoded
	hasPass bool
	pass    string // decoded password
	after   string // raw text after the userinfo: host, port, database, query
	host    string // without IPv6 brackets
	port    string
	hasDB   bool
	db      string // not percent-decoded, as SQLAlchemy
	query   []queryParam
}

// strayAt reports whether an '@' follows the user information: the tail
// of a password with an unencoded '@' ("u:Qw7@h9/db@host/glance" reads as
// password "Qw7", host "h9", database "db@host/glance"), wherever it
// lands: host, port, database or query. An SQLite URL has no user
// information, and its path may hold an '@'.
func (p *parts) strayAt() bool {
	return (p.info.backend != SQLite || p.hasUser) && strings.Contains(p.after, "@")
}

// redacted shows the URL with its password (and password-like query
// values) replaced by "****". When an '@' follows the user information,
// everything up to the last '@' is hidden, user name included: which part
// of it is the password cannot be known.
func (p *parts) redacted() string {
	if p.strayAt() {
		after := p.after[strings.LastIndexByte(p.after, '@'):]
		return escapeControls(p.scheme + "://****" + redactQuery(after))
	}
	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.hasUser {
		b.WriteString(p.userRaw)
		if p.hasPass {
			b.WriteString(":****")
		}
		b.WriteByte('@')
	}
	b.WriteString(redactQuery(p.after))
	return escapeControls(b.String())
}

// Parse parses an SQLAlchemy database URL as written in glance-api.conf's
// [database] connection option. See the package documentation for the
// accepted forms. Errors are *ParseError values wrapping
// ErrUnsupportedScheme or ErrMalformed.
func Parse(raw string) (*URL, error) {
	return parse(raw, nil, defaultOpenOptions())
}

func parse(raw string, extra []queryParam, o openOptions) (*URL, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, &ParseError{
			Reason: "empty database URL (supported schemes: " + supportedList() + ")",
			Err:    ErrUnsupportedScheme,
		}
	}
	if strings.ContainsFunc(s, isControl) {
		return nil, &ParseError{URL: conservativeRedact(s), Reason: "database URL contains control characters", Err: ErrMalformed}
	}
	i := strings.Index(s, "://")
	if i < 0 {
		reason := "not a database URL: expected <scheme>://... (supported schemes: " + supportedList() + ")"
		if strings.HasPrefix(s, "/") || strings.HasSuffix(s, ".db") || strings.HasSuffix(s, ".sqlite") {
			reason += "; an SQLite file is written sqlite:///relative/path or sqlite:////absolute/path"
		}
		return nil, &ParseError{URL: conservativeRedact(s), Reason: reason, Err: ErrUnsupportedScheme}
	}
	scheme := s[:i]
	info, ok := schemes[strings.ToLower(scheme)]
	if !ok {
		var reason string
		if !validScheme(scheme) {
			reason = "invalid database URL scheme"
		} else {
			reason = fmt.Sprintf("unsupported database URL scheme %q", scheme)
		}
		return nil, &ParseError{
			URL:    conservativeRedact(s),
			Reason: reason + " (supported schemes: " + supportedList() + ")",
			Err:    ErrUnsupportedScheme,
		}
	}
	p := &parts{raw: s, scheme: scheme, info: info}
	rest := s[i+3:]

	// Userinfo, following SQLAlchemy's URL grammar: a user name without
	// ':' or '/', optionally ":" and a password without '@', then '@'.
	// So the userinfo ends at the first '@', and a raw '/', ':', '?' or
	// '#' inside the password is fine; only '@' (and '%') must be
	// percent-encoded.
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		name, pw, hasPW := strings.Cut(rest[:at], ":")
		if !strings.Contains(name, "/") {
			p.hasUser = true
			p.userRaw = name
			p.user = pyUnquote(name)
			if hasPW {
				p.hasPass = true
				p.pass = pyUnquote(pw)
			}
			rest = rest[at+1:]
		}
	}
	p.after = rest

	fail := func(reason string) (*URL, error) {
		return nil, &ParseError{URL: p.redacted(), Reason: reason, Err: ErrMalformed}
	}
	if p.strayAt() {
		// Refused rather than parsed as SQLAlchemy does (which connects
		// to the wrong server, or names a database that does not exist).
		// The reason names no part of the URL: all of it may be password.
		return fail("the URL has more than one '@': percent-encode an '@' in the user name or password as %40")
	}

	// Host: "[ipv6]" or a name without '/', ':' or '?'.
	if strings.HasPrefix(rest, "[") {
		stop := strings.IndexAny(rest, "/?")
		if stop < 0 {
			stop = len(rest)
		}
		end := strings.LastIndexByte(rest[:stop], ']')
		if end < 2 {
			return fail("unterminated or empty IPv6 address in host")
		}
		p.host = rest[1:end]
		rest = rest[end+1:]
	} else {
		stop := strings.IndexAny(rest, "/:?")
		if stop < 0 {
			stop = len(rest)
		}
		p.host = rest[:stop]
		rest = rest[stop:]
	}
	if strings.HasPrefix(rest, ":") {
		stop := strings.IndexAny(rest, "/?")
		if stop < 0 {
			stop = len(rest)
		}
		p.port = rest[1:stop]
		rest = rest[stop:]
	}
	if strings.HasPrefix(rest, "/") {
		stop := strings.IndexByte(rest, '?')
		if stop < 0 {
			stop = len(rest)
		}
		p.hasDB = true
		p.db = rest[1:stop]
		rest = rest[stop:]
	}
	rawQuery := ""
	if strings.HasPrefix(rest, "?") {
		rawQuery = rest[1:]
		rest = ""
	}
	if rest != "" {
		return fail("unexpected text after the host part")
	}
	if strings.ContainsAny(p.host, "[] \t") {
		return fail("invalid host")
	}
	if p.port != "" {
		n, err := strconv.Atoi(p.port)
		if err != nil || n < 1 || n > 65535 || strings.ContainsAny(p.port, "+-") {
			return fail(fmt.Sprintf("invalid port %q: must be a number from 1 to 65535", p.port))
		}
	}
	if strings.ContainsRune(p.user, 0) || strings.ContainsRune(p.pass, 0) || strings.ContainsRune(p.db, 0) {
		return fail("the user name, password or database name contains a NUL byte")
	}
	p.query = append(parseQSL(rawQuery), extra...)
	// SQLAlchemy turns a repeated option into a list, which no driver
	// option here accepts; reject conflicting repeats, allow harmless ones.
	seen := map[string]string{}
	var dedup []queryParam
	for _, q := range p.query {
		if strings.ContainsRune(q.key, 0) || strings.ContainsRune(q.value, 0) {
			return fail("a query option contains a NUL byte")
		}
		if prev, ok := seen[q.key]; ok {
			if prev != q.value {
				return fail(fmt.Sprintf("query option %q is given more than once with different values", q.key))
			}
			continue
		}
		seen[q.key] = q.value
		dedup = append(dedup, q)
	}
	p.query = dedup

	u := &URL{Backend: info.backend, Dialect: info.dialect, p: p, password: p.pass}
	var reason string
	switch info.backend {
	case SQLite:
		reason = buildSQLite(u, o)
	case MySQL:
		reason = buildMySQL(u, o)
	case Postgres:
		reason = buildPostgres(u, o)
	}
	if reason != "" {
		return fail(reason)
	}
	return u, nil
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// pyUnquote decodes %XX escapes like Python's urllib.parse.unquote: valid
// escapes are decoded, anything else (a lone '%', '%zz') is kept as is, and
// '+' stays '+'. The bytes are kept as decoded (no UTF-8 repair).
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// parseQSL splits a query string like Python's urllib.parse.parse_qsl with
// its defaults, which SQLAlchemy uses: pairs are separated by '&', a pair
// without '=' or with an empty value is dropped, and '+' means space.
func parseQSL(q string) []queryParam {
	var out []queryParam
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" {
			continue
		}
		out = append(out, queryParam{
			key:   pyUnquote(strings.ReplaceAll(k, "+", " ")),
			value: pyUnquote(strings.ReplaceAll(v, "+", " ")),
		})
	}
	return out
}

// isSecretKey reports whether a query option's value must be hidden.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "pass") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// redactQuery hides the values of password-like query options in the raw
// text after the userinfo.
func redactQuery(after string) string {
	i := strings.IndexByte(after, '?')
	if i < 0 {
		return after
	}
	pairs := strings.Split(after[i+1:], "&")
	for j, pair := range pairs {
		// An empty value hides nothing, and parsing drops it (as
		// parse_qsl does); masked, it would become an option the URL
		// never had.
		k, v, ok := strings.Cut(pair, "=")
		if ok && v != "" && isSecretKey(pyUnquote(strings.ReplaceAll(k, "+", " "))) {
			pairs[j] = k + "=****"
		}
	}
	return after[:i+1] + strings.Join(pairs, "&")
}

// conservativeRedact hides everything that could be a password in a string
// whose structure is not known (the URL failed to parse): the span between
// the first ':' of the part after "scheme://" and the last '@', or all of
// it up to the last '@' when there are several. It may hide more than the
// password, never less.
func conservativeRedact(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	rest := s[start:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if strings.IndexByte(rest[:at], '@') >= 0 {
			// Several '@': the user name may hold part of the password.
			rest = "****" + rest[at:]
		} else if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			rest = rest[:c+1] + "****" + rest[at:]
		}
	}
	return escapeControls(s[:start] + redactQuery(rest))
}

// escapeControls percent-encodes control characters so that a URL shown in
// a message stays on one line.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseBool accepts the spellings of SQLAlchemy's asbool.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, true
	case "false", "no", "off", "n", "f", "0":
		return false, true
	}
	return false, false
}

func unknownOption(key string, supported []string) string {
	return fmt.Sprintf("unknown query option %q (supported: %s)", key, strings.Join(supported, ", "))
}
