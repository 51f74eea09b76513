package migrations

// yoga_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("yoga_expand01", "xena_expand01", "yoga", "empty expand for symmetry with 2023_1_expand01", nil))
}
