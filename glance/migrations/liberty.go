package migrations

import (
	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// liberty creates the whole Liberty schema: images, tasks, metadefs and
// the Glare artifact tables, each table followed by its indexes.
func init() {
	register(&migrate.Revision{
		ID: "liberty", Release: "liberty", Message: "liberty initial",
		Ops: func(migrate.Env) []s.Op {
			var ops []s.Op
			for _, group := range [][]*s.Table{libertyImageTables(), libertyTaskTables(), libertyMetadefTables(), libertyArtifactTables()} {
				for _, t := range group {
					ops = append(ops, s.CreateTable{Table: t})
				}
			}
			return ops
		},
	})
}
