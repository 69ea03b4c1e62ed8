package core

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestQueueViews: waiting counts queued and ringing calls until one is answered, the longest
// wait grows with the (fake) clock, and agents are counted by status in the queues they serve.
func TestQueueViews(t *testing.T) {
	w := newWorld(t, "")
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a2")
	q := func() map[string]QueueView {
		m := map[string]QueueView{}
		for _, v := range w.core.Queues("acme", []string{"sales", "support"}) {
			m[v.Name] = v
		}
		return m
	}
	if v := q()["support"]; v.Waiting != 0 || v.AgentsReady != 1 || v.AgentsLoggedIn != 2 || v.LongestWaitMS != 0 {
		t.Fatalf("idle: %+v", v)
	}
	wc, cust := w.customer(t)
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a2") // queued, then offered to the ready agent
	w.clock.Advance(3 * time.Second)
	v := q()["support"]
	if v.Waiting != 1 || v.LongestWaitMS != 3000 || v.OldestWaitingAt == "" {
		t.Fatalf("ringing: %+v", v)
	}
	if s := q()["sales"]; s.Waiting != 0 {
		t.Errorf("sales counts support's caller: %+v", s)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	if v := q()["support"]; v.Waiting != 0 || v.AgentsBusy != 1 || v.AgentsReady != 0 || v.LongestWaitMS != 0 {
		t.Fatalf("answered: %+v", v)
	}
	if got := w.core.Queues("acme", nil); len(got) != 0 {
		t.Errorf("no names and no waiting call: %+v", got)
	}
}

// TestStatusReasonChecked: a reason any protocol could not carry is refused by the core itself,
// whatever route it came by, and changes nothing.
func TestStatusReasonChecked(t *testing.T) {
	w := newWorld(t, "")
	w.phone(t, "a1", true)
	for _, r := range []string{strings.Repeat("x", 65), "lunch\n", "<b>"} {
		if _, err := w.core.SetStatus(context.Background(), agentActor("a1", ViaPhone), "a1", agent.DND, r); Kind(err) != KindInvalid {
			t.Errorf("reason %q: %v, want invalid", r, err)
		}
	}
	if v := w.core.Agent("acme", "a1"); v.Status != string(agent.Online) {
		t.Fatalf("a refused reason changed the status: %s %q", v.Status, v.Reason)
	}
	if _, err := w.core.SetStatus(context.Background(), agentActor("a1", ViaPhone), "a1", agent.DND, "lunch break"); err != nil {
		t.Fatal(err)
	}
}
