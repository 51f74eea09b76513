package migrations

// zed_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("zed_expand01", "yoga_expand01", "zed", "empty expand for symmetry with 2023_1_expand01", nil))
}
