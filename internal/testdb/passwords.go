package testdb

import "strings"

// HostilePasswords are passwords as an operator may write them, unencoded,
// in a database URL: with '@', ':', '/', '%', '#' and '?'. They are made of
// pieces that no message of the tool contains, so that Leak can look for
// every piece of three characters. An '@' must be written %40 in a URL;
// the others need not be.
var HostilePasswords = []string{
	"Qw7@hZ9/xq",
	"Zk:9@Vj/Rm",
	"Wp%4@Yq#Xj",
	"Jx?K@r:Vz",
	"Mv#Q?b/Tz",
	"Hq:Vz/Ww#",
	"Fk%2Fz:Lw",
	"Yb@@Gx%Kv",
}

// Leak returns the first piece of secret of three bytes or more (all of
// it when shorter) that out contains, or "" when there is none.
func Leak(out, secret string) string {
	if secret == "" {
		return ""
	}
	n := min(3, len(secret))
	for i := 0; i+n <= len(secret); i++ {
		if piece := secret[i : i+n]; strings.Contains(out, piece) {
			return piece
		}
	}
	return ""
}
