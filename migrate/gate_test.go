package migrate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestGateWaitsReportsAndCaches: the answer of check is kept for the
// cache (batches in a row ask once); while something is over, Wait polls
// until it is not, reporting the first wait, then once per report
// interval, then that it went on; a check error ends Wait with it.
func TestGateWaitsReportsAndCaches(t *testing.T) {
	var mu sync.Mutex
	calls, overFor := 0, 0
	var failWith error
	check := func(context.Context) ([]Over, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if failWith != nil {
			return nil, failWith
		}
		if overFor > 0 {
			overFor--
			return []Over{{What: "replica a", Value: "3s behind", Limit: "1s", Lag: 3 * time.Second}}, nil
		}
		return nil, nil
	}
	var notes []ThrottleWait
	g := newGate("replica lag", check, 20*time.Millisecond, time.Hour, func(w ThrottleWait) { notes = append(notes, w) })
	ctx := context.Background()

	// Phase 1: nothing over; ten batches in a row ask the server once.
	for range 10 {
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 || len(notes) != 0 {
		t.Fatalf("after ten batches: %d checks, %d notes; want 1 check, no notes", calls, len(notes))
	}

	// Phase 2: over for ten checks (about 200 ms of polling every 20 ms).
	time.Sleep(25 * time.Millisecond) // past the cache
	mu.Lock()
	overFor = 10
	mu.Unlock()
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if calls != 12 {
		t.Errorf("%d checks; want 12 (one, ten over, one clear)", calls)
	}
	// A report interval of an hour: the first wait and the resumption,
	// nothing for the polls in between.
	if len(notes) != 2 || notes[0].Waited != 0 || notes[0].Over[0].What != "replica a" || notes[0].Over[0].Since.IsZero() || !notes[1].Resumed || notes[1].Waited <= 0 {
		t.Fatalf("notes %+v; want the first wait, then resumed", notes)
	}
	// With a report interval shorter than a poll, every poll reports,
	// with the same Since.
	g.report, notes = time.Nanosecond, nil
	time.Sleep(25 * time.Millisecond)
	mu.Lock()
	overFor = 3
	mu.Unlock()
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 4 || notes[1].Waited <= 0 || !notes[1].Over[0].Since.Equal(notes[0].Over[0].Since) || !notes[3].Resumed {
		t.Errorf("notes %+v; want wait, two reports since the same time, resumed", notes)
	}

	// Phase 3: the check fails: Wait returns its error.
	time.Sleep(25 * time.Millisecond)
	stop := &ReplicaError{Replica: "replica a", Err: errors.New("connection refused")}
	mu.Lock()
	failWith = stop
	mu.Unlock()
	if err := g.Wait(ctx); !errors.Is(err, ErrReplicaUnreachable) || !errors.Is(err, stop.Err) {
		t.Errorf("Wait = %v; want the ReplicaError", err)
	}
}

func TestParseLoad(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []LoadLimit
		err  bool
	}{
		{"Threads_running=25", []LoadLimit{{"Threads_running", 25}}, false},
		{"Threads_running=25, Threads_connected=500", []LoadLimit{{"Threads_running", 25}, {"Threads_connected", 500}}, false},
		{"25", []LoadLimit{{"", 25}}, false},
		{"active=1.5", []LoadLimit{{"active", 1.5}}, false},
		{"", nil, true},
		{"=3", nil, true},
		{"Threads_running=lots", nil, true},
		{"Threads_running=-1", nil, true},
	} {
		got, err := ParseLoad(c.in)
		if (err != nil) != c.err || (err != nil && !errors.Is(err, ErrBadLoad)) {
			t.Errorf("ParseLoad(%q) error %v; want error %v", c.in, err, c.err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("ParseLoad(%q) = %v; want %v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("ParseLoad(%q) = %v; want %v", c.in, got, c.want)
			}
		}
	}
}
