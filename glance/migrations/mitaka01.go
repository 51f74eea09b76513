package migrations

import (
	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// mitaka01 indexes images by creation and update time.
func init() {
	register(&migrate.Revision{
		ID: "mitaka01", Down: "liberty", Release: "mitaka",
		Message: "add index on created_at and updated_at columns of 'images' table",
		Ops: same(
			s.CreateIndex{Index: idx("images", "created_at_image_idx", "created_at"), Concurrently: true},
			s.CreateIndex{Index: idx("images", "updated_at_image_idx", "updated_at"), Concurrently: true},
		),
	})
}
