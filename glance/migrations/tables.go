package migrations

import (
	"github.com/glance-manage/glance-manage/migrate/dialect"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// Column helpers, named after the way upstream declares them.
func col(name string, t s.Type) s.Column { return s.Column{Name: name, Type: t} }
func nn(name string, t s.Type) s.Column  { return s.Column{Name: name, Type: t, NotNull: true} }
func serial(name string, t s.Type) s.Column {
	return s.Column{Name: name, Type: t, NotNull: true, AutoIncrement: true}
}
func idx(table, name string, cols ...string) s.Index {
	return s.Index{Name: name, Table: table, Columns: cols}
}
func fk(column, refTable, refColumn string) s.ForeignKey {
	return s.ForeignKey{Columns: []string{column}, RefTable: refTable, RefColumns: []string{refColumn}}
}

// timestamps are the created_at/updated_at/deleted_at/deleted columns of
// soft-deletable tables.
func timestamps() []s.Column {
	return []s.Column{nn("created_at", s.Time), col("updated_at", s.Time), col("deleted_at", s.Time), nn("deleted", s.Bool)}
}

// visibilityEnum is images.visibility's type, created by ocata_expand01.
// innoDB are the table options of every table upstream's create_table
// makes on MySQL (alembic_version gets none).
var innoDB = map[string]string{string(dialect.MySQL): "ENGINE=InnoDB CHARSET=utf8"}

var visibilityEnum = s.Type{Kind: s.Enum, Name: "image_visibility", Values: []string{"private", "public", "shared", "community"}}

// imagesLiberty is the images table as liberty creates it.
func imagesLiberty() *s.Table {
	protected := nn("protected", s.Bool)
	protected.Default = s.DefaultFalse()
	return &s.Table{
		Name: "images",
		Columns: []s.Column{
			nn("id", s.Str(36)), col("name", s.Str(255)), col("size", s.BigIntV), nn("status", s.Str(30)),
			nn("is_public", s.Bool),
			nn("created_at", s.Time), col("updated_at", s.Time), col("deleted_at", s.Time), nn("deleted", s.Bool),
			col("disk_format", s.Str(20)), col("container_format", s.Str(20)), col("checksum", s.Str(32)),
			col("owner", s.Str(255)), nn("min_disk", s.Int), nn("min_ram", s.Int), protected,
			col("virtual_size", s.BigIntV),
		},
		PrimaryKey: []string{"id"},
		Indexes: []s.Index{
			idx("images", "checksum_image_idx", "checksum"),
			idx("images", "ix_images_deleted", "deleted"),
			idx("images", "ix_images_is_public", "is_public"),
			idx("images", "owner_image_idx", "owner"),
		},
		Options: innoDB,
	}
}

// imagesRebuilt returns images as SQLite holds it after ocata_expand01's
// rebuild, or, with contracted, after ocata_contract01's. A rebuild keeps
// column order and defaults but loses the boolean CHECKs.
func imagesRebuilt(contracted bool, applied map[string]bool) *s.Table {
	t := imagesLiberty()
	var cols []s.Column
	for _, c := range t.Columns {
		if c.Type.Kind == s.Boolean {
			c.Type.Check = false
		}
		if c.Name == "is_public" {
			if contracted {
				continue
			}
			c.NotNull = false
		}
		cols = append(cols, c)
	}
	vis := col("visibility", visibilityEnum)
	if contracted {
		vis.NotNull = true
		vis.Default = s.DefaultString("shared")
	}
	t.Columns = append(cols, vis)
	// Columns the expand branch added by the time of the rebuild, in the
	// order SQLite appended them.
	if applied["rocky_expand01"] {
		hidden := nn("os_hidden", s.PlainBool)
		hidden.Default = s.DefaultFalse()
		t.Columns = append(t.Columns, hidden)
		t.Indexes = append(t.Indexes, idx("images", "os_hidden_image_idx", "os_hidden"))
	}
	if applied["rocky_expand02"] {
		t.Columns = append(t.Columns, col("os_hash_algo", s.Str(64)), col("os_hash_value", s.Str(128)))
		t.Indexes = append(t.Indexes, idx("images", "os_hash_value_image_idx", "os_hash_value"))
	}
	var ixs []s.Index
	for _, ix := range t.Indexes {
		if contracted && ix.Name == "ix_images_is_public" {
			continue
		}
		ixs = append(ixs, ix)
	}
	t.Indexes = append(ixs,
		idx("images", "created_at_image_idx", "created_at"),
		idx("images", "updated_at_image_idx", "updated_at"),
		idx("images", "visibility_image_idx", "visibility"))
	return t
}

func libertyImageTables() []*s.Table {
	const im = "image_"
	props := &s.Table{
		Name: im + "properties",
		Columns: append([]s.Column{serial("id", s.Int), nn("image_id", s.Str(36)), nn("name", s.Str(255)), col("value", s.TextT)},
			timestamps()...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("image_id", "images", "id")},
		Uniques:     []s.Unique{{Name: "ix_image_properties_image_id_name", Columns: []string{"image_id", "name"}}},
		Indexes:     []s.Index{idx("image_properties", "ix_image_properties_deleted", "deleted"), idx("image_properties", "ix_image_properties_image_id", "image_id")},
		Options:     innoDB,
	}
	locStatus := nn("status", s.Str(30))
	locStatus.Default = s.DefaultString("active")
	locs := &s.Table{
		Name: im + "locations",
		Columns: append(append([]s.Column{serial("id", s.Int), nn("image_id", s.Str(36)), nn("value", s.TextT)},
			timestamps()...), col("meta_data", s.TextT), locStatus),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("image_id", "images", "id")},
		Indexes:     []s.Index{idx("image_locations", "ix_image_locations_deleted", "deleted"), idx("image_locations", "ix_image_locations_image_id", "image_id")},
		Options:     innoDB,
	}
	memStatus := nn("status", s.Str(20))
	memStatus.Default = s.DefaultString("pending")
	members := &s.Table{
		Name: im + "members",
		Columns: append(append([]s.Column{serial("id", s.Int), nn("image_id", s.Str(36)), nn("member", s.Str(255)), nn("can_share", s.Bool)},
			timestamps()...), memStatus),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("image_id", "images", "id")},
		Uniques:     []s.Unique{{Name: "image_members_image_id_member_deleted_at_key", Columns: []string{"image_id", "member", "deleted_at"}}},
		Indexes: []s.Index{
			idx("image_members", "ix_image_members_deleted", "deleted"),
			idx("image_members", "ix_image_members_image_id", "image_id"),
			idx("image_members", "ix_image_members_image_id_member", "image_id", "member"),
		},
		Options: innoDB,
	}
	tags := &s.Table{
		Name:        im + "tags",
		Columns:     append([]s.Column{serial("id", s.Int), nn("image_id", s.Str(36)), nn("value", s.Str(255))}, timestamps()...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("image_id", "images", "id")},
		Indexes:     []s.Index{idx("image_tags", "ix_image_tags_image_id", "image_id"), idx("image_tags", "ix_image_tags_image_id_tag_value", "image_id", "value")},
		Options:     innoDB,
	}
	return []*s.Table{imagesLiberty(), props, locs, members, tags}
}

