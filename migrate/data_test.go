package migrate

import (
	"testing"
	"time"
)

func TestNextDataBatch(t *testing.T) {
	const target = 50 * time.Millisecond
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		n    int
		took time.Duration
		want int
	}{
		{"on target: unchanged", 4000, 50 * ms, 4000},
		{"fast: grows by the cap only", 1000, 5 * ms, 1250},
		{"a little fast: grows to the target", 4000, 45 * ms, 4444},
		{"faster than the clock: grows by the cap", 1000, 0, 1250},
		{"slow: shrinks to the target at once", 4000, 80 * ms, 2500},
		{"just over: shrinks in proportion", 4000, 51 * ms, 3921},
		{"very slow: shrinks to half the target", 4000, 200 * ms, 500},
		{"floor", 200, 10 * time.Second, MinDataBatch},
		{"ceiling", MaxDataBatch, ms, MaxDataBatch},
		{"from below the floor", 10, 50 * ms, MinDataBatch},
		{"nonsense size: default", 0, 50 * ms, DefaultDataBatch},
	} {
		if got := nextDataBatch(c.n, c.took, target); got != c.want {
			t.Errorf("%s: nextDataBatch(%d, %s) = %d, want %d", c.name, c.n, c.took, got, c.want)
		}
	}
}

// TestNextDataBatchConverges feeds the adaptation a steady cost per row
// and checks that the predicted duration of every batch it chooses stays
// within the growth cap of the target, and that it settles on it.
func TestNextDataBatchConverges(t *testing.T) {
	const target = 50 * time.Millisecond
	for _, perRow := range []time.Duration{time.Microsecond, 12 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond} {
		n := DefaultDataBatch
		for i := 0; i < 60; i++ {
			took := time.Duration(n) * perRow
			limit := time.Duration(float64(target) * DataBatchGrowth)
			if i > 0 && n > MinDataBatch && took > limit {
				t.Fatalf("%s per row: batch %d of %d rows takes %s, over %s", perRow, i, n, took, limit)
			}
			n = nextDataBatch(n, took, target)
		}
		want := min(max(int(target/perRow), MinDataBatch), MaxDataBatch)
		if d := n - want; d < -want/100-1 || d > want/100+1 {
			t.Errorf("%s per row: settled on %d rows, want about %d", perRow, n, want)
		}
	}
}

// TestNextDataBatchSpike: after a batch slowed down tenfold (a writer
// held a row, the machine was busy), the next batch at that slower rate
// takes at most half the target; back at the normal rate the size climbs
// again by at most the growth cap per batch.
func TestNextDataBatchSpike(t *testing.T) {
	const target = 50 * time.Millisecond
	perRow := 10 * time.Microsecond
	n := 5000 // on target
	n = nextDataBatch(n, time.Duration(n)*perRow*10, target)
	if took := time.Duration(n) * perRow * 10; took > target/2 {
		t.Fatalf("after the spike: %d rows take %s at the slow rate", n, took)
	}
	prev := n
	for i := 0; i < 40; i++ {
		n = nextDataBatch(n, time.Duration(n)*perRow, target)
		if float64(n) > float64(prev)*DataBatchGrowth+1 {
			t.Fatalf("grew from %d to %d in one batch", prev, n)
		}
		prev = n
	}
	if n != 5000 {
		t.Errorf("settled on %d rows after the spike, want 5000", n)
	}
}
