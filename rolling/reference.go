package rolling

import "github.com/glance-manage/glance-manage/migrate/dialect"

// ReferenceStatements are upstream's data-migration statements, one
// table-wide UPDATE per step, as its ocata_migrate01_community_images and
// train_migrate01_backend_to_store run them: the benchmarks compare our
// batches with them on the same data. It returns nil for a backend no
// dialect is registered for.
func ReferenceStatements(backend string) []string {
	d, err := dialect.For(dialect.Backend(backend))
	if err != nil {
		return nil
	}
	isTrue, isFalse, deletedFalse, has := d.IsTrue("is_public"), d.IsFalse("is_public"), d.IsFalse("deleted"), d.Contains("meta_data", `'"backend":'`)
	return []string{
		"UPDATE images SET visibility='public' WHERE " + isTrue,
		"UPDATE images SET visibility='private' WHERE " + isFalse,
		"UPDATE images SET visibility='shared' WHERE visibility='private' AND id IN (SELECT DISTINCT image_id FROM image_members WHERE " + deletedFalse + ")",
		`UPDATE image_locations SET meta_data = REPLACE(meta_data, '"backend":', '"store":') WHERE ` + has,
	}
}