func libertyTaskTables() []*s.Table {
	tasks := &s.Table{
		Name: "tasks",
		Columns: append([]s.Column{nn("id", s.Str(36)), nn("type", s.Str(30)), nn("status", s.Str(30)), nn("owner", s.Str(255)), col("expires_at", s.Time)},
			timestamps()...),
		PrimaryKey: []string{"id"},
		Indexes: []s.Index{
			idx("tasks", "ix_tasks_deleted", "deleted"), idx("tasks", "ix_tasks_owner", "owner"),
			idx("tasks", "ix_tasks_status", "status"), idx("tasks", "ix_tasks_type", "type"),
			idx("tasks", "ix_tasks_updated_at", "updated_at"),
		},
		Options: innoDB,
	}
	info := &s.Table{
		Name:        "task_info",
		Columns:     []s.Column{nn("task_id", s.Str(36)), col("input", s.TextT), col("result", s.TextT), col("message", s.TextT)},
		PrimaryKey:  []string{"task_id"},
		ForeignKeys: []s.ForeignKey{fk("task_id", "tasks", "id")},
		Options:     innoDB,
	}
	return []*s.Table{tasks, info}
}

func libertyMetadefTables() []*s.Table {
	created := []s.Column{nn("created_at", s.Time), col("updated_at", s.Time)}
	ns := &s.Table{
		Name: "metadef_namespaces",
		Columns: append([]s.Column{serial("id", s.Int), nn("namespace", s.Str(80)), col("display_name", s.Str(80)), col("description", s.TextT),
			col("visibility", s.Str(32)), col("protected", s.Bool), nn("owner", s.Str(255))}, created...),
		PrimaryKey: []string{"id"},
		Uniques:    []s.Unique{{Name: "uq_metadef_namespaces_namespace", Columns: []string{"namespace"}}},
		Indexes:    []s.Index{idx("metadef_namespaces", "ix_metadef_namespaces_owner", "owner")},
		Options:    innoDB,
	}
	rt := &s.Table{
		Name:       "metadef_resource_types",
		Columns:    append([]s.Column{serial("id", s.Int), nn("name", s.Str(80)), nn("protected", s.Bool)}, created...),
		PrimaryKey: []string{"id"},
		Uniques:    []s.Unique{{Name: "uq_metadef_resource_types_name", Columns: []string{"name"}}},
		Options:    innoDB,
	}
	nsrt := &s.Table{
		Name: "metadef_namespace_resource_types",
		Columns: append([]s.Column{nn("resource_type_id", s.Int), nn("namespace_id", s.Int), col("properties_target", s.Str(80)), col("prefix", s.Str(80))},
			created...),
		PrimaryKey:  []string{"resource_type_id", "namespace_id"},
		ForeignKeys: []s.ForeignKey{fk("namespace_id", "metadef_namespaces", "id"), fk("resource_type_id", "metadef_resource_types", "id")},
		Indexes:     []s.Index{idx("metadef_namespace_resource_types", "ix_metadef_ns_res_types_namespace_id", "namespace_id")},
		Options:     innoDB,
	}
	objs := &s.Table{
		Name: "metadef_objects",
		Columns: append([]s.Column{serial("id", s.Int), nn("namespace_id", s.Int), nn("name", s.Str(80)), col("description", s.TextT),
			col("required", s.TextT), nn("json_schema", s.TextT)}, created...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("namespace_id", "metadef_namespaces", "id")},
		Uniques:     []s.Unique{{Name: "uq_metadef_objects_namespace_id_name", Columns: []string{"namespace_id", "name"}}},
		Indexes:     []s.Index{idx("metadef_objects", "ix_metadef_objects_name", "name")},
		Options:     innoDB,
	}
	props := &s.Table{
		Name:        "metadef_properties",
		Columns:     append([]s.Column{serial("id", s.Int), nn("namespace_id", s.Int), nn("name", s.Str(80)), nn("json_schema", s.TextT)}, created...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("namespace_id", "metadef_namespaces", "id")},
		Uniques:     []s.Unique{{Name: "uq_metadef_properties_namespace_id_name", Columns: []string{"namespace_id", "name"}}},
		Indexes:     []s.Index{idx("metadef_properties", "ix_metadef_properties_name", "name")},
		Options:     innoDB,
	}
	tags := &s.Table{
		Name:        "metadef_tags",
		Columns:     append([]s.Column{serial("id", s.Int), nn("namespace_id", s.Int), nn("name", s.Str(80))}, created...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("namespace_id", "metadef_namespaces", "id")},
		Uniques:     []s.Unique{{Name: "uq_metadef_tags_namespace_id_name", Columns: []string{"namespace_id", "name"}}},
		Indexes:     []s.Index{idx("metadef_tags", "ix_metadef_tags_name", "name")},
		Options:     innoDB,
	}
	return []*s.Table{ns, rt, nsrt, objs, props, tags}
}

