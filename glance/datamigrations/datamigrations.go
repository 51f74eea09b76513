// Package datamigrations holds Glance's data migrations: the work that
// moves data from the columns an expand revision adds to the columns a
// contract revision keeps. Unlike upstream, which only runs the current
// release's modules, the engine runs every data migration between a
// database's revision and the target, whatever release it comes from.
package datamigrations

import (
	"context"
	"strconv"
	"strings"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// All returns the data migrations in the order they must run.
func All() []*migrate.DataMigration {
	return []*migrate.DataMigration{communityImages(), backendToStore()}
}

// count runs a COUNT(*) query.
func count(ctx context.Context, q dialect.Querier, query string, args ...any) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// placeholders renders n bind markers starting at position from.
func placeholders(d dialect.Dialect, from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = d.Placeholder(from + i)
	}
	return strings.Join(p, ", ")
}

// nextKeys selects up to limit keys (as strings) from query, which must
// take the cursor as its only argument and return one key column in
// ascending order. It returns the keys and the cursor to continue from
// ("" when the selection was the last one).
func nextKeys(ctx context.Context, q dialect.Querier, query string, cursor any, limit int) ([]any, string, error) {
	rows, err := q.QueryContext(ctx, query, cursor)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var keys []any
	var last string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, "", err
		}
		keys = append(keys, k)
		last = k
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(keys) < limit {
		last = ""
	}
	return keys, last, nil
}

// isTrue renders a boolean column test the backend understands.
func isTrue(d dialect.Dialect, col string) string {
	if d.Name() == "postgresql" {
		return col
	}
	return col + " = 1"
}

func isFalse(d dialect.Dialect, col string) string {
	if d.Name() == "postgresql" {
		return "NOT " + col
	}
	return col + " = 0"
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
