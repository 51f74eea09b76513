package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

// rocky_expand02 adds the multihash columns to images.
func init() {
	register(expandRev("rocky_expand02", "rocky_expand01", "rocky", "add os_hash_algo and os_hash_value columns to images table", same(
		s.AddColumn{Table: "images", Column: col("os_hash_algo", s.Str(64))},
		s.AddColumn{Table: "images", Column: col("os_hash_value", s.Str(128))},
		s.CreateIndex{Index: idx("images", "os_hash_value_image_idx", "os_hash_value"), Concurrently: true},
	)))
}
