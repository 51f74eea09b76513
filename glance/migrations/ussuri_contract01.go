package migrations

// ussuri_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("ussuri_contract01", "train_contract01", "ussuri_expand01", "ussuri", "", nil))
}
