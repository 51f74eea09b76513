package migrations

// 2023_1_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("2023_1_contract01", "zed_contract01", "2023_1_expand01", "2023_1", "", nil))
}
