package migrations

// 2023_1_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("2023_1_expand01", "zed_expand01", "2023_1", "empty expand for symmetry with 2023_1_expand01", nil))
}
