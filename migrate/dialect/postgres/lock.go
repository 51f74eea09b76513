package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// The SQL the migration lock (migrate.Locker) needs beyond
// dialect.Dialect.

// NowMillis returns an expression for the database clock in milliseconds
// since the Unix epoch. clock_timestamp, unlike now, is not frozen at the
// start of the transaction.
func (Dialect) NowMillis() string {
	return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
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
	return "INSERT INTO " + table + " (" + columns + ") VALUES (" + values + ") ON CONFLICT DO NOTHING"
}

// Transient reports whether err is a conflict worth retrying: a
// serialization failure, a deadlock, a lock not available, or the
// catalog conflict two concurrent CREATE TABLE IF NOT EXISTS can raise.
func (Dialect) Transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "55P03", "23505", "42P07":
			return true
		}
	}
	return false
}
