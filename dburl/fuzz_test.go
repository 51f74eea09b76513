package dburl

import (
	"strings"
	"testing"
)

// passwordSlot finds the password as SQLAlchemy's grammar recognises it:
// after "scheme://", up to the first '@', after the first ':' of a user
// name that has no '/'. It returns the byte range in s.
func passwordSlot(s string) (start, end int, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return 0, 0, false
	}
	rest := s[i+3:]
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return 0, 0, false
	}
	name, _, found := strings.Cut(rest[:at], ":")
	if !found || strings.Contains(name, "/") {
		return 0, 0, false
	}
	start = i + 3 + len(name) + 1
	return start, i + 3 + at, true
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"", "oracle://scott:tiger@db/orcl", "mysql+pymysql://glance:p@ss@controller/glance",
		"mysql+pymysql://glance:Secr3tPw@controller:33o6/glance", "postgresql://u:Secr3tPw@h/d?sslmode=sometimes",
		"mysql+pymysql://glance:Secr3tPw@controller/glance?password=0therSecret", "sqlite://glance.sqlite",
		"mysql+pymysql://glance:Secr3tPw@[::1/glance", "glance:Secr3tPw@controller/glance",
		"mysql+pymysql://gl%3Aance:Secr3tPw@controller/glance", "mysql://u:p%zz%4@h/d?charset=utf8&charset=utf8",
		"mysql+pymysql://glance:Qw7@host9/db@127.0.0.1/glance", "postgresql://u:Se@cr:3t?Pw@h/d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u, err := Parse(in)

		var forms []string
		var alt string
		trimmed := strings.TrimSpace(in)
		if start, end, ok := passwordSlot(trimmed); ok {
			raw := trimmed[start:end]
			forms = []string{raw, pyUnquote(raw)}
			alt = trimmed[:start] + "ALTERNATE" + trimmed[end:]
		}
		var altText string
		if alt != "" {
			if au, aerr := Parse(alt); aerr != nil {
				altText = aerr.Error()
			} else {
				altText = au.Redacted()
			}
		}
		// mustHide reports whether the form is recognisably the password:
		// long enough, not also written elsewhere in the input, and not
		// part of what the output says anyway when the password differs.
		mustHide := func(form string) bool {
			if len(form) < 6 {
				return false
			}
			if strings.Count(trimmed, form) != 1 && form == forms[0] || form != forms[0] && strings.Contains(trimmed, form) {
				return false
			}
			if strings.Contains(altText, form) || strings.Contains("ALTERNATE", form) {
				return false
			}
			return true
		}

		// With several '@' after the user information, the password may
		// run up to the last one: nothing of that span may show.
		var span string
		if i := strings.Index(trimmed, "://"); i >= 0 {
			rest := trimmed[i+3:]
			last := strings.LastIndexByte(rest, '@')
			if c := strings.IndexByte(rest, ':'); c >= 0 && strings.Count(rest, "@") >= 2 && c < last &&
				!strings.HasPrefix(strings.ToLower(trimmed), "sqlite") {
				if sp := rest[c+1 : last]; len(sp) >= 8 && !strings.Contains(rest[last:], sp) {
					span = sp
				}
			}
		}
		if span != "" && err == nil {
			t.Errorf("Parse(%q) accepted a URL with several '@'", in)
		}

		if err != nil {
			msg := err.Error()
			if span != "" && strings.Contains(msg, span) {
				t.Errorf("Parse(%q): error %q shows %q, which may be the password", in, msg, span)
			}
			if !strings.HasPrefix(msg, "dburl: ") {
				t.Errorf("error %q lacks the prefix", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error %q spans lines", msg)
			}
			for _, f := range forms {
				if mustHide(f) && strings.Contains(msg, f) {
					t.Errorf("Parse(%q): error %q contains the password %q", in, msg, f)
				}
			}
			return
		}

		red := u.Redacted()
		if u.String() != red {
			t.Errorf("String() != Redacted()")
		}
		for _, f := range forms {
			if mustHide(f) && strings.Contains(red, f) {
				t.Errorf("Parse(%q).Redacted() = %q contains the password %q", in, red, f)
			}
		}
		if u.p.hasPass && !strings.Contains(red, ":****@") {
			t.Errorf("Redacted() = %q does not mask the password", red)
		}
		// An empty libpq DSN is valid (all defaults); others never are.
		if u.Driver == "" || u.DSN == "" && u.Backend != Postgres {
			t.Errorf("Parse(%q): empty Driver or DSN", in)
		}
		// The redacted URL is itself a valid URL naming the same database.
		v, err := Parse(red)
		if err != nil {
			t.Fatalf("Parse(Redacted() = %q): %v", red, err)
		}
		if v.Backend != u.Backend || v.Host != u.Host || v.Port != u.Port || v.Database != u.Database ||
			v.Path != u.Path || v.Socket != u.Socket {
			t.Errorf("Parse(%q) and Parse(%q) differ: %+v vs %+v", in, red, *u, *v)
		}
	})
}
