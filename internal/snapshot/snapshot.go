// Package snapshot describes a whole database, schema and rows, as text,
// so that tests can check that two databases are the same: a restored
// backup and the original, or the same database before and after a dry
// run.
package snapshot

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	// The dialects Take reads through (dialect.For).
	_ "github.com/glance-manage/glance-manage/migrate/dialect/mysql"
	_ "github.com/glance-manage/glance-manage/migrate/dialect/postgres"
	_ "github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
)

// Take returns the schema dump (package schemadump) of db followed by the
// rows of every table (but the tool's own bookkeeping tables, which the
// dump leaves out too), each table's rows sorted, with values printed
// uniformly (NULL, text, numbers; times in UTC).
func Take(ctx context.Context, db *sql.DB, backend dialect.Backend) (string, error) {
	schema, err := schemadump.Dump(ctx, db, backend)
	if err != nil {
		return "", err
	}
	d, err := dialect.For(backend)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	cat, ok := d.(dialect.Catalog)
	if !ok {
		return "", fmt.Errorf("snapshot: the %s dialect cannot list columns (dialect.Catalog)", backend)
	}
	tables, err := d.Tables(ctx, db)
	if err != nil {
		return "", err
	}
	sort.Strings(tables)
	var b strings.Builder
	b.WriteString(schema)
	for _, t := range tables {
		if strings.HasPrefix(t, schemadump.ExcludedPrefix) {
			continue // left out of the schema dump too
		}
		lines, err := tableRows(ctx, db, cat, t)
		if err != nil {
			return "", fmt.Errorf("snapshot: table %s: %w", t, err)
		}
		fmt.Fprintf(&b, "\nrows %s (%d)\n", t, len(lines))
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String(), nil
}

func tableRows(ctx context.Context, db *sql.DB, cat dialect.Catalog, table string) ([]string, error) {
	// Name the columns, read from the catalog: a cached "SELECT *" would
	// outlive a schema change on drivers that cache prepared statements
	// (pgx).
	cols, err := cat.Columns(ctx, db, table)
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = cat.Quote(c)
	}
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+cat.Quote(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			parts[i] = cols[i] + "=" + format(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out, rows.Err()
}

func format(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q", string(x))
	case string:
		return fmt.Sprintf("%q", x)
	default:
		return fmt.Sprint(x)
	}
}
