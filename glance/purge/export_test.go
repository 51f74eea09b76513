package purge

// KeyEnds exposes, for the tests, the query of each integer-keyed table's
// first and last key.
func KeyEnds() map[string]string {
	out := map[string]string{}
	for _, t := range children {
		out[t.name] = keyEnds(t)
	}
	return out
}
