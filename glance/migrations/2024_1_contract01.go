package migrations

// 2024_1_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("2024_1_contract01", "2023_1_contract01", "2024_1_expand01", "2024_1", "", nil))
}
