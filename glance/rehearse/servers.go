package rehearse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/glance-manage/glance-manage/dburl"
)

// server is what a rehearsal does differently on each backend's
// servers: how a scratch database is named, made, listed, sized and
// dropped.
type server struct {
	// file: a database is one file (SQLite), copied as a file and
	// sized by it; the fields below but quote and tablesQuery are then
	// unused.
	file bool
	// nameLimit is the longest database name, in bytes.
	nameLimit int
	quote     func(name string) string
	// existsQuery counts the databases named by its one argument.
	existsQuery string
	// createStmt is the statement making database name with the
	// character set (encoding, collation) of db's database.
	createStmt func(ctx context.Context, db *sql.DB, name string) (string, error)
	drop       func(ctx context.Context, db *sql.DB, name string) error
	// tablesQuery lists the tables and views of the current database.
	tablesQuery string
	// size is the space the current database's tables and indexes take,
	// but those starting with exclude.
	size func(ctx context.Context, db *sql.DB, exclude string) (int64, error)
	// afterRestore, when not "", runs once the copy is restored;
	// analyzeTable, when not "", is run on each table of the copy
	// (followed by its quoted name) before its size is measured.
	afterRestore, analyzeTable string
}

// servers are the backends a rehearsal knows.
var servers = map[dburl.Backend]server{
	dburl.SQLite: {
		file:        true,
		nameLimit:   64, // unused: the scratch is a file
		quote:       quoteDouble,
		tablesQuery: "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
	},
	dburl.MySQL: {
		nameLimit:   64,
		quote:       quoteBacktick,
		existsQuery: "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
		createStmt: func(ctx context.Context, db *sql.DB, name string) (string, error) {
			var cs, coll string
			if err := db.QueryRowContext(ctx, "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name = DATABASE()").Scan(&cs, &coll); err != nil {
				return "", err
			}
			return fmt.Sprintf("CREATE DATABASE %s CHARACTER SET %s COLLATE %s", quoteBacktick(name), cs, coll), nil
		},
		drop: func(ctx context.Context, db *sql.DB, name string) error {
			_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteBacktick(name))
			return err
		},
		tablesQuery: "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name",
		size: func(ctx context.Context, db *sql.DB, exclude string) (int64, error) {
			// The tables' files as allocated (with PROCESS): what a copy or
			// rebuild reads, free pages included. Else the statistics, which
			// lag behind on tables just written.
			if files, ferr := mysqlFileSizes(ctx, db, exclude); ferr == nil && files > 0 {
				return files, nil
			}
			var n sql.NullInt64
			err := db.QueryRowContext(ctx, "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND table_name NOT LIKE ?", exclude+"%").Scan(&n)
			return n.Int64, err
		},
		analyzeTable: "ANALYZE TABLE ",
	},
	dburl.Postgres: {
		nameLimit:   63,
		quote:       quoteDouble,
		existsQuery: "SELECT COUNT(*) FROM pg_database WHERE datname = $1",
		createStmt: func(ctx context.Context, db *sql.DB, name string) (string, error) {
			var enc, collate, ctype string
			if err := db.QueryRowContext(ctx, "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = current_database()").Scan(&enc, &collate, &ctype); err != nil {
				return "", err
			}
			lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
			return fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s", quoteDouble(name), lit(enc), lit(collate), lit(ctype)), nil
		},
		drop: func(ctx context.Context, db *sql.DB, name string) error {
			// WITH (FORCE) (PostgreSQL 13+) ends sessions still on it.
			_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteDouble(name)+" WITH (FORCE)")
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42601" { // syntax_error: before PostgreSQL 13
				_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteDouble(name))
			}
			return err
		},
		tablesQuery: "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname",
		size: func(ctx context.Context, db *sql.DB, exclude string) (int64, error) {
			var n sql.NullInt64
			err := db.QueryRowContext(ctx, "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = current_schema() AND c.relkind = 'r' AND c.relname NOT LIKE $1", exclude+"%").Scan(&n)
			return n.Int64, err
		},
		afterRestore: "ANALYZE",
	},
}

// serverOf returns b's entry of servers. dburl.Parse admits only the
// backends listed there.
func serverOf(b dburl.Backend) server {
	s, ok := servers[b]
	if !ok {
		panic(fmt.Sprintf("rehearse: no server entry for backend %q", b))
	}
	return s
}
