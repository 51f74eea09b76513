package migrations

// xena_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("xena_expand01", "wallaby_expand01", "xena", "empty expand for symmetry with 2023_1_expand01", nil))
}
