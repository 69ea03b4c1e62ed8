package integration

// The bridge's consult conversation (seed 002: "a primary conversation and an optional consult
// conversation"; docs/consult.md), on a real server with agents whose phones are pion peers.

import (
	"slices"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// bridgeCallAt has a customer call answered by d's agent from its desk; it returns the call,
// the interaction and its primary conversation.
func bridgeCallAt(t *testing.T, e *bridgeEnv, d *desk) (*core.WebCall, string, string) {
	t.Helper()
	m := d.mark()
	e.phoneReady(d.uid)
	wc, _ := e.customer()
	ia := d.interaction(m)
	_, conv, _ := d.initCall(ia)
	d.request("interaction.request.accept", ia, nil)
	d.event(m, "conversation.talking", conv)
	return wc, ia, conv
}

// TestBridgeConsultTransfer: the consult conversation in full. interaction.request.consult
// holds the primary and adds the consult conversation (interaction.conversationadded before the
// response); nothing is raised on it before its init, which answers DIALING and then delivers
// started, dialing, talking, partyadded. Alternating moves HELD between the two conversations;
// interaction.request.transfercomplete ends the consult conversation and releases the
// interaction as transferred, and the consulted agent's desk gets the primary call as an
// ACTIVE interaction.
func TestBridgeConsultTransfer(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	e.phone("a2")
	d1 := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
	d2 := login(t, e.tcpClient(), "a2", e.token(auth.RoleAgent, "a2"))
	wc, ia1, conv1 := bridgeCallAt(t, e, d1)

	e.phoneReady("a2")
	m, m2 := d1.mark(), d2.mark()
	r := d1.request("interaction.request.consult", ia1, map[string]any{"destination": "a2", "variables": map[string]string{"note": "vip"}})
	cc := r.str("conversation")
	if cc != ia1+"."+r.str("conversation-id") || cc == conv1 {
		t.Fatalf("consult response: %s", r.raw)
	}
	if added := d1.event(m, "interaction.conversationadded", ia1); added.str("conversation") != cc || added.idx > r.idx {
		t.Fatalf("conversationadded %s (response at %d)", added.raw, r.idx)
	}
	if h := d1.event(m, "conversation.held", conv1); h.idx > r.idx {
		t.Fatal("the primary's conversation.held came after the response")
	}
	expectNames(t, d1.bclient, m, r.idx+1, cc) // queued until init

	// the consulted agent's desk: an interaction of its own that names the primary
	ia2 := d2.interaction(m2)
	ii2, cv2, ci2 := d2.initCall(ia2)
	if ii2.str("consult-of") != wc.ID || ii2.str("interaction-state") != "ALERTING" || ci2.str("conversation-state") != "RINGING" ||
		ii2.Body["interaction-data"].(map[string]any)["note"] != "vip" {
		t.Fatalf("consult interaction at a2: %s %s", ii2.raw, ci2.raw)
	}
	d2.request("interaction.request.accept", ia2, nil)
	d2.event(m2, "conversation.talking", cv2)
	// a1's queries read the answer (read-your-writes): its consult conversation, not yet
	// initialised, has queued talking and partyadded
	ii := d1.query("interaction.query.init", ia1)
	if convs := ii.Body["conversations"].([]any); len(convs) != 2 || convs[0] != conv1 || convs[1] != cc || ii.str("interaction-state") != "ACTIVE" {
		t.Fatalf("interaction with two conversations: %s", ii.raw)
	}
	ci := d1.query("conversation.query.init", cc)
	if ci.str("conversation-state") != "DIALING" || ci.str("conversation-type") != "consult" {
		t.Fatalf("first consult conversation.query.init answers the state it appeared in: %s", ci.raw)
	}
	d1.event(ci.idx, "conversation.partyadded", cc)
	evs := d1.events(ci.idx, d1.mark(), cc)
	if got := names(evs); !slices.Equal(got, []string{"conversation.started", "conversation.dialing", "conversation.talking", "conversation.partyadded"}) || evs[0].idx != ci.idx+1 {
		t.Fatalf("queued consult events after init: %v\n%s", got, d1.dump(ci.idx))
	}
	if p := evs[3]; p.str("number") != "a2" || p.str("name") != "Agent a2" {
		t.Fatalf("partyadded %s", p.raw)
	}
	if again := d1.query("conversation.query.init", cc); again.str("conversation-state") != "TALKING" {
		t.Fatalf("second consult init: %s", again.raw)
	}
	if p := d1.query("conversation.query.init", conv1); p.str("conversation-state") != "HELD" || p.str("conversation-type") != "primary" {
		t.Fatalf("primary during the consult: %s", p.raw)
	}

	// a second desktop of a1 logging in now sees one interaction with both conversations
	d1b := login(t, e.tcpClient(), "a1", e.token(auth.RoleAgent, "a1"))
	iab := d1b.interaction(0)
	if !strings.HasSuffix(iab, "."+wc.ID) {
		t.Fatalf("the new desktop's interaction %q is not the primary", iab)
	}
	iib := d1b.query("interaction.query.init", iab)
	convs := iib.Body["conversations"].([]any)
	if len(convs) != 2 || !strings.HasSuffix(convs[1].(string), "."+r.str("conversation-id")) {
		t.Fatalf("the new desktop's interaction: %s", iib.raw)
	}
	if cb := d1b.query("conversation.query.init", convs[1].(string)); cb.str("conversation-state") != "TALKING" || cb.str("conversation-type") != "consult" {
		t.Fatalf("the new desktop's consult conversation: %s", cb.raw)
	}
	added := slices.DeleteFunc(d1b.events(0, d1b.mark(), d1b.channel), func(m bmsg) bool { return m.Header.Name != "channel.interactionadded" })
	if len(added) != 1 {
		t.Fatalf("the new desktop got %d interactions, want one\n%s", len(added), d1b.dump(0))
	}

	// alternate
	m = d1.mark()
	r = d1.request("conversation.request.retrieve", conv1, nil)
	if h, tk := d1.event(m, "conversation.held", cc), d1.event(m, "conversation.talking", conv1); h.idx > r.idx || tk.idx > r.idx {
		t.Fatal("alternating events after the response")
	}
	m = d1.mark()
	d1.request("conversation.request.retrieve", cc, nil)
	d1.event(m, "conversation.held", conv1)
	d1.event(m, "conversation.talking", cc)

	// complete as a transfer: acts on both conversations
	m, m2 = d1.mark(), d2.mark()
	d1.request("interaction.request.transfercomplete", ia1, nil)
	d1.event(m, "conversation.ended", cc)
	d1.event(m, "conversation.ended", conv1)
	if rel := d1.event(m, "interaction.released", ia1); rel.str("reason") != "transferred" {
		t.Fatalf("released %s", rel.raw)
	}
	d2.event(m2, "conversation.ended", cv2)
	d2.event(m2, "interaction.released", ia2)
	iaP := d2.interaction(m2)
	if !strings.HasSuffix(iaP, "."+wc.ID) {
		t.Fatalf("a2's new interaction %q is not the primary call %s", iaP, wc.ID)
	}
	iiP, cvP, ciP := d2.initCall(iaP)
	if iiP.str("interaction-state") != "ACTIVE" || ciP.str("conversation-state") != "TALKING" {
		t.Fatalf("the primary at a2 after the transfer: %s %s", iiP.raw, ciP.raw)
	}
	if p := d2.event(ciP.idx, "conversation.partyadded", cvP); p.str("number") != "+15550100" {
		t.Fatalf("a2 partyadded %s", p.raw)
	}
	d1.request("interaction.request.complete", ia1, nil)
	if q := d1.do("cti.query", "conversation.query.init", cc, nil, "FAILURE"); !strings.Contains(q.Header.ErrorMessage, "no such interaction") {
		t.Fatalf("the consult conversation outlived its interaction: %s", q.raw)
	}
}

// TestBridgeConsultFailCancelConference: a consult the consulted agent declines fails
// (conversation.failed, conversation.ended) and leaves the primary HELD; cancel ends the
// consult conversation and retrieves the primary; conferencecomplete joins the consulted agent
// to the primary. Bad input (completion with no consult, consult in agent-state mode, on a
// conversation target that does not exist) is refused and changes nothing.
func TestBridgeConsultFailCancelConference(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	e.phone("a2")
	e.phone("a3")
	d1 := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
	_, ia1, conv1 := bridgeCallAt(t, e, d1)

	d1.refused("interaction.request.transfercomplete", ia1, nil, "interaction.request.transfercomplete failed", "no consult call")
	d1.refused("interaction.request.consult", ia1, map[string]any{"destination": "a1"}, "cannot consult itself")
	d1.refused("interaction.request.consult", ia1, map[string]any{}, "invalid body", "destination")
	d1.refused("conversation.request.hold", ia1+".cnope", nil, "no such conversation")
	if _, err := e.srv.Accounts.Update(e.ctx, "acme", []byte(`{"mode":"agent-state"}`)); err != nil {
		t.Fatal(err)
	}
	d1.refused("interaction.request.consult", ia1, map[string]any{"destination": "a2"}, "refused: consult is not available in agent-state mode")
	if _, err := e.srv.Accounts.Update(e.ctx, "acme", []byte(`{"mode":"full"}`)); err != nil {
		t.Fatal(err)
	}
	if p := d1.query("conversation.query.init", conv1); p.str("conversation-state") != "TALKING" {
		t.Fatalf("refusals changed the primary: %s", p.raw)
	}

	// declined
	e.phoneReady("a3")
	m := d1.mark()
	r := d1.request("interaction.request.consult", ia1, map[string]any{"destination": "103"})
	cc := r.str("conversation")
	d1.query("conversation.query.init", cc)
	e.phoneControl("a3", r.str("conversation-id"), call.OpReject, "")
	d1.event(m, "conversation.ended", cc)
	expectNames(t, d1.bclient, m, d1.mark(), cc, "conversation.started", "conversation.dialing", "conversation.failed", "conversation.ended")
	if f := d1.events(m, d1.mark(), cc)[2]; !strings.Contains(f.str("reason"), "declined") {
		t.Fatalf("failed reason %s", f.raw)
	}
	if p := d1.query("conversation.query.init", conv1); p.str("conversation-state") != "HELD" {
		t.Fatalf("after the refusal the primary is %s", p.raw)
	}

	// cancel
	e.phoneReady("a2")
	m = d1.mark()
	r = d1.request("interaction.request.consult", ia1, map[string]any{"destination": "a2"})
	cc2 := r.str("conversation")
	if ii := d1.query("interaction.query.init", ia1); len(ii.Body["conversations"].([]any)) != 2 {
		t.Fatalf("the released consult conversation was not replaced: %s", ii.raw)
	}
	e.phoneControl("a2", r.str("conversation-id"), call.OpAnswer, "")
	d1.query("conversation.query.init", cc2)
	d1.event(m, "conversation.talking", cc2)
	d1.request("interaction.request.consultcancel", ia1, nil)
	d1.event(m, "conversation.ended", cc2)
	d1.event(m, "conversation.talking", conv1)

	// the Pega way: release the consult conversation (the primary stays HELD), then retrieve
	e.phoneReady("a2")
	m = d1.mark()
	r = d1.request("interaction.request.consult", ia1, map[string]any{"destination": "a2"})
	ccR := r.str("conversation")
	e.phoneControl("a2", r.str("conversation-id"), call.OpAnswer, "")
	d1.query("conversation.query.init", ccR)
	d1.event(m, "conversation.talking", ccR)
	d1.request("conversation.request.release", ccR, nil)
	d1.event(m, "conversation.ended", ccR)
	if p := d1.query("conversation.query.init", conv1); p.str("conversation-state") != "HELD" {
		t.Fatalf("after releasing the consult the primary is %s", p.raw)
	}
	m = d1.mark()
	d1.request("conversation.request.retrieve", conv1, nil)
	d1.event(m, "conversation.talking", conv1)

	// conference
	e.phoneReady("a3")
	m = d1.mark()
	r = d1.request("interaction.request.consult", ia1, map[string]any{"destination": "a3"})
	cc3 := r.str("conversation")
	d1.query("conversation.query.init", cc3)
	e.phoneControl("a3", r.str("conversation-id"), call.OpAnswer, "")
	d1.event(m, "conversation.talking", cc3)
	m = d1.mark()
	d1.request("interaction.request.conferencecomplete", ia1, nil)
	d1.event(m, "conversation.ended", cc3)
	d1.event(m, "conversation.talking", conv1)
	if p := d1.event(m, "conversation.partyadded", conv1); p.str("number") != "a3" {
		t.Fatalf("partyadded %s", p.raw)
	}
	if p := d1.query("conversation.query.init", conv1); len(p.Body["parties"].([]any)) != 2 {
		t.Fatalf("conference parties %s", p.raw)
	}
}
