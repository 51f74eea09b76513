package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

// pike_contract01 drops the Glare artifact tables, children first.
func init() {
	register(contractRev("pike_contract01", "ocata_contract01", "pike_expand01", "pike", "drop glare artifacts tables", same(
		s.DropTable{Name: "artifact_blob_locations"},
		s.DropTable{Name: "artifact_properties"},
		s.DropTable{Name: "artifact_blobs"},
		s.DropTable{Name: "artifact_dependencies"},
		s.DropTable{Name: "artifact_tags"},
		s.DropTable{Name: "artifacts"},
	)))
}
