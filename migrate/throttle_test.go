package migrate

import (
	"context"
	"errors"
	"testing"
)

type recorder struct {
	name string
	log  *[]string
	err  error
}

func (r recorder) Wait(context.Context) error { *r.log = append(*r.log, "wait "+r.name); return r.err }
func (r recorder) Done(b Batch)               { *r.log = append(*r.log, "done "+r.name+" "+b.Work) }

func TestThrottlersWaitForEachInTurn(t *testing.T) {
	var log []string
	stop := errors.New("replica gone")
	all := Throttlers(recorder{"a", &log, nil}, nil, recorder{"b", &log, stop}, recorder{"c", &log, nil})
	if err := all.Wait(context.Background()); !errors.Is(err, stop) {
		t.Fatalf("Wait = %v, want the second throttler's error", err)
	}
	all.Done(Batch{Work: "images"})
	want := []string{"wait a", "wait b", "done a images", "done b images", "done c images"}
	if len(log) != len(want) {
		t.Fatalf("calls %q, want %q", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Fatalf("calls %q, want %q", log, want)
		}
	}
	if err := Throttlers().Wait(context.Background()); err != nil {
		t.Fatalf("no throttlers: Wait = %v", err)
	}
}
