package migrations

// queens_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("queens_expand01", "pike_expand01", "queens", "", nil))
}
