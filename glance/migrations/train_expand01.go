package migrations

// train_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("train_expand01", "rocky_expand02", "train", "empty expand for symmetry with train_contract01", nil))
}
