package migrations

// rocky_contract02 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("rocky_contract02", "rocky_contract01", "rocky_expand02", "rocky", "", nil))
}
