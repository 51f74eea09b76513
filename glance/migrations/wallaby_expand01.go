package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

// wallaby_expand01 records which image, request and user a task is for.
func init() {
	register(expandRev("wallaby_expand01", "ussuri_expand01", "wallaby", `add image_id, request_id, user columns to tasks table"`, same(
		s.AddColumn{Table: "tasks", Column: col("image_id", s.Str(36))},
		s.AddColumn{Table: "tasks", Column: col("request_id", s.Str(64))},
		s.AddColumn{Table: "tasks", Column: col("user_id", s.Str(64))},
		s.CreateIndex{Index: idx("tasks", "ix_tasks_image_id", "image_id"), Concurrently: true},
	)))
}
