package integration

import (
	"strings"
	"sync"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBridgeTwoDesktops: two bridge connections of one agent (a WebSocket and a TCP one) are two
// core desktop sessions mirroring one state: conflicting requests sent at once end in one state
// that both report, a change from one is confirmed to both, and answering in one stops the
// alerting in the other.
func TestBridgeTwoDesktops(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	a := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
	b := login(t, e.tcpClient(), "a1", e.token(auth.RoleAgent, "a1"))
	if a.sid == b.sid {
		t.Fatal("two connections share a session")
	}

	// conflicting ready / not ready at once, several rounds
	for round := range 5 {
		ma, mb := a.mark(), b.mark()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.request("channel.request.ready", a.channel, nil) }()
		go func() {
			defer wg.Done()
			b.request("channel.request.notready", b.channel, map[string]string{"reason": "r" + string(rune('0'+round))})
		}()
		wg.Wait()
		sa := a.query("channel.query.init", a.channel)
		sb := b.query("channel.query.init", b.channel)
		core := e.srv.Core.Agent("acme", "a1")
		if sa.str("status") != sb.str("status") || sa.str("reason") != sb.str("reason") || sa.str("status") != core.Status {
			t.Fatalf("round %d: desktops disagree: %s vs %s (core %s)", round, sa.raw, sb.raw, core.Status)
		}
		// the last statechanged each received is that state
		la, lb := a.events(ma, a.mark(), a.channel), b.events(mb, b.mark(), b.channel)
		if len(la) == 0 || len(lb) == 0 {
			t.Fatalf("round %d: no statechanged", round)
		}
		last := func(ms []bmsg) string { return ms[len(ms)-1].str("status") + "/" + ms[len(ms)-1].str("reason") }
		if last(la) != last(lb) || last(la) != sa.str("status")+"/"+sa.str("reason") {
			t.Fatalf("round %d: last statechanged %s vs %s, state %s", round, last(la), last(lb), sa.raw)
		}
	}
	a.request("channel.request.ready", a.channel, nil)

	// a call alerts both desktops; answering in one stops the alerting in the other
	ma, mb := a.mark(), b.mark()
	e.customer()
	iaA, iaB := a.interaction(ma), b.interaction(mb)
	_, convA, _ := a.initCall(iaA)
	_, convB, cb := b.initCall(iaB)
	if cb.str("conversation-state") != "RINGING" {
		t.Fatalf("second desktop: %s", cb.raw)
	}
	b.event(cb.idx, "conversation.ringing", convB)
	mb = b.mark()
	a.request("interaction.request.accept", iaA, nil)
	b.event(mb, "interaction.accepted", iaB)
	b.event(mb, "conversation.talking", convB)
	if s := b.query("interaction.query.init", iaB); s.str("interaction-state") != "ACTIVE" {
		t.Fatalf("second desktop still alerting: %s", s.raw)
	}
	b.refused("interaction.request.accept", iaB, nil, "answer")

	// a change from one is confirmed to both
	ma, mb = a.mark(), b.mark()
	b.request("conversation.request.hold", convB, nil)
	a.event(ma, "conversation.held", convA)
	b.event(mb, "conversation.held", convB)

	// conflicting hold / retrieve at once: one final state, reported by both
	for range 3 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.request("conversation.request.retrieve", convA, nil) }()
		go func() { defer wg.Done(); b.request("conversation.request.hold", convB, nil) }()
		wg.Wait()
		sa, sb := a.query("conversation.query.init", convA), b.query("conversation.query.init", convB)
		if sa.str("conversation-state") != sb.str("conversation-state") {
			t.Fatalf("desktops disagree: %s vs %s", sa.raw, sb.raw)
		}
	}

	// one desktop hangs up: both see the end
	ma, mb = a.mark(), b.mark()
	a.request("conversation.request.release", convA, nil)
	a.event(ma, "conversation.ended", convA)
	b.event(mb, "conversation.ended", convB)
	b.event(mb, "interaction.released", iaB)
}

