package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

// collect reads n events from sub (or fails after a generous ceiling).
func collect(t *testing.T, sub *hub.Subscription, n int) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]event.Event, 0, n)
	for len(out) < n {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

func subscribe(t *testing.T, h *hub.Hub, acct string, from int64) *hub.Subscription {
	t.Helper()
	sub, err := h.Subscribe(context.Background(), acct, from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// publishMany publishes n events of acct on h from 8 goroutines and returns them by seq.
func publishMany(t *testing.T, h *hub.Hub, acct string, n int) map[int64]event.Event {
	t.Helper()
	var mu sync.Mutex
	out := map[int64]event.Event{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				ev, err := h.Publish(context.Background(), acct, event.DataUpdated, map[string]any{"i": i, "acct": acct})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				out[ev.Seq] = ev
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func sameEvents(t *testing.T, who string, got []event.Event, want map[int64]event.Event, from int64) {
	t.Helper()
	for i, ev := range got {
		w, ok := want[from+int64(i)]
		if !ok || ev.Seq != from+int64(i) {
			t.Fatalf("%s: event %d has seq %d, want %d", who, i, ev.Seq, from+int64(i))
		}
		if string(ev.Wire()) != string(w.Wire()) {
			t.Fatalf("%s: seq %d is %s, the owner published %s", who, ev.Seq, ev.Wire(), w.Wire())
		}
	}
}

// Two nodes of a 3-server JetStream cluster (R3): a subscriber on the owner node and one on
// another node receive the same events with the same seq, gapless; a subscriber resuming on the
// other node replays from the stream; another account's subscriber gets nothing of them.
func TestClusterSameSeqOnEveryNode(t *testing.T) {
	servers := startCluster(t, 3)
	a := startNode(t, servers[0], "n1", 3)
	b := startNode(t, servers[1], "n2", 3)
	onA, onB := subscribe(t, a.hub, "acme", -1), subscribe(t, b.hub, "acme", -1)
	foreign := subscribe(t, b.hub, "other", -1)

	const n = 300
	want := publishMany(t, a.hub, "acme", n)
	if len(want) != n {
		t.Fatalf("%d distinct seqs for %d events", len(want), n)
	}
	sameEvents(t, "node A", collect(t, onA, n), want, 1)
	sameEvents(t, "node B", collect(t, onB, n), want, 1)

	resumed := subscribe(t, b.hub, "acme", 120)
	sameEvents(t, "resumed on B", collect(t, resumed, n-120), want, 121)
	if got, _ := b.log.Events(context.Background(), "acme", 0, 1000); len(got) != n {
		t.Fatalf("B reads %d events of the log, want %d", len(got), n)
	}
	otherEv, err := a.hub.Publish(context.Background(), "other", event.DataUpdated, map[string]any{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, foreign, 1); got[0].Seq != 1 || got[0].Account != "other" || string(got[0].Wire()) != string(otherEv.Wire()) {
		t.Fatalf("other account's subscriber got %s of %q", got[0].Wire(), got[0].Account)
	}
	if oldest, err := b.log.OldestSeq(context.Background(), "acme"); err != nil || oldest != 1 {
		t.Fatalf("oldest seq %d, %v", oldest, err)
	}
}

// A node that took an account over appends after the last event; the node that lost it is
// fenced by the stream (expected last subject sequence): its append fails and the log keeps one
// event per seq.
func TestClusterFencedAppend(t *testing.T) {
	servers := startCluster(t, 3)
	a := startNode(t, servers[0], "n1", 3)
	b := startNode(t, servers[2], "n3", 3)
	publishMany(t, a.hub, "acme", 10)
	// B takes acme over: it reads where the log ends and continues from there.
	ctx := context.Background()
	last, err := b.log.Refresh(ctx, "acme")
	if err != nil || last.seq != 10 {
		t.Fatalf("B sees the log end at %d (%v), want 10", last.seq, err)
	}
	b.hub.SyncSeq("acme", last.seq)
	ev, err := b.hub.Publish(ctx, "acme", event.DataUpdated, map[string]any{"by": "b"})
	if err != nil || ev.Seq != 11 {
		t.Fatalf("B appends seq %d (%v), want 11", ev.Seq, err)
	}
	// A still believes it owns acme: its next append must fail, not take seq 11 again.
	_, err = a.hub.Publish(ctx, "acme", event.DataUpdated, map[string]any{"by": "a"})
	// Refused by the stream's guard (ErrFenced), or before sending if A's feed has already shown
	// it B's event (ErrOutOfOrder): either way unavailable, and nothing appended.
	if !errors.Is(err, ErrFenced) && !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("stale owner's append: %v, want ErrFenced or ErrOutOfOrder", err)
	}
	evs, err := a.log.Events(ctx, "acme", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("log has seq %d at %d", e.Seq, i)
		}
	}
	if len(evs) != 11 || fmt.Sprint(string(evs[10].Data)) != `{"by":"b"}` {
		t.Fatalf("log has %d events, last %s", len(evs), evs[len(evs)-1].Data)
	}
}

// Retention keeps an account's events newer than the limit, and always its last one, so that
// its numbering continues after a prune that would have emptied it.
func TestClusterPrune(t *testing.T) {
	servers := startCluster(t, 3)
	a := startNode(t, servers[0], "n1", 3)
	ctx := context.Background()
	publishMany(t, a.hub, "acme", 20)
	cut := time.Now() // after the first 20 were stored, before the next 5
	publishMany(t, a.hub, "acme", 5)
	if err := a.log.Prune(ctx, "acme", cut); err != nil {
		t.Fatal(err)
	}
	evs, err := a.log.Events(ctx, "acme", 0, 100)
	if err != nil || len(evs) == 0 || evs[0].Seq <= 1 || evs[len(evs)-1].Seq != 25 {
		t.Fatalf("after the prune: %d events %v (%v)", len(evs), evs, err)
	}
	for _, ev := range evs {
		if ev.Time.Before(cut.Truncate(time.Millisecond)) {
			t.Fatalf("seq %d at %s kept, older than %s", ev.Seq, ev.Time, cut)
		}
	}
	if oldest, _ := a.log.OldestSeq(ctx, "acme"); oldest != evs[0].Seq {
		t.Fatalf("oldest %d, first kept %d", oldest, evs[0].Seq)
	}
	sub, err := a.hub.Subscribe(ctx, "acme", 0)
	if _, resync := hub.IsResync(err); !resync {
		t.Fatalf("resume from 0 after the prune: %v, want resync", err)
	}
	sub.Close()
	// Everything older: the last message stays, the numbering goes on.
	if err := a.log.Prune(ctx, "acme", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if last, err := a.log.Refresh(ctx, "acme"); err != nil || last.seq != 25 {
		t.Fatalf("after pruning everything the log ends at %d (%v)", last.seq, err)
	}
	if ev, err := a.hub.Publish(ctx, "acme", event.DataUpdated, map[string]any{}); err != nil || ev.Seq != 26 {
		t.Fatalf("next seq %d (%v), want 26", ev.Seq, err)
	}
}

// Cross-tenant: subscribers of two accounts on two nodes each receive their own account's events
// only, every one of them checked (10^5 checks; CTI_CROSS_TENANT_FULL=1 makes it 10^6).
func TestClusterCrossTenant(t *testing.T) {
	n := 1250
	if os.Getenv("CTI_CROSS_TENANT_FULL") != "" {
		n = 12500
	}
	servers := startCluster(t, 3)
	a := startNode(t, servers[0], "n1", 3)
	b := startNode(t, servers[1], "n2", 3)
	accts := []string{"a1", "a2"}
	type reader struct {
		acct string
		sub  *hub.Subscription
	}
	var readers []reader
	for _, acct := range accts {
		for _, nd := range []*node{a, b} {
			for range 20 {
				readers = append(readers, reader{acct, subscribe(t, nd.hub, acct, -1)})
			}
		}
	}
	var wg sync.WaitGroup
	for _, acct := range accts {
		wg.Go(func() { publishMany(t, a.hub, acct, n) })
	}
	var checks, foreign atomic.Int64
	for _, r := range readers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for range n {
				ev, err := r.sub.Next(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				var d struct {
					Acct string `json:"acct"`
				}
				_ = json.Unmarshal(ev.Data, &d)
				checks.Add(1)
				if ev.Account != r.acct || d.Acct != r.acct {
					foreign.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if foreign.Load() != 0 || checks.Load() != int64(len(readers)*n) {
		t.Fatalf("%d foreign events in %d checks (want %d checks)", foreign.Load(), checks.Load(), len(readers)*n)
	}
	t.Logf("%d checks, 0 foreign", checks.Load())
}
