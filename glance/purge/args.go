package purge

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
)

// Upstream's messages, word for word (glance/cmd/manage.py and
// glance/db/sqlalchemy/api.py); each ends the command with exit 1.
const (
	MsgInvalidAge     = "Invalid int value for age_in_days: %s"
	MsgInvalidMaxRows = "Invalid int value for max_rows: %s"
	MsgNegativeAge    = "Must supply a non-negative value for age."
	MsgMaximalAge     = "Maximal age is count of days since epoch."
	MsgMinimalRows    = "Minimal rows limit is -1."
	MsgMaxRowsRange   = "'max_rows' value out of range, must not exceed 2147483647."
	// MsgFailed is what upstream prints when the database refuses a delete
	// because of a foreign key.
	MsgFailed = "Purge command failed, check glance-manage logs for more details."
)

// MaxRowsLimit is the largest max_rows upstream accepts (a 4-byte INT).
const MaxRowsLimit = 1<<31 - 1

// Upstream's defaults.
const (
	DefaultAgeInDays       = 30  // db purge
	DefaultImagesAgeInDays = 180 // db purge_images_table
	DefaultMaxRows         = 100
)

// ArgError is a rejected argument; its message is upstream's.
type ArgError struct{ Msg string }

func (e *ArgError) Error() string { return e.Msg }

// ParseInt parses s the way Python's int(s) does: surrounding white space,
// an optional sign, decimal digits (any Unicode decimal digit) with single
// underscores between them. ok is false when Python would raise
// ValueError.
func ParseInt(s string) (n *big.Int, ok bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return nil, false
	}
	n = new(big.Int)
	ten := big.NewInt(10)
	prevUnderscore, digits := false, 0
	for _, r := range s {
		if r == '_' {
			if digits == 0 || prevUnderscore {
				return nil, false
			}
			prevUnderscore = true
			continue
		}
		d := digitValue(r)
		if d < 0 {
			return nil, false
		}
		prevUnderscore = false
		digits++
		n.Mul(n, ten).Add(n, big.NewInt(int64(d)))
	}
	if prevUnderscore {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	return n, true
}

// digitValue is the value of a Unicode decimal digit (category Nd), or -1.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if !unicode.Is(unicode.Nd, r) {
		return -1
	}
	// Nd digits come in contiguous blocks made of runs of ten, each run
	// starting at its zero.
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10
}

// Validate checks age_in_days and max_rows, given as the strings a user
// typed, in upstream's order and with upstream's messages: each must be
// an integer, the age must not be negative nor reach back before the
// epoch, max_rows must be at least -1 and fit a 4-byte INT. now is the
// current time (the epoch check uses it).
func Validate(age, maxRows string, now time.Time) (ageDays int, rows int64, err error) {
	a, ok := ParseInt(age)
	if !ok {
		return 0, 0, &ArgError{Msg: fmt.Sprintf(MsgInvalidAge, age)}
	}
	m, ok := ParseInt(maxRows)
	if !ok {
		return 0, 0, &ArgError{Msg: fmt.Sprintf(MsgInvalidMaxRows, maxRows)}
	}
	if a.Sign() < 0 {
		return 0, 0, &ArgError{Msg: MsgNegativeAge}
	}
	// Upstream: age_in_days >= int(time.time()) / 86400 (a true division).
	// Multiplying out keeps it exact: age*86400 >= whole seconds now.
	secs := big.NewInt(now.Unix())
	if new(big.Int).Mul(a, big.NewInt(86400)).Cmp(secs) >= 0 {
		return 0, 0, &ArgError{Msg: MsgMaximalAge}
	}
	if m.Cmp(big.NewInt(-1)) < 0 {
		return 0, 0, &ArgError{Msg: MsgMinimalRows}
	}
	if m.Cmp(big.NewInt(MaxRowsLimit)) > 0 {
		return 0, 0, &ArgError{Msg: MsgMaxRowsRange}
	}
	return int(a.Int64()), m.Int64(), nil
}
