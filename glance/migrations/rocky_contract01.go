package migrations

// rocky_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("rocky_contract01", "queens_contract01", "rocky_expand01", "rocky", "", nil))
}
