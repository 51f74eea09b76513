package datamigrations

import (
	"context"
	"fmt"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// backendKey is the literal text upstream rewrites, quotes and colon
// included; it is replaced wherever it occurs in the JSON text.
const backendKey = `"backend":`

// hasBackend is the predicate selecting location metadata that still
// names its store with the pre-Train key.
func hasBackend(d dialect.Dialect) string {
	return d.Contains("meta_data", `'"backend":'`)
}

// backendToStore renames the multi-store location metadata key "backend"
// to "store" (upstream's train_migrate01), in batches of location ids.
func backendToStore() *migrate.DataMigration {
	return &migrate.DataMigration{
		Name: "train_migrate01_backend_to_store", Release: "train",
		After: "train_expand01", Before: "train_contract01",
		Pending: func(ctx context.Context, q dialect.Querier, d dialect.Dialect) (int64, error) {
			return count(ctx, q, "SELECT COUNT(*) FROM image_locations WHERE "+hasBackend(d))
		},
		Range: func(ctx context.Context, q dialect.Querier, d dialect.Dialect, cursor string, limit int) (string, int, error) {
			return keyRange(ctx, q, d, "image_locations", "", "id", hasBackend(d), atoi(cursor), limit)
		},
		Apply: func(ctx context.Context, q dialect.Querier, d dialect.Dialect, lower, upper string) (int64, error) {
			res, err := q.ExecContext(ctx, fmt.Sprintf("UPDATE image_locations SET meta_data = REPLACE(meta_data, '%s', '\"store\":') WHERE %s AND id > %s AND id <= %s",
				backendKey, hasBackend(d), d.Placeholder(1), d.Placeholder(2)), atoi(lower), atoi(upper))
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		},
		SQL: func(d dialect.Dialect) []string {
			return []string{fmt.Sprintf("UPDATE image_locations SET meta_data = REPLACE(meta_data, '%s', '\"store\":') WHERE %s", backendKey, hasBackend(d))}
		},
	}
}
