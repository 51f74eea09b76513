package dburl

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"os/user"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultMySQLSQLMode is oslo.db's default [database] mysql_sql_mode.
const DefaultMySQLSQLMode = "TRADITIONAL"

var (
	mysqlOptions = []string{
		"charset", "unix_socket", "connect_timeout", "read_timeout", "write_timeout",
		"ssl_ca", "ssl_cert", "ssl_key", "ssl_check_hostname", "ssl_verify_cert",
	}
	// Options of the Python drivers that are accepted and ignored; see
	// the package documentation.
	mysqlIgnored = map[string]bool{
		"plugin": true, "binary_prefix": true, "program_name": true,
		"read_default_file": true, "read_default_group": true, "use_unicode": true,
	}
	identRE   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	sqlModeRE = regexp.MustCompile(`^[A-Za-z0-9_, ]*$`)
)

func buildMySQL(u *URL, o openOptions) string {
	p := u.p
	cfg := mysql.NewConfig()
	cfg.User = p.user
	if cfg.User == "" {
		// PyMySQL and libmysqlclient default to the login name.
		cfg.User = loginName()
	}
	cfg.Passwd = p.pass
	cfg.DBName = p.db
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	cfg.MultiStatements = false

	charset := "utf8" // oslo.db adds charset=utf8 unless the URL has one
	var socket string
	var tlsOpts mysqlTLS
	for _, q := range p.query {
		switch q.key {
		case "charset":
			if !identRE.MatchString(q.value) {
				return fmt.Sprintf("invalid value for query option \"charset\": %q", q.value)
			}
			charset = q.value
		case "unix_socket":
			socket = q.value
		case "connect_timeout", "read_timeout", "write_timeout":
			d, ok := parseSeconds(q.value)
			if !ok {
				return fmt.Sprintf("invalid value for query option %q: %q is not a positive number of seconds", q.key, q.value)
			}
			switch q.key {
			case "connect_timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "ssl_ca":
			tlsOpts.ca, tlsOpts.used = q.value, true
		case "ssl_cert":
			tlsOpts.cert, tlsOpts.used = q.value, true
		case "ssl_key":
			tlsOpts.key, tlsOpts.used = q.value, true
		case "ssl_check_hostname", "ssl_verify_cert":
			b, ok := parseBool(q.value)
			if !ok {
				return fmt.Sprintf("invalid value for query option %q: %q is not a boolean", q.key, q.value)
			}
			tlsOpts.used = true
			if q.key == "ssl_check_hostname" {
				tlsOpts.checkHost = &b
			} else {
				tlsOpts.verify = &b
			}
		default:
			if !mysqlIgnored[q.key] {
				return unknownOption(q.key, mysqlOptions)
			}
		}
	}
	if err := cfg.Apply(mysql.Charset(charset, "")); err != nil {
		return "invalid charset"
	}
	if o.sqlMode != "" {
		if !sqlModeRE.MatchString(o.sqlMode) {
			return fmt.Sprintf("invalid MySQL sql_mode %q", o.sqlMode)
		}
		cfg.Params = map[string]string{"sql_mode": "'" + o.sqlMode + "'"}
	}

	host := p.host
	if host == "" {
		host = "localhost"
	}
	port := p.port
	if port == "" {
		port = "3306"
	}
	if socket != "" {
		cfg.Net = "unix"
		cfg.Addr = socket
		u.Socket = socket
	} else {
		cfg.Net = "tcp"
		cfg.Addr = net.JoinHostPort(host, port)
		u.Host, u.Port = host, port
	}
	if tlsOpts.used {
		name, reason := tlsOpts.register(host)
		if reason != "" {
			return reason
		}
		cfg.TLSConfig = name
	}

	dsn := cfg.FormatDSN()
	// go-sql-driver's DSN grammar cannot carry every string (a ':' in the
	// user name, a ')' in a socket path...): check that it reads back.
	back, err := mysql.ParseDSN(dsn)
	if err != nil || back.User != cfg.User || back.Passwd != cfg.Passwd || back.Net != cfg.Net ||
		back.Addr != cfg.Addr || back.DBName != cfg.DBName {
		return "the user name, socket path or database name cannot be expressed in a go-sql-driver/mysql DSN"
	}
	u.Driver = "mysql"
	u.DSN = dsn
	u.User = cfg.User
	u.Database = p.db
	u.mysqlCfg = cfg
	return ""
}

// loginName mirrors Python's getpass.getuser(), which PyMySQL uses when the
// URL names no user.
func loginName() string {
	for _, k := range []string{"LOGNAME", "USER", "LNAME", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if cu, err := user.Current(); err == nil {
		return cu.Username
	}
	return ""
}

// parseSeconds accepts a positive (possibly fractional) number of seconds,
// at most a year, as PyMySQL does.
func parseSeconds(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 31536000 {
		return 0, false
	}
	return time.Duration(math.Round(f * float64(time.Second))), true
}

// mysqlTLS is the TLS part of a MySQL URL, with PyMySQL's semantics: any
// ssl_* option turns TLS on; without ssl_ca the server certificate is not
// verified; with ssl_ca it is verified against that CA and the host name
// is checked unless ssl_check_hostname=false; ssl_verify_cert overrides
// whether the certificate is verified (against ssl_ca, or the system
// roots when there is no ssl_ca).
type mysqlTLS struct {
	used              bool
	ca, cert, key     string
	verify, checkHost *bool
}

func (t mysqlTLS) register(host string) (name, reason string) {
	hasCA := t.ca != ""
	verify := hasCA
	if t.verify != nil {
		verify = *t.verify
	}
	checkHost := hasCA && verify
	if t.checkHost != nil {
		checkHost = *t.checkHost && verify
	}

	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	var pool *x509.CertPool
	if hasCA {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return "", fmt.Sprintf("cannot read ssl_ca file %q: %v", t.ca, describeFileErr(err))
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", fmt.Sprintf("ssl_ca file %q contains no PEM certificate", t.ca)
		}
	}
	if t.cert != "" || t.key != "" {
		if t.cert == "" {
			return "", "ssl_key needs ssl_cert"
		}
		certPEM, err := os.ReadFile(t.cert)
		if err != nil {
			return "", fmt.Sprintf("cannot read ssl_cert file %q: %v", t.cert, describeFileErr(err))
		}
		keyPEM := certPEM
		if t.key != "" {
			if keyPEM, err = os.ReadFile(t.key); err != nil {
				return "", fmt.Sprintf("cannot read ssl_key file %q: %v", t.key, describeFileErr(err))
			}
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return "", "ssl_cert/ssl_key do not hold a usable certificate and private key"
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	switch {
	case !verify:
		conf.InsecureSkipVerify = true
	case checkHost:
		conf.RootCAs = pool // nil: system roots
		conf.ServerName = host
	default:
		// Verify the chain but not the host name.
		conf.InsecureSkipVerify = true
		conf.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		}
	}

	h := sha256.New()
	fmt.Fprintf(h, "ca=%q cert=%q key=%q verify=%t check=%t host=%q", t.ca, t.cert, t.key, verify, checkHost, host)
	name = "dburl-" + hex.EncodeToString(h.Sum(nil))[:16]
	if err := mysql.RegisterTLSConfig(name, conf); err != nil {
		return "", "cannot register the TLS configuration"
	}
	return name, ""
}

func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return fmt.Errorf("server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}

func describeFileErr(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file"
	case os.IsPermission(err):
		return "permission denied"
	}
	return "read error"
}

// sortedKeys is used for stable messages and DSNs.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
