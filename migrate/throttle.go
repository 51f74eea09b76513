package migrate

import (
	"context"
	"time"
)

// A Throttler decides when the next batch may start: the keyed batches
// of data migrations, of shadow copies and of purges all ask one before
// each batch (and before each retry of one). Wait returns nil when the
// batch may run, or an error (the context's, or one saying why the run
// cannot go on: a watched replica that cannot be reached, for example),
// which ends the run as a failed batch would. A throttler that makes the
// caller wait reports its waits itself (through the callback it was made
// with); Wait must not hold a transaction or a lock of the database, and
// must be safe for concurrent use by the parallel batch workers.
//
// Done is told, after each batch, how many rows it changed and how long
// its transaction lasted (its commit included: on a Galera cluster that
// is certification and replication), so that a throttler may pace by
// what the batches cost.
type Throttler interface {
	Wait(ctx context.Context) error
	Done(b Batch)
}

// Batch is what a throttler learns of one finished batch.
type Batch struct {
	// Work names what ran: a data migration, ShadowCopyName of a table,
	// or a purged table.
	Work string
	Rows int64
	Took time.Duration
	Err  error
}

// Throttlers combines throttlers: Wait waits for each in turn (so that
// the batch starts when all of them let it), Done tells each. Nil
// elements are skipped; the result of no throttlers never waits.
func Throttlers(ts ...Throttler) Throttler {
	var list multi
	for _, t := range ts {
		if t != nil {
			list = append(list, t)
		}
	}
	return list
}

type multi []Throttler

func (m multi) Wait(ctx context.Context) error {
	for _, t := range m {
		if err := t.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (m multi) Done(b Batch) {
	for _, t := range m {
		t.Done(b)
	}
}

// throttle asks o.Throttle (if any) whether the next batch may start.
func throttle(ctx context.Context, o Options) error {
	if o.Throttle == nil {
		return nil
	}
	return o.Throttle.Wait(ctx)
}

// throttled tells o.Throttle (if any) of a finished batch.
func throttled(o Options, b Batch) {
	if o.Throttle != nil {
		o.Throttle.Done(b)
	}
}
