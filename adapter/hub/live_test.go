package hub

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestLiveQueueMemory: an idle subscriber holds no buffer; a burst's buffer is given back once
// drained when it grew past liveKeep; a consumer that keeps up without ever emptying the queue
// does not make it grow past twice its bound.
func TestLiveQueueMemory(t *testing.T) {
	l := newLiveQueue()
	if cap(l.q) != 0 {
		t.Fatalf("new queue holds %d slots", cap(l.q))
	}
	evs := make([]event.Event, 1000)
	for i := range 500 {
		if !l.push(&evs[i], 1000) {
			t.Fatalf("push %d refused", i)
		}
	}
	got, ended := l.take(nil, 1000)
	if len(got) != 500 || ended || got[0] != &evs[0] || got[499] != &evs[499] {
		t.Fatalf("took %d (ended %v)", len(got), ended)
	}
	if cap(l.q) != 0 {
		t.Fatalf("a drained queue keeps %d slots after a burst of 500", cap(l.q))
	}
	// Steady state: one in, one out, always one left behind.
	const max = 64
	l.push(&evs[0], max)
	for i := 1; i < 1000; i++ {
		if !l.push(&evs[i], max) {
			t.Fatalf("push %d refused with 2 queued", i)
		}
		got, _ := l.take(nil, 1)
		if len(got) != 1 || got[0] != &evs[i-1] {
			t.Fatalf("take %d: got %v, want event %d", i, got, i-1)
		}
	}
	if cap(l.q) > 2*max {
		t.Fatalf("queue grew to %d slots with at most 2 queued", cap(l.q))
	}
	// Full: the next push is refused (the hub drops the subscriber).
	for l.queued() < max {
		l.push(&evs[0], max)
	}
	if l.push(&evs[0], max) {
		t.Fatal("push past the bound accepted")
	}
	// Ended: what is queued is still taken, then ended is reported.
	l.end(ErrSlowConsumer)
	got, ended = l.take(nil, 1000)
	if len(got) != max || !ended {
		t.Fatalf("after end: took %d, ended %v", len(got), ended)
	}
	if err, ended := l.error(); err != ErrSlowConsumer || !ended {
		t.Fatalf("error %v ended %v", err, ended)
	}
}
