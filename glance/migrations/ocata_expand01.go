package migrations

import (
	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// ocata_expand01 adds images.visibility next to images.is_public and
// makes is_public nullable, so that services writing either column work.
// Online, triggers keep the two columns in step until ocata_contract01
// (see visibility_triggers.go).
func init() {
	register(&migrate.Revision{
		ID: "ocata_expand01", Down: "mitaka02", Labels: []string{ExpandBranch},
		Branch: migrate.Expand, Release: "ocata", Message: "add visibility to images",
		Ops: func(env migrate.Env) []s.Op {
			ops := []s.Op{
				s.CreateEnum{Name: visibilityEnum.Name, Values: visibilityEnum.Values},
				s.AddColumn{Table: "images", Column: col("visibility", visibilityEnum)},
				s.CreateIndex{Index: idx("images", "visibility_image_idx", "visibility"), Concurrently: true},
			}
			if env.RebuildTables {
				ops = append(ops, s.RebuildTable{Table: imagesRebuilt(false, env.Applied)})
			} else {
				ops = append(ops, s.AlterColumn{Table: "images", New: col("is_public", s.PlainBool), ChangeNullable: true, ChangeDefault: true})
			}
			if env.Online {
				ops = append(ops, visibilityTriggers(env.Dialect)...)
			}
			return ops
		},
	})
}
