package migrations

// ussuri_expand01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(expandRev("ussuri_expand01", "train_expand01", "ussuri", "empty expand for symmetry with ussuri_expand01", nil))
}
