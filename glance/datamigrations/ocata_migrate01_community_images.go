package datamigrations

import (
	"context"
	"fmt"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// communityImages gives every image that has no visibility yet the one
// its is_public flag and its members mean: 'public' when is_public;
// 'shared' when not public and shared with at least one member whose
// membership is not deleted; 'private' otherwise.
//
// It only touches rows whose visibility is NULL: rows written by a newer
// service (or kept in step by the triggers) already carry theirs. Upstream
// rewrites every row, which turns community images back into private
// ones on a re-run, and at its HEAD does not run at all (wrong arguments).
func communityImages() *migrate.DataMigration {
	return &migrate.DataMigration{
		Name: "ocata_migrate01_community_images", Release: "ocata",
		After: "ocata_expand01", Before: "ocata_contract01",
		Pending: func(ctx context.Context, q dialect.Querier, _ dialect.Dialect) (int64, error) {
			return count(ctx, q, "SELECT COUNT(*) FROM images WHERE visibility IS NULL")
		},
		Range: func(ctx context.Context, q dialect.Querier, d dialect.Dialect, cursor string, limit int) (string, int, error) {
			return keyRange(ctx, q, d, "images", "visibility_image_idx", "id", notIndexed(d, "visibility")+" IS NULL", cursor, limit)
		},
		Apply: func(ctx context.Context, q dialect.Querier, d dialect.Dialect, lower, upper string) (int64, error) {
			res, err := q.ExecContext(ctx, fmt.Sprintf("UPDATE images SET visibility = %s WHERE %s IS NULL AND id > %s AND id <= %s",
				visibilityOf(d), notIndexed(d, "visibility"), d.Placeholder(1), d.Placeholder(2)), lower, upper)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		},
		SQL: func(d dialect.Dialect) []string {
			return []string{fmt.Sprintf("UPDATE images SET visibility = %s WHERE visibility IS NULL", visibilityOf(d))}
		},
	}
}

// visibilityOf is the visibility an image row without one gets.
func visibilityOf(d dialect.Dialect) string {
	value := fmt.Sprintf("CASE WHEN %s THEN 'public' WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND %s) THEN 'shared' ELSE 'private' END",
		d.IsTrue("images.is_public"), d.IsFalse(notIndexed(d, "m.deleted")))
	return d.EnumValue(value, "image_visibility")
}
