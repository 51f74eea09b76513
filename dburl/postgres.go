package dburl

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

var postgresOptions = []string{
	"host", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout",
	"application_name", "options", "target_session_attrs", "client_encoding",
}

var (
	sslModes     = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
	sessionAttrs = []string{"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}
)

func buildPostgres(u *URL, _ openOptions) string {
	p := u.p
	// libpq keyword/value pairs; like psycopg2 under SQLAlchemy, the URL
	// gives host, port, user, password and dbname and the query adds to
	// them. Missing values are left to pgx/libpq defaults (PGHOST,
	// PGPORT, PGUSER, PGPASSWORD, ~/.pgpass, the default socket dirs).
	kv := map[string]string{}
	if p.host != "" {
		kv["host"] = p.host
	}
	if p.port != "" {
		kv["port"] = p.port
	}
	if p.user != "" {
		kv["user"] = p.user
	}
	if p.hasPass && p.pass != "" {
		kv["password"] = p.pass
	}
	if p.db != "" {
		kv["dbname"] = p.db
	}
	for _, q := range p.query {
		v := q.value
		switch q.key {
		case "host":
			if p.host != "" && p.host != v {
				return "the host is given both in the URL and as query option \"host\""
			}
		case "sslmode":
			if !oneOf(v, sslModes) {
				return fmt.Sprintf("invalid value for query option \"sslmode\": %q (one of %s)", v, strings.Join(sslModes, ", "))
			}
		case "target_session_attrs":
			if !oneOf(v, sessionAttrs) {
				return fmt.Sprintf("invalid value for query option \"target_session_attrs\": %q (one of %s)", v, strings.Join(sessionAttrs, ", "))
			}
		case "connect_timeout":
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Sprintf("invalid value for query option \"connect_timeout\": %q is not a whole number of seconds", v)
			}
		case "client_encoding":
			// pgx only speaks UTF-8.
			if e := strings.ToLower(strings.ReplaceAll(v, "-", "")); e != "utf8" && e != "unicode" {
				return fmt.Sprintf("unsupported client_encoding %q: only UTF8 is supported", v)
			}
			v = "UTF8"
		case "sslrootcert", "sslcert", "sslkey", "application_name", "options":
		default:
			return unknownOption(q.key, postgresOptions)
		}
		kv[q.key] = v
	}

	// libpq's default, sslmode=prefer, starts every connection with a TLS
	// handshake, which costs more than `db version`'s queries. Over the
	// loopback interface TLS protects nothing, so there, when neither the
	// URL nor PGSSLMODE chooses, plain TCP is tried first and TLS only if
	// the server demands it (sslmode=allow).
	if _, ok := kv["sslmode"]; !ok && os.Getenv("PGSSLMODE") == "" && isLoopback(kv["host"]) {
		kv["sslmode"] = "allow"
	}

	var b strings.Builder
	order := []string{"host", "port", "user", "password", "dbname"}
	written := map[string]bool{}
	write := func(k string) {
		if v, ok := kv[k]; ok && !written[k] {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(quoteConnValue(v))
			written[k] = true
		}
	}
	for _, k := range order {
		write(k)
	}
	for _, k := range sortedKeys(kv) {
		write(k)
	}

	u.Driver = "pgx"
	u.DSN = b.String()
	u.User = p.user
	u.Database = p.db
	host := kv["host"]
	if strings.HasPrefix(host, "/") {
		u.Socket = host
	} else {
		u.Host = host
	}
	u.Port = p.port
	if u.Port == "" {
		u.Port = "5432"
	}
	return ""
}

// isLoopback reports whether host names this machine over TCP:
// localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// quoteConnValue quotes a libpq keyword/value value: single quotes, with
// backslash and quote escaped by a backslash.
func quoteConnValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}
