// Package dburl turns the SQLAlchemy database URLs that operators write in
// glance-api.conf ([database] connection) into Go database/sql connections.
//
// # Grammar
//
// URLs are split the way SQLAlchemy splits them:
//
//	dialect[+driver]://[user[:password]@][host][:port][/database][?query]
//
// In detail:
//
//   - The userinfo ends at the first '@'. A password may therefore contain
//     raw '/', ':', '?' and '#', but an '@' in it must be written %40. A
//     URL with an '@' after the userinfo (in the host, port, database or
//     query) is refused as malformed, where SQLAlchemy would connect to
//     the wrong host or database: it is most likely the tail of a password
//     with an unencoded '@', so every message shows such a URL with
//     everything up to its last '@' hidden ("mysql://****@host/glance").
//     A database name or query value cannot contain a raw '@' for this
//     reason (in a query value, write %40; SQLite paths are not affected).
//     User name and password are percent-decoded (%XX), as
//     Python's urllib.parse.unquote does: invalid escapes stay literal and
//     '+' stays '+'. So p%40ss is "p@ss" and pw%40%25%2F%21%23%24%28%29 is
//     "pw@%/!#$()". A '%' that is not followed by two hex digits is kept.
//   - The database part is not percent-decoded (SQLAlchemy does not).
//   - Query options are decoded like Python's parse_qsl: '+' is a space,
//     options without '=' or with an empty value are dropped. Repeating an
//     option with a different value is an error.
//   - An IPv6 host is written in brackets: mysql://u:p@[fd00::5]:3306/db.
//   - Surrounding whitespace is ignored; control characters are an error.
//     The scheme is matched case-insensitively.
//
// Errors never contain the password: it is replaced by "****" wherever the
// URL is shown (Redacted, String, ParseError.URL, ConnectError), and
// password-like query values (keys containing "pass", "secret", "token")
// are hidden too.
//
// # SQLite
//
//	sqlite:///relative/path.db      relative to the working directory
//	sqlite:////absolute/path.db     absolute (four slashes)
//	sqlite://  sqlite:///  sqlite:///:memory:   in memory
//
// The scheme sqlite+pysqlite is accepted too. The URL may not have a user,
// password, host or port (sqlite://glance.db, with two slashes, is an
// error). Driver "sqlite" (modernc.org/sqlite); the DSN is a file: URI with
// the path percent-encoded, busy_timeout DefaultSQLiteBusyTimeout (30 s),
// foreign_keys off (the upstream migrations run with foreign keys off; see
// WithSQLiteForeignKeys) and _txlock=immediate. Query options: timeout
// (seconds, sets busy_timeout; WithSQLiteBusyTimeout overrides it);
// check_same_thread, cached_statements, detect_types and
// isolation_level are accepted and ignored (they only shape Python's
// sqlite3 module); uri and anything else is an error.
//
// # MySQL and MariaDB
//
// Schemes mysql, mysql+pymysql, mysql+mysqldb, mysql+mysqlconnector and the
// same with mariadb. All have Backend MySQL and driver "mysql"
// (go-sql-driver/mysql); Dialect is "mariadb" for the mariadb schemes,
// which upstream's rolling-upgrade commands refuse. Defaults: host
// localhost (always over TCP; use ?unix_socket= for a socket), port 3306,
// user the login name (as PyMySQL). Query options:
//
//	charset            default utf8, as oslo.db adds (utf8mb3 on MariaDB 10.11)
//	unix_socket        path of the server socket
//	connect_timeout    seconds (may be fractional)
//	read_timeout       seconds
//	write_timeout      seconds
//	ssl_ca ssl_cert ssl_key ssl_check_hostname ssl_verify_cert
//
// Any ssl_* option turns TLS on with PyMySQL's rules: without ssl_ca the
// server certificate is not verified; with ssl_ca it is verified against
// it and the host name is checked unless ssl_check_hostname=false;
// ssl_verify_cert=true|false forces verification on or off. The tls.Config
// is registered with mysql.RegisterTLSConfig under a name derived from the
// options, so parsing the same URL twice gives the same DSN.
//
// The options plugin, binary_prefix, program_name, read_default_file,
// read_default_group and use_unicode are accepted and ignored. Note that
// this means a my.cnf named by read_default_file is NOT read: credentials
// and host must be in the URL. Any other option is an error.
//
// Every connection gets parseTime=true, UTC times, interpolateParams=true,
// no multi-statements, and the session sql_mode TRADITIONAL (oslo.db's
// default; see WithMySQLSQLMode).
//
// # PostgreSQL
//
// Schemes postgresql, postgres, postgresql+psycopg2, postgresql+psycopg and
// postgresql+pg8000; driver "pgx" (github.com/jackc/pgx/v5/stdlib). The DSN
// is a libpq keyword/value string with every value quoted. What the URL
// leaves out is left to libpq's defaults, as psycopg2 does: PGHOST,
// PGPORT, PGUSER, PGPASSWORD, ~/.pgpass and the default socket
// directories; URL.Port shows 5432 when no port is given. Query options:
// host (a socket directory such as /var/run/postgresql, or a host name
// when the URL has none), sslmode, sslrootcert, sslcert, sslkey,
// connect_timeout (whole seconds), application_name, options,
// target_session_attrs and client_encoding (UTF8 only). Anything else is
// an error.
//
// # Opening
//
// Open rebuilds the DSN with its options (WithMySQLSQLMode,
// WithSQLiteForeignKeys, WithSQLiteBusyTimeout, WithConnectionParameters),
// opens a small pool (one connection for SQLite, four otherwise) and pings
// it. Failures are *ConnectError values whose text is scrubbed of the
// password and which match ErrAuth or ErrUnreachable under errors.Is when
// the cause is known (an SQLite file that cannot be created in its
// directory is a *ReadOnlyError). Open does not retry; oslo.db's
// max_retries/retry_interval are the caller's business.
//
// # Waits and failures in use
//
// SQLite connections are wrapped (see sqlitewatch.go): a call that waits
// for another connection's lock on the file is reported after
// BusyNoticeAfter with the process holding it (WithSQLiteBusyNotice, from
// /proc/locks), and fails after the busy timeout with a *BusyError
// (ErrBusy) naming the file, the holder and the time waited; a write the
// file system refuses is a *ReadOnlyError (ErrReadOnly) naming the file or
// the directory where SQLite cannot create its journal. ConnectionLost
// recognises the errors of a connection the server closed or dropped
// while in use (MySQL KILL, pg_terminate_backend, a restart). The MySQL
// driver's own log lines go to SetDriverLog's function, by default
// nowhere.
package dburl
