package migrations

// queens_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("queens_contract01", "pike_contract01", "queens_expand01", "queens", "", nil))
}
