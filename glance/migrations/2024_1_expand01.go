package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

// 2024_1_expand01 creates the tables of the centralized image cache.
func init() {
	nodeRef := &s.Table{
		Name:       "node_reference",
		Columns:    []s.Column{serial("node_reference_id", s.BigIntV), nn("node_reference_url", s.Str(255))},
		PrimaryKey: []string{"node_reference_id"},
		Uniques:    []s.Unique{{Name: "uq_node_reference_node_reference_url", Columns: []string{"node_reference_url"}}},
		Options:    innoDB,
	}
	cached := &s.Table{
		Name: "cached_images",
		Columns: []s.Column{
			serial("id", s.BigIntV), nn("image_id", s.Str(36)), nn("last_accessed", s.Time), nn("last_modified", s.Time),
			nn("size", s.BigInt), nn("hits", s.Int), col("checksum", s.Str(32)), nn("node_reference_id", s.BigIntV),
		},
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("node_reference_id", "node_reference", "node_reference_id")},
		Uniques:     []s.Unique{{Name: "ix_cached_images_image_id_node_reference_id", Columns: []string{"image_id", "node_reference_id"}}},
		Options:     innoDB,
	}
	register(expandRev("2024_1_expand01", "2023_1_expand01", "2024_1", "adds cache_node_reference and cached_images table(s)", same(
		s.CreateTable{Table: nodeRef},
		s.CreateTable{Table: cached},
	)))
}
