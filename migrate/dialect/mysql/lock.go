package mysql

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// The SQL the migration lock (migrate.Locker) needs beyond
// dialect.Dialect.

// NowMillis returns an expression for the database clock in milliseconds
// since the Unix epoch.
func (Dialect) NowMillis() string {
	return "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"
}

// CreateTableIfMissing returns a CREATE TABLE IF NOT EXISTS for table
// with the given column and constraint definitions. The table is InnoDB
// (Galera replicates nothing else) and has a primary key (Galera needs
// one on every table it replicates).
func (Dialect) CreateTableIfMissing(table, body string) string {
	return "CREATE TABLE IF NOT EXISTS " + table + " (" + body + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
}

// InsertIfAbsent returns an INSERT of values (SQL expressions) into
// columns that inserts nothing, without error, when a row with the same
// primary key exists.
func (Dialect) InsertIfAbsent(table, columns, values string) string {
	return "INSERT IGNORE INTO " + table + " (" + columns + ") VALUES (" + values + ")"
}

// Transient reports whether err is a conflict worth retrying: a deadlock
// (which is also how Galera reports a certification failure between two
// nodes writing the same row), a lock wait timeout, or a Galera node that
// is not ready yet.
func (Dialect) Transient(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1213, 1205, 1047: // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_UNKNOWN_COM_ERROR (wsrep not ready)
			return true
		}
	}
	return false
}
