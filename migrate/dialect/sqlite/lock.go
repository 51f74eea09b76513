package sqlite

import (
	"errors"

	"modernc.org/sqlite"
)

// The SQL the migration lock (migrate.Locker) needs beyond
// dialect.Dialect.

// NowMillis returns an expression for the database clock in milliseconds
// since the Unix epoch.
func (Dialect) NowMillis() string {
	return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
}

// CreateTableIfMissing returns a CREATE TABLE IF NOT EXISTS for table
// with the given column and constraint definitions.
func (Dialect) CreateTableIfMissing(table, body string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + " (" + body + ")"
}

// InsertIfAbsent returns an INSERT of values (SQL expressions) into
// columns that inserts nothing, without error, when a row with the same
// primary key exists.
func (Dialect) InsertIfAbsent(table, columns, values string) string {
	return "INSERT OR IGNORE INTO " + table + " (" + columns + ") VALUES (" + values + ")"
}

// Transient reports whether err is a conflict worth retrying: the
// database file is busy or locked by another connection, unless the
// statement already waited its whole busy timeout for it (waitedInFull):
// the migration lock is not what is taken then, and waiting for it (with
// --lock-timeout) would misname the cause.
func (Dialect) Transient(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && !waitedInFull(err) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}
