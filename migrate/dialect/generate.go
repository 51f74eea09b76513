package dialect

// Generator is implemented by dialects whose servers can generate rows in
// SQL, for code that seeds a database with many rows in few statements
// (load tests, benchmarks). Every dialect of this module has it.
//
//   - Series is a FROM item: a relation aliased s of one integer column n
//     holding lo to hi-1.
//   - PaddedNumber is the text prefix (a quoted literal) followed by the
//     integer expression n in width digits, zero-padded.
//   - BoolValue is the condition cond as a value of a boolean column.
//   - AfterLoad are the statements that refresh the planner's statistics
//     after a bulk load where the server does not do it by itself; none
//     elsewhere.
type Generator interface {
	Series(lo, hi int) string
	PaddedNumber(prefix, n string, width int) string
	BoolValue(cond string) string
	AfterLoad() []string
}
