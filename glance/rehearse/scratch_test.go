package rehearse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/dburl"
)

// TestWithDatabase: the scratch URL keeps everything of the source's but
// the database name, the password and query included.
func TestWithDatabase(t *testing.T) {
	for _, c := range []struct{ raw, name, want string }{
		{"mysql+pymysql://glance:p%40ss/w@db.example:3306/glance?charset=utf8", "glance_rehearse", "mysql+pymysql://glance:p%40ss/w@db.example:3306/glance_rehearse?charset=utf8"},
		{"postgresql://glance@10.0.0.5/glance", "glance_rehearse", "postgresql://glance@10.0.0.5/glance_rehearse"},
		{"mysql://glance:x@/glance?unix_socket=/run/mysqld/mysqld.sock", "g_rehearse", "mysql://glance:x@/g_rehearse?unix_socket=/run/mysqld/mysqld.sock"},
		{"postgresql://db.example", "glance_rehearse", "postgresql://db.example/glance_rehearse"},
	} {
		got, err := withDatabase(c.raw, c.name)
		if err != nil || got != c.want {
			t.Errorf("withDatabase(%q, %q) = %q, %v; want %q", c.raw, c.name, got, err, c.want)
		}
	}
	if _, err := withDatabase("not a url", "x"); err == nil {
		t.Error("withDatabase accepted a string without a scheme")
	}
}

// TestScratchName: the suffix, within the servers' limits on names.
func TestScratchName(t *testing.T) {
	long := strings.Repeat("g", 70)
	for _, c := range []struct {
		b         dburl.Backend
		name      string
		want      string
		maxLength int
	}{
		{dburl.MySQL, "glance", "glance_rehearse", 64},
		{dburl.Postgres, "glance", "glance_rehearse", 63},
		{dburl.MySQL, long, long[:64-len("_rehearse")] + "_rehearse", 64},
		{dburl.Postgres, long, long[:63-len("_rehearse")] + "_rehearse", 63},
	} {
		got := ScratchName(c.b, c.name)
		if got != c.want || len(got) > c.maxLength {
			t.Errorf("ScratchName(%s, %q) = %q (%d bytes), want %q", c.b, c.name, got, len(got), c.want)
		}
	}
}

// TestSameDatabase: the same database under other spellings is the same;
// another name, port or backend is not.
func TestSameDatabase(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "glance.db")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	parse := func(s string) *dburl.URL {
		u, err := dburl.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"sqlite:///" + file, "sqlite:///" + link, true},
		{"sqlite:///" + file, "sqlite:///" + filepath.Join(dir, "other.db"), false},
		{"mysql+pymysql://root@127.0.0.1:3306/glance", "mysql://glance:pw@127.0.0.1/glance?charset=utf8", true},
		{"mysql+pymysql://root@127.0.0.1:3306/glance", "mysql+pymysql://root@127.0.0.1:3307/glance", false},
		{"mysql+pymysql://root@127.0.0.1:3306/glance", "mysql+pymysql://root@127.0.0.1:3306/glance_rehearse", false},
		{"postgresql://postgres@127.0.0.1/glance", "mysql+pymysql://root@127.0.0.1/glance", false},
	} {
		if got := sameDatabase(parse(c.a), parse(c.b)); got != c.same {
			t.Errorf("sameDatabase(%s, %s) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
