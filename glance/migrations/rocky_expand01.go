package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

// rocky_expand01 adds images.os_hidden, a plain boolean (no CHECK), NOT
// NULL with a false default, so existing rows read as not hidden.
func init() {
	hidden := nn("os_hidden", s.PlainBool)
	hidden.Default = s.DefaultFalse()
	register(expandRev("rocky_expand01", "queens_expand01", "rocky", "add os_hidden column to images table", same(
		s.AddColumn{Table: "images", Column: hidden},
		s.CreateIndex{Index: idx("images", "os_hidden_image_idx", "os_hidden"), Concurrently: true},
	)))
}
