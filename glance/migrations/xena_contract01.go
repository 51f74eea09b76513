package migrations

// xena_contract01 changes nothing; it keeps the expand and contract chains in step.
func init() {
	register(contractRev("xena_contract01", "wallaby_contract01", "xena_expand01", "xena", "", nil))
}