func libertyArtifactTables() []*s.Table {
	both := []s.Column{nn("created_at", s.Time), nn("updated_at", s.Time)}
	art := &s.Table{
		Name: "artifacts",
		Columns: []s.Column{
			nn("id", s.Str(36)), nn("name", s.Str(255)), nn("type_name", s.Str(255)), nn("type_version_prefix", s.BigInt),
			col("type_version_suffix", s.Str(255)), col("type_version_meta", s.Str(255)), nn("version_prefix", s.BigInt),
			col("version_suffix", s.Str(255)), col("version_meta", s.Str(255)), col("description", s.TextT),
			nn("visibility", s.Str(32)), nn("state", s.Str(32)), nn("owner", s.Str(255)),
			nn("created_at", s.Time), nn("updated_at", s.Time), col("deleted_at", s.Time), col("published_at", s.Time),
		},
		PrimaryKey: []string{"id"},
		Indexes: []s.Index{
			idx("artifacts", "ix_artifact_name_and_version", "name", "version_prefix", "version_suffix"),
			idx("artifacts", "ix_artifact_owner", "owner"),
			idx("artifacts", "ix_artifact_state", "state"),
			idx("artifacts", "ix_artifact_type", "type_name", "type_version_prefix", "type_version_suffix"),
			idx("artifacts", "ix_artifact_visibility", "visibility"),
		},
		Options: innoDB,
	}
	tags := &s.Table{
		Name:        "artifact_tags",
		Columns:     append([]s.Column{nn("id", s.Str(36)), nn("artifact_id", s.Str(36)), nn("value", s.Str(255))}, both...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("artifact_id", "artifacts", "id")},
		Indexes:     []s.Index{idx("artifact_tags", "ix_artifact_tags_artifact_id", "artifact_id"), idx("artifact_tags", "ix_artifact_tags_artifact_id_tag_value", "artifact_id", "value")},
		Options:     innoDB,
	}
	deps := &s.Table{
		Name: "artifact_dependencies",
		Columns: append([]s.Column{nn("id", s.Str(36)), nn("artifact_source", s.Str(36)), nn("artifact_dest", s.Str(36)), nn("artifact_origin", s.Str(36)),
			nn("is_direct", s.Bool), col("position", s.Int), col("name", s.Str(36))}, both...),
		PrimaryKey: []string{"id"},
		ForeignKeys: []s.ForeignKey{
			fk("artifact_dest", "artifacts", "id"), fk("artifact_origin", "artifacts", "id"), fk("artifact_source", "artifacts", "id"),
		},
		Indexes: []s.Index{
			idx("artifact_dependencies", "ix_artifact_dependencies_dest_id", "artifact_dest"),
			idx("artifact_dependencies", "ix_artifact_dependencies_direct_dependencies", "artifact_source", "is_direct"),
			idx("artifact_dependencies", "ix_artifact_dependencies_origin_id", "artifact_origin"),
			idx("artifact_dependencies", "ix_artifact_dependencies_source_id", "artifact_source"),
		},
		Options: innoDB,
	}
	blobs := &s.Table{
		Name: "artifact_blobs",
		Columns: append([]s.Column{nn("id", s.Str(36)), nn("artifact_id", s.Str(36)), nn("size", s.BigInt), col("checksum", s.Str(32)),
			nn("name", s.Str(255)), col("item_key", s.Str(329)), col("position", s.Int)}, both...),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("artifact_id", "artifacts", "id")},
		Indexes:     []s.Index{idx("artifact_blobs", "ix_artifact_blobs_artifact_id", "artifact_id"), idx("artifact_blobs", "ix_artifact_blobs_name", "name")},
		Options:     innoDB,
	}
	props := &s.Table{
		Name: "artifact_properties",
		Columns: append(append([]s.Column{nn("id", s.Str(36)), nn("artifact_id", s.Str(36)), nn("name", s.Str(255)), col("string_value", s.Str(255)),
			col("int_value", s.Int), col("numeric_value", s.Num), col("bool_value", s.Bool), col("text_value", s.TextT)}, both...),
			col("position", s.Int)),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("artifact_id", "artifacts", "id")},
		Indexes:     []s.Index{idx("artifact_properties", "ix_artifact_properties_artifact_id", "artifact_id"), idx("artifact_properties", "ix_artifact_properties_name", "name")},
		Options:     innoDB,
	}
	locs := &s.Table{
		Name: "artifact_blob_locations",
		Columns: append(append([]s.Column{nn("id", s.Str(36)), nn("blob_id", s.Str(36)), nn("value", s.TextT)}, both...),
			col("position", s.Int), col("status", s.Str(36))),
		PrimaryKey:  []string{"id"},
		ForeignKeys: []s.ForeignKey{fk("blob_id", "artifact_blobs", "id")},
		Indexes:     []s.Index{idx("artifact_blob_locations", "ix_artifact_blob_locations_blob_id", "blob_id")},
		Options:     innoDB,
	}
	return []*s.Table{art, blobs, deps, props, tags, locs}
}
