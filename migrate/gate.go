package migrate

import (
	"context"
	"sync"
	"time"
)

// ThrottleWait is what a waiting throttler (LagThrottle, LoadThrottle)
// reports through its Notify callback: once when a batch first has to
// wait, again once per report interval while it waits, and once when the
// batches go on (Resumed).
type ThrottleWait struct {
	// Kind is "replica lag" or "load".
	Kind string
	// Over lists what is over its limit (empty when Resumed).
	Over []Over
	// Waited is how long the batches have been waiting.
	Waited  time.Duration
	Resumed bool
}

// Over is one watched thing over its limit.
type Over struct {
	// What names it: a replica (its URL without the password, or the
	// standby's name), or a load metric.
	What string
	// Value is how far it is (e.g. "12s behind", "31"); Limit the
	// limit it is over.
	Value, Limit string
	// Lag is the replica's lag (0 for a load metric, or when the
	// replica cannot say: Value then says why).
	Lag time.Duration
	// Since is when this run first saw it over the limit, in this
	// spell of waiting.
	Since time.Time
}

// gate is the waiting shared by the throttlers: check says what is over
// its limit; its answer is kept for cache (so that batches in a row, and
// parallel workers, ask the server once per cache); while anything is
// over, Wait polls every cache and reports every report interval.
type gate struct {
	kind   string
	check  func(ctx context.Context) ([]Over, error)
	cache  time.Duration
	report time.Duration
	notify func(ThrottleWait)
	now    func() time.Time

	mu       sync.Mutex
	checked  time.Time
	over     []Over
	since    map[string]time.Time
	waiting  time.Time // when the current wait began (zero: none)
	reported time.Time
}

// state returns what is over, asking check when the last answer is older
// than the cache.
func (g *gate) state(ctx context.Context) ([]Over, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if !g.checked.IsZero() && now.Sub(g.checked) < g.cache {
		return g.over, nil
	}
	over, err := g.check(ctx)
	if err != nil {
		return nil, err
	}
	now = g.now()
	since := map[string]time.Time{}
	for i := range over {
		s, ok := g.since[over[i].What]
		if !ok {
			s = now
		}
		since[over[i].What], over[i].Since = s, s
	}
	g.since, g.over, g.checked = since, over, now
	return over, nil
}

// Wait returns when nothing watched is over its limit, or with check's
// error or the context's.
func (g *gate) Wait(ctx context.Context) error {
	for {
		over, err := g.state(ctx)
		if err != nil {
			return err
		}
		g.mu.Lock()
		now := g.now()
		var w *ThrottleWait
		switch {
		case len(over) == 0 && !g.waiting.IsZero():
			w = &ThrottleWait{Kind: g.kind, Waited: now.Sub(g.waiting), Resumed: true}
			g.waiting = time.Time{}
		case len(over) > 0 && g.waiting.IsZero():
			g.waiting, g.reported = now, now
			w = &ThrottleWait{Kind: g.kind, Over: over}
		case len(over) > 0 && now.Sub(g.reported) >= g.report:
			g.reported = now
			w = &ThrottleWait{Kind: g.kind, Over: over, Waited: now.Sub(g.waiting)}
		}
		g.mu.Unlock()
		if w != nil && g.notify != nil {
			g.notify(*w)
		}
		if len(over) == 0 {
			return nil
		}
		if err := sleep(ctx, g.cache); err != nil {
			return err
		}
	}
}

// Done implements Throttler: these throttlers look at the servers, not
// at the batches.
func (g *gate) Done(Batch) {}