// TestBridgeDial: channel.request.dial creates an interaction that exists when the response
// arrives (DIALING), follows the far end answering, and reports failures on the conversation.
func TestBridgeDial(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	e.phone("a2")
	d1 := login(t, e.ws(""), "a1", e.token(auth.RoleAgent, "a1"))
	d2 := login(t, e.tcpClient(), "a2", e.token(auth.RoleAgent, "a2"))

	m1, m2 := d1.mark(), d2.mark()
	r := d1.request("channel.request.dial", d1.channel, map[string]any{"destination": "102", "variables": map[string]string{"case": "9"}})
	ia := r.str("interaction")
	if added := d1.event(m1, "channel.interactionadded", d1.channel); added.str("interaction") != ia || added.idx > r.idx {
		t.Fatalf("interactionadded %s before the dial response %s", added.raw, r.raw)
	}
	ii, conv, ci := d1.initCall(ia)
	if ii.str("interaction-state") != "DIALING" || ii.str("direction") != "outbound" || ci.str("conversation-state") != "DIALING" ||
		ii.Body["interaction-data"].(map[string]any)["case"] != "9" {
		t.Fatalf("dialled interaction: %s %s", ii.raw, ci.raw)
	}
	d1.event(ci.idx, "conversation.dialing", conv)
	ia2 := d2.interaction(m2)
	ii2, conv2, _ := d2.initCall(ia2)
	if ii2.str("interaction-state") != "ALERTING" || ii2.str("remote-number") != "a1" || ii2.str("remote-name") != "Agent a1" {
		t.Fatalf("callee's interaction: %s", ii2.raw)
	}
	m1 = d1.mark()
	d2.request("interaction.request.accept", ia2, nil)
	d1.event(m1, "interaction.connected", ia)
	d1.event(m1, "conversation.talking", conv)
	if pa := d1.event(m1, "conversation.partyadded", conv); pa.str("number") != "102" || pa.str("name") != "Agent a2" {
		t.Fatalf("partyadded at the caller: %s", pa.raw)
	}
	m2 = d2.mark()
	d1.request("conversation.request.release", conv, nil)
	d2.event(m2, "conversation.ended", conv2)
	d1.request("interaction.request.complete", ia, nil)

	// the called agent rejects: interaction.rejected at the callee, conversation.failed at the caller
	m1, m2 = d1.mark(), d2.mark()
	r = d1.request("channel.request.dial", d1.channel, map[string]any{"destination": "a2"})
	ia = r.str("interaction")
	_, conv, _ = d1.initCall(ia)
	ia2 = d2.interaction(m2)
	d2.query("interaction.query.init", ia2)
	d2.request("interaction.request.reject", ia2, nil)
	d2.event(m2, "interaction.rejected", ia2)
	if f := d1.event(m1, "conversation.failed", conv); !strings.Contains(f.str("reason"), "declined") {
		t.Fatalf("caller after rejection: %s", f.raw)
	}
	d1.event(m1, "conversation.ended", conv)
	d1.request("interaction.request.complete", ia, nil)
	d2.request("interaction.request.complete", ia2, nil)

	// no route: the interaction appears, then its conversation fails and ends
	m1 = d1.mark()
	r = d1.request("channel.request.dial", d1.channel, map[string]any{"destination": "+15559999"})
	ia = r.str("interaction")
	_, conv, _ = d1.initCall(ia)
	if f := d1.event(m1, "conversation.failed", conv); f.str("reason") != "no outbound route" {
		t.Fatalf("failed: %s", f.raw)
	}
	d1.event(m1, "conversation.ended", conv)
	d1.event(m1, "interaction.released", ia)
	d1.request("interaction.request.complete", ia, nil)

	// busy: a2 is not ready (dnd)
	d2.request("channel.request.notready", d2.channel, map[string]string{"reason": "break"})
	m1 = d1.mark()
	r = d1.request("channel.request.dial", d1.channel, map[string]any{"destination": "a2"})
	_, conv, _ = d1.initCall(r.str("interaction"))
	d1.event(m1, "conversation.busy", conv)
	d1.event(m1, "conversation.ended", conv)
}
