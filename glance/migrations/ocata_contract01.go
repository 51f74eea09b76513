package migrations

import (
	"github.com/glance-manage/glance-manage/migrate"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// everyImageHasVisibility guards the drop of is_public: an image without
// a visibility would lose whether it is public.
var everyImageHasVisibility = s.Precondition{Desc: "every image has a visibility", Table: "images", Where: "visibility IS NULL", Checker: "glance-manage"}

// ocata_contract01 drops images.is_public and makes visibility NOT NULL
// DEFAULT 'shared'. The engine runs it only once the ocata data migration
// has given every image a visibility (upstream drops the column first and
// fails afterwards, losing is_public on MySQL), and checks in the database,
// right before it drops is_public, that no image is left without a
// visibility.
//
// Unlike upstream, the triggers go first and unconditionally (IF EXISTS):
// upstream drops is_public while its triggers still name it, so writers
// fail with "Unknown column 'is_public' in 'NEW'" for the rest of the
// contract, and an offline sync after an online expand leaves them behind
// for good.
func init() {
	register(&migrate.Revision{
		ID: "ocata_contract01", Down: "mitaka02", DependsOn: []string{"ocata_expand01"},
		Labels: []string{"ocata01", ContractBranch},
		Branch: migrate.Contract, Release: "ocata", Message: "remove is_public from images",
		Ops: func(env migrate.Env) []s.Op {
			// Checked before the triggers go (old services must be
			// stopped by now), and again right before is_public goes.
			ops := append([]s.Op{everyImageHasVisibility}, dropVisibilityTriggers(env.Dialect)...)
			if env.RebuildTables {
				return append(ops, everyImageHasVisibility, s.RebuildTable{Table: imagesRebuilt(true, env.Applied)})
			}
			vis := nn("visibility", visibilityEnum)
			vis.Default = s.DefaultString("shared")
			return append(ops,
				s.DropIndex{Name: "ix_images_is_public", Table: "images"},
				everyImageHasVisibility,
				s.DropColumn{Table: "images", Column: "is_public"},
				s.AlterColumn{Table: "images", New: vis, ChangeNullable: true, ChangeDefault: true},
			)
		},
	})
}
