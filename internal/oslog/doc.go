// Package oslog logs the way oslo.log does for upstream's glance-manage:
// the same options, read from the same places, and records in the same
// formats, written to the same destinations.
//
// # Options
//
// Resolve reads oslo.log's options from the command line (RegisterFlags)
// and from the configuration ([DEFAULT] of glance-api.conf and the other
// files, and OS_DEFAULT__<OPTION> variables, as internal/config resolves
// them); the command line wins, as with oslo.config. Deprecated names
// (logfile, logdir, log_config; --logfile, --logdir, --log-config) work.
// Acted on: debug, log_file, log_dir, log_date_format, use_json,
// use_syslog, syslog_log_facility, use_journal, use_stderr,
// logging_context_format_string, logging_default_format_string,
// logging_debug_format_suffix, logging_user_identity_format and
// default_log_levels. watch_log_file is accepted: the log file is always
// reopened when it is moved or removed. log_config_append (a Python
// logging configuration file) and use_eventlog (Windows) are refused
// with *UnsupportedError. The rotation options (log_rotation_type and
// its companions), logging_exception_prefix (no tracebacks here),
// instance_format, instance_uuid_format, publish_errors and the
// rate_limit options are accepted and have no effect; so does any other
// option, verbose included, since only the options above are looked up.
//
// # Destinations
//
// As oslo.log's _setup_logging_from_conf: the log file (log_file, or
// <log_dir>/<program>.log, see Options.LogPath), the journal with
// use_journal, syslog with use_syslog, and stderr with use_stderr, which
// glance-manage turns on by default. Where oslo.log would fall back to
// stdout (use_stderr false, no log file, no journal), StderrLogs still
// says stderr: stdout belongs to what scripts parse. The Handler writes
// stderr itself only for JSON records; plain text on stderr is the
// program's own (see internal/cli).
//
// # Formats
//
// Text records follow oslo.log's ContextFormatter: the default format
// string, "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s
// [-] %(instance)s%(message)s", for records without a request context;
// the context format string for records with one (RequestIDKey), which
// then read "[None req-<uuid> - - - - - -]" as upstream's purge does; the
// debug suffix ("%(funcName)s %(pathname)s:%(lineno)d", here the Go
// function and source file) on DEBUG records. Format strings are Python
// %-formats of the record's attributes; an attribute this package does
// not know renders as "-". log_date_format is a C strftime format,
// rendered as glibc renders it for Python (conversions glibc does not
// know stay as written). JSON records carry the keys of oslo.log's
// JSONFormatter in its order and encoding (message, asctime, name, msg,
// args, levelname, levelno, pathname, filename, module, lineno,
// funcname, created, msecs, relative_created, thread, thread_name,
// process_name, process, traceback, hostname, error_summary, context,
// extra); messages arrive formatted, so msg is the message and args is
// empty.
//
// Syslog messages are what glibc's syslog(3) sends for oslo.log's
// OSSysLogHandler ("<PRI>Mmm dd hh:mm:ss glance-manage: <record>");
// journal entries carry the fields of oslo.log's OSJournalHandler. Both
// go to their usual sockets unless SyslogSocketEnv or JournalSocketEnv
// name others (for tests).
package oslog
