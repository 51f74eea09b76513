package rolling

import (
	"reflect"
	"testing"
	"time"
)

func TestDuring(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	stmts := []stamped{{at(0), "a"}, {at(10), "b"}, {at(20), "c"}, {at(30), "d"}}
	for _, c := range []struct {
		from, to int
		want     []string
	}{
		{12, 15, []string{"b"}},
		{12, 25, []string{"b", "c"}},
		{10, 10, []string{"b"}},
		{40, 50, []string{"d"}},
		{-5, 5, []string{"a"}},
	} {
		if got := during(stmts, at(c.from), at(c.to)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("during(%d, %d) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}
