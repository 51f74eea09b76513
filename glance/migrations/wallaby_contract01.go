package migrations

// wallaby_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("wallaby_contract01", "ussuri_contract01", "wallaby_expand01", "wallaby", "", nil))
}
