package migrations

// pike_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("pike_expand01", "ocata_expand01", "pike", "empty expand for symmetry with pike_contract01", nil))
}
