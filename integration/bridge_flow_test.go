package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// expectNames checks the events on prefix received in [from, to) are exactly want, in order.
func expectNames(t *testing.T, d *bclient, from, to int, prefix string, want ...string) {
	t.Helper()
	if got := names(d.events(from, to, prefix)); !slices.Equal(got, want) {
		t.Fatalf("%s: events on %s: got %v, want %v\n%s", d.name, prefix, got, want, d.dump(from))
	}
}

// TestBridgeInboundCallFlow drives one inbound web call through every destination over both
// transports: a1 on a WebSocket (token in the URL), a2 on TCP (token in login), a3 on a
// WebSocket (token in login). Ready and not ready; ringing -> answer -> hold -> retrieve ->
// mute -> unmute -> DTMF -> setdata -> blind transfer; a blind conference with removeparty;
// release, complete and dispose. Every response echoes its request; events raised before a
// destination's init query arrive right after its response, in order.
func TestBridgeInboundCallFlow(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	e.phone("a2")
	e.phone("a3")

	t1 := e.token(auth.RoleAgent, "a1")
	c1 := e.ws(t1)
	// start-up: the processor answers init before login on a WebSocket that carried a token
	ci := c1.query("control.query.init", control)
	if ci.str("status") != "ACTIVE" || ci.str("mode") != "full" || ci.str("version") == "" {
		t.Fatalf("control.query.init: %s", ci.raw)
	}
	caps, _ := ci.Body["capabilities"].([]any)
	for _, op := range []string{"login", "ready", "notready", "dial", "answer", "hold", "senddtmf", "transfer", "conference", "removeparty"} {
		if !slices.Contains(caps, any(op)) {
			t.Fatalf("full mode capabilities lack %s: %s", op, ci.raw)
		}
	}
	d1 := login(t, c1, "a1", "")
	if ci.str("session") != d1.sid {
		t.Fatalf("the URL token logged in at connect: init named session %q, login answered %q", ci.str("session"), d1.sid)
	}
	si := d1.query("session.query.init", d1.sid)
	if ag := si.Body["agent"].(map[string]any); ag["user_id"] != "a1" || ag["name"] != "Agent a1" || ag["status"] != "online" {
		t.Fatalf("session.query.init: %s", si.raw)
	}
	if ep := si.Body["channel-groups"].([]any)[0].(map[string]any)["channels"].([]any)[0].(map[string]any)["end-point"]; ep != "101" {
		t.Fatalf("end-point %v, want the extension 101", ep)
	}
	if ch := d1.query("channel.query.init", d1.channel); ch.str("state") != "NOT_READY" || ch.str("status") != "online" {
		t.Fatalf("channel.query.init: %s", ch.raw)
	}

	// ready / not ready: channel.statechanged (raised before the response), body like init
	m := d1.mark()
	r := d1.request("channel.request.ready", d1.channel, map[string]any{})
	sc := d1.event(m, "channel.statechanged", d1.channel)
	if sc.str("state") != "READY" || sc.str("status") != "ready" || sc.idx > r.idx {
		t.Fatalf("ready: %s then %s", sc.raw, r.raw)
	}
	m = d1.mark()
	d1.request("channel.request.notready", d1.channel, map[string]any{"reason": "lunch"})
	if sc := d1.event(m, "channel.statechanged", d1.channel); sc.str("state") != "NOT_READY" || sc.str("status") != "dnd" || sc.str("reason") != "lunch" {
		t.Fatalf("notready: %s", sc.raw)
	}
	// a request that changes nothing still reports the state to the desktop that asked
	m = d1.mark()
	d1.request("channel.request.notready", d1.channel, map[string]any{"reason": "lunch"})
	if sc := d1.event(m, "channel.statechanged", d1.channel); sc.str("reason") != "lunch" {
		t.Fatalf("notready again: %s", sc.raw)
	}
	d1.request("channel.request.ready", d1.channel, nil)

	// a2 on TCP, a3 on a WebSocket without a URL token
	c2 := e.tcpClient()
	// TCP start-up order: init first (no account yet: a provisional answer), then login, which
	// raises control.statechanged with the account's mode and capabilities
	pi := c2.query("control.query.init", control)
	if pi.str("status") != "ACTIVE" || pi.str("version") == "" || pi.str("mode") != "simple" || pi.str("session") != "" {
		t.Fatalf("control.query.init before login: %s", pi.raw)
	}
	if pc, _ := pi.Body["capabilities"].([]any); !slices.Equal(pc, []any{"login"}) {
		t.Fatalf("provisional capabilities: %s", pi.raw)
	}
	mc2 := c2.mark()
	d2 := login(t, c2, "a2", e.token(auth.RoleAgent, "a2"))
	sc2 := c2.event(mc2, "control.statechanged", control)
	if sc2.str("mode") != "full" || sc2.str("session") != d2.sid || !slices.Contains(sc2.Body["capabilities"].([]any), any("conference")) {
		t.Fatalf("control.statechanged after login: %s", sc2.raw)
	}
	d3 := login(t, e.ws(""), "a3", e.token(auth.RoleAgent, "a3"))

	// an inbound web call rings a1
	m1 := d1.mark()
	wc, cust := e.customer()
	ia1 := d1.interaction(m1)
	if !strings.HasPrefix(ia1, d1.channel+".") || !strings.HasSuffix(ia1, "."+wc.ID) {
		t.Fatalf("interaction target %q is not <channel>.<call id %s>", ia1, wc.ID)
	}
	ii := d1.query("interaction.query.init", ia1)
	if ii.str("interaction-state") != "ALERTING" || ii.str("call-id") != wc.ID || ii.str("remote-number") != "+15550100" || ii.str("queue") != "sales" {
		t.Fatalf("interaction.query.init: %s", ii.raw)
	}
	if d := ii.Body["interaction-data"].(map[string]any); d["ivr_choice"] != "1" {
		t.Fatalf("interaction-data: %s", ii.raw)
	}
	conv1 := ii.Body["conversations"].([]any)[0].(string)
	// queue until init: accept before the conversation is initialised; its events wait
	m = d1.mark()
	acc := d1.request("interaction.request.accept", ia1, nil)
	d1.event(m, "interaction.accepted", ia1)
	expectNames(t, d1.bclient, m1, acc.idx+1, conv1) // nothing on the conversation yet
	cinit := d1.query("conversation.query.init", conv1)
	if cinit.str("conversation-state") != "RINGING" {
		t.Fatalf("first conversation.query.init answers the state it appeared in: %s", cinit.raw)
	}
	d1.event(cinit.idx, "conversation.partyadded", conv1)
	evs := d1.events(cinit.idx, d1.mark(), conv1)
	if got := names(evs); !slices.Equal(got, []string{"conversation.started", "conversation.ringing", "conversation.talking", "conversation.partyadded"}) || evs[0].idx != cinit.idx+1 {
		t.Fatalf("queued conversation events after init: %v (init at %d, first at %d)\n%s", got, cinit.idx, evs[0].idx, d1.dump(cinit.idx))
	}
	if p := evs[3]; p.str("number") != "+15550100" || p.str("name") != "Ada" {
		t.Fatalf("partyadded: %s", p.raw)
	}
	if again := d1.query("conversation.query.init", conv1); again.str("conversation-state") != "TALKING" {
		t.Fatalf("second conversation.query.init: %s", again.raw)
	}

	// hold, hold again (success, no event), retrieve, retrieve again
	m = d1.mark()
	r = d1.request("conversation.request.hold", conv1, nil)
	if h := d1.event(m, "conversation.held", conv1); h.idx > r.idx {
		t.Fatal("conversation.held after the hold response")
	}
	m = d1.mark()
	r = d1.request("conversation.request.hold", conv1, nil)
	expectNames(t, d1.bclient, m, r.idx, conv1)
	m = d1.mark()
	d1.request("conversation.request.retrieve", conv1, nil)
	d1.event(m, "conversation.talking", conv1)
	m = d1.mark()
	r = d1.request("conversation.request.retrieve", conv1, nil)
	expectNames(t, d1.bclient, m, r.idx, conv1)
	if s := d1.query("conversation.query.init", conv1); s.str("conversation-state") != "TALKING" {
		t.Fatalf("after retrieve: %s", s.raw)
	}
	// mute / unmute
	m = d1.mark()
	d1.request("conversation.request.mute", conv1, nil)
	d1.event(m, "conversation.mute", conv1)
	if s := d1.query("conversation.query.init", conv1); s.Body["muted"] != true || s.str("conversation-state") != "TALKING" {
		t.Fatalf("after mute: %s", s.raw)
	}
	m = d1.mark()
	d1.request("conversation.request.unmute", conv1, nil)
	d1.event(m, "conversation.talking", conv1)

	// DTMF: the response comes after the tones were sent
	m = d1.mark()
	start := time.Now()
	r = d1.request("conversation.request.senddtmf", conv1, map[string]string{"digits": "12#"})
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("senddtmf answered after %s, before three tones could be sent", el)
	}
	if ds := d1.event(m, "conversation.dtmfsent", conv1); ds.str("digits") != "12#" || ds.idx > r.idx {
		t.Fatalf("dtmfsent: %s", ds.raw)
	}
	rtctest.Eventually(t, 2*time.Second, "digits at the customer", func() bool { return cust.Digits() == "12#" })
	d1.refused("conversation.request.senddtmf", conv1, map[string]string{"digits": "12A"}, "invalid body", "digits")

	// call data
	m = d1.mark()
	d1.request("interaction.request.setdata", ia1, map[string]any{"data": map[string]string{"crm_id": "42"}})
	if dc := d1.event(m, "interaction.datachanged", ia1); dc.Body["interaction-data"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("datachanged: %s", dc.raw)
	}

	// blind transfer to a2 (ready)
	m2 := d2.mark()
	d2.request("channel.request.ready", d2.channel, nil)
	m = d1.mark()
	d1.request("conversation.request.transfer", conv1, map[string]string{"destination": "a2"})
	d1.event(m, "conversation.ended", conv1)
	if rel := d1.event(m, "interaction.released", ia1); rel.str("reason") != "transferred" {
		t.Fatalf("released: %s", rel.raw)
	}
	ia2 := d2.interaction(m2)
	ii2, conv2, c2init := d2.initCall(ia2)
	if ii2.str("interaction-state") != "ALERTING" || ii2.Body["interaction-data"].(map[string]any)["crm_id"] != "42" || c2init.str("conversation-state") != "RINGING" {
		t.Fatalf("transferred call at a2: %s %s", ii2.raw, c2init.raw)
	}
	m = d2.mark()
	d2.request("conversation.request.answer", conv2, nil)
	d2.event(m, "conversation.talking", conv2)
	d2.event(m, "interaction.accepted", ia2)

	// a1 completes its released interaction; the target is gone afterwards
	m = d1.mark()
	d1.request("interaction.request.complete", ia1, nil)
	d1.event(m, "interaction.completed", ia1)
	d1.event(m, "channel.interactionremoved", d1.channel)
	d1.refused("conversation.request.hold", conv1, nil, "unknown conversation target")
	d1.refused("interaction.request.complete", ia1, nil, "unknown interaction target")

	// blind conference: a2 invites a3 (extension 103), a3 answers, a2 removes it
	m3 := d3.mark()
	d3.request("channel.request.ready", d3.channel, nil)
	d2.request("conversation.request.conference", conv2, map[string]string{"destination": "103"})
	ia3 := d3.interaction(m3)
	_, conv3, c3init := d3.initCall(ia3)
	parties := c3init.Body["parties"].([]any)
	if c3init.str("conversation-state") != "RINGING" || len(parties) != 2 {
		t.Fatalf("conference invitation at a3: %s", c3init.raw)
	}
	d3.event(c3init.idx, "conversation.ringing", conv3) // queued before init, delivered right after
	m = d2.mark()
	m3 = d3.mark()
	d3.request("conversation.request.answer", conv3, nil)
	if pa := d2.event(m, "conversation.partyadded", conv2); pa.str("number") != "a3" || pa.str("name") != "Agent a3" {
		t.Fatalf("partyadded at a2: %s", pa.raw)
	}
	expectNames(t, d3.bclient, m3, d3.mark(), conv3, "conversation.talking", "conversation.partyadded", "conversation.partyadded")
	if s := d2.query("conversation.query.init", conv2); len(s.Body["parties"].([]any)) != 2 {
		t.Fatalf("a2's parties in the conference: %s", s.raw)
	}
	d2.refused("conversation.request.removeparty", conv2, map[string]string{"number": "+15550100"}, "removeparty failed")
	m = d2.mark()
	m3 = d3.mark()
	d2.request("conversation.request.removeparty", conv2, map[string]string{"number": "a3"})
	if pr := d2.event(m, "conversation.partyremoved", conv2); pr.str("number") != "a3" {
		t.Fatalf("partyremoved: %s", pr.raw)
	}
	d3.event(m3, "conversation.ended", conv3)
	d3.event(m3, "interaction.released", ia3)

	// release; dispose answers, then the conversation is gone
	m = d2.mark()
	d2.request("conversation.request.release", conv2, nil)
	d2.event(m, "conversation.ended", conv2)
	if rel := d2.event(m, "interaction.released", ia2); !strings.Contains(rel.str("reason"), "agent") {
		t.Fatalf("released after hang-up: %s", rel.raw)
	}
	select {
	case <-wc.Done():
	case <-time.After(bwait):
		t.Fatal("call not ended after release")
	}
	if s := d2.query("conversation.query.init", conv2); s.str("conversation-state") != "RELEASED" {
		t.Fatalf("released conversation: %s", s.raw)
	}
	d2.request("conversation.request.dispose", conv2, nil)
	d2.refused("conversation.request.dispose", conv2, nil, "unknown conversation target")
	if s := d2.query("interaction.query.init", ia2); s.str("interaction-state") != "RELEASED" || len(s.Body["conversations"].([]any)) != 0 {
		t.Fatalf("interaction after dispose: %s", s.raw)
	}

	// logout ends the session; the connection stays and can log in again
	m = d2.mark()
	d2.request("session.request.logout", d2.sid, nil)
	d2.event(m, "session.ended", d2.sid)
	if sc := d2.event(m, "channel.statechanged", d2.channel); sc.str("state") != "LOGGED_OUT" {
		t.Fatalf("after logout: %s", sc.raw)
	}
	d2.refused("channel.request.ready", d2.channel, nil, "not logged in")
	login(t, c2, "a2", e.token(auth.RoleAgent, "a2"))
}
