package migrations

// yoga_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("yoga_contract01", "xena_contract01", "yoga_expand01", "yoga", "", nil))
}
