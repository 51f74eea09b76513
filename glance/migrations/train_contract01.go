package migrations

// train_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("train_contract01", "rocky_contract02", "train_expand01", "train", "", nil))
}
