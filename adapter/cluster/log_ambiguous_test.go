package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

func greeting(seq int64, g string) event.Event {
	return event.Event{Account: "acme", Seq: seq, Time: time.Unix(1700000000, 0).UTC(), Name: event.SettingsChanged,
		Data: []byte(`{"settings":{"greeting":"` + g + `"}}`)}
}

// An append that reached the stream although its commit failed (the ack was lost while the
// stream's leader moved: TestClusterOwnerKilled, a node killed mid-burst): the hub numbers its
// next events from the same seq again. Those other events must be refused, not acknowledged as a
// duplicate of the stored message and lost; the very events of the failed commit, retried, are
// acknowledged and stored once; and the account goes on after them.
func TestClusterAppendStoredWithoutAck(t *testing.T) {
	servers := startCluster(t, 3) // clustered: the server checks a message id before the guard
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := OpenLog(ctx, connect(t, servers[0]), openStore(t), LogOptions{Replicas: 3, Node: "n1", Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	if _, err := l.Commit(ctx, []event.Event{greeting(1, "one"), greeting(2, "two")}, nil); err != nil {
		t.Fatal(err)
	}
	// Seq 3 reaches the stream as the log would append it, but the log never sees the ack.
	m, skip, err := l.message(ctx, "acme", []event.Event{greeting(3, "stored")})
	if err != nil || skip {
		t.Fatalf("message: %v (skip %v)", err, skip)
	}
	if _, err := l.js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	// The hub rolled back after the failed commit and numbers other events 3.
	_, err = l.Commit(ctx, []event.Event{greeting(3, "other")}, nil)
	if !errors.Is(err, ErrOutOfOrder) && !errors.Is(err, ErrFenced) {
		t.Fatalf("other events numbered like the stored append: %v, want ErrOutOfOrder or ErrFenced", err)
	}
	// The failed commit retried as it was: acknowledged, stored once.
	if _, err := l.Commit(ctx, []event.Event{greeting(3, "stored")}, nil); err != nil {
		t.Fatalf("the stored append retried: %v", err)
	}
	if _, err := l.Commit(ctx, []event.Event{greeting(4, "four")}, nil); err != nil {
		t.Fatalf("the next append: %v", err)
	}
	evs, err := l.Events(ctx, "acme", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, string(ev.Data))
	}
	want := []string{"one", "two", "stored", "four"}
	if len(evs) != len(want) {
		t.Fatalf("log holds %q, want greetings %q", got, want)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || string(ev.Data) != string(greeting(0, want[i]).Data) {
			t.Fatalf("log holds %q, want greetings %q", got, want)
		}
	}
}

// The tail another node reads (a takeover, a resync after a failed append) is the appender's:
// its last seq and the id of the message that ends it, read from the stream's leader (a replica
// behind it would give an older tail, and every append guarded by it would be fenced).
func TestClusterTailFromLeader(t *testing.T) {
	servers := startCluster(t, 3)
	a := startNode(t, servers[0], "n1", 3)
	b := startNode(t, servers[1], "n2", 3)
	publishMany(t, a.hub, "acme", 20)
	ctx := context.Background()
	for i := range 20 {
		ev, err := a.hub.Publish(ctx, "acme", event.DataUpdated, map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.log.lastOf(ctx, "acme")
		if err != nil || got.seq != ev.Seq {
			t.Fatalf("after seq %d the tail reads %d (%v)", ev.Seq, got.seq, err)
		}
		a.log.mu.Lock()
		known := a.log.tails["acme"]
		a.log.mu.Unlock()
		if known.id != got.id || got.id == "" || known.streamSeq != got.streamSeq {
			t.Fatalf("tail %+v, the appender knows %+v", got, known)
		}
	}
	if got, err := b.log.lastOf(ctx, "nobody"); err != nil || got != (tail{}) {
		t.Fatalf("an account without events: %+v, %v", got, err)
	}
}
