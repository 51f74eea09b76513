package rolling

// ReferenceStatements are upstream's data-migration statements, one
// table-wide UPDATE per step, as its ocata_migrate01_community_images and
// train_migrate01_backend_to_store run them: the benchmarks compare our
// batches with them on the same data.
func ReferenceStatements(backend string) []string {
	isTrue, isFalse, deletedFalse, has := "is_public", "NOT is_public", "NOT deleted", `POSITION('"backend":' IN meta_data) > 0`
	if backend != "postgresql" {
		isTrue, isFalse, deletedFalse, has = "is_public = 1", "is_public = 0", "deleted = 0", `INSTR(meta_data, '"backend":') > 0`
	}
	return []string{
		"UPDATE images SET visibility='public' WHERE " + isTrue,
		"UPDATE images SET visibility='private' WHERE " + isFalse,
		"UPDATE images SET visibility='shared' WHERE visibility='private' AND id IN (SELECT DISTINCT image_id FROM image_members WHERE " + deletedFalse + ")",
		`UPDATE image_locations SET meta_data = REPLACE(meta_data, '"backend":', '"store":') WHERE ` + has,
	}
}
