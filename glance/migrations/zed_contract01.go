package migrations

// zed_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("zed_contract01", "yoga_contract01", "zed_expand01", "zed", "", nil))
}
