package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestWebCallThroughIVRQueueToAgent is the whole inbound path on the media port: IVR digit ->
// queue -> ready agent -> answer -> two-way relay -> DTMF -> hold -> mute -> transfer ->
// conference -> hang-ups -> call record. (integration/core_media_test.go does it with real audio.)
func TestWebCallThroughIVRQueueToAgent(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	_, p1 := w.phone(t, "a1", true)
	_, p2 := w.phone(t, "a2", true)
	_, p3 := w.phone(t, "a3", true)
	w.ready(t, "a1")

	wc, cust := w.customer(t)
	in := data(t, w.expect(t, event.IncomingCall))
	if in["call_id"] != wc.ID || in["source"] != "webrtc" || in["user_id"] != nil || in["phone"] != "+15550100" {
		t.Fatalf("incoming_call on arrival: %v", in)
	}
	hears(t, cust, "player:welcome")
	cust.Press("1")
	up := data(t, w.expect(t, event.DataUpdated))
	if vars := up["variables"].(map[string]any); vars["ivr_choice"] != "1" || vars["queue"] != "sales" {
		t.Fatalf("IVR digit did not become variables: %v", up)
	}
	ring := w.expectFor(t, event.IncomingCall, "a1")
	if ring["queue"] != "sales" || ring["display_name"] != "Ada" {
		t.Fatalf("incoming_call at the agent: %v", ring)
	}
	hears(t, cust, "player:hold") // while it rings
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a1")
	if v := w.core.Agent("acme", "a1"); v.Status != "in_call" {
		t.Fatalf("answering agent is %s", v.Status)
	}
	hears(t, p1, "cust")
	hears(t, cust, p1.ID())

	w.control(t, "a1", wc.ID, call.OpDTMF, "12#")
	if cust.Sent() != "12#" {
		t.Fatalf("digits at the customer: %q", cust.Sent())
	}
	w.expect(t, event.DTMFSent)

	// hold: the customer hears hold audio, the agent nothing
	w.control(t, "a1", wc.ID, call.OpHold, "")
	w.expect(t, event.CallHeld)
	hears(t, cust, "player:hold")
	hears(t, p1)
	w.control(t, "a1", wc.ID, call.OpHold, "") // hold on held: success without action
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	w.expect(t, event.CallRetrieved)
	hears(t, cust, p1.ID())

	w.control(t, "a1", wc.ID, call.OpMute, "")
	w.expect(t, event.CallMuted)
	hears(t, cust)
	w.control(t, "a1", wc.ID, call.OpUnmute, "")
	hears(t, cust, p1.ID())

	if _, err := w.core.SetVariables(ctx, integrator, wc.ID, map[string]string{"crm_id": "42"}); err != nil {
		t.Fatal(err)
	}
	w.ready(t, "a2")
	w.control(t, "a1", wc.ID, call.OpTransfer, "a2")
	tr := data(t, w.expect(t, event.CallTransferred))
	if tr["to"] != "a2" || tr["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("call_transferred: %v", tr)
	}
	if v := w.expectFor(t, event.IncomingCall, "a2"); v["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("variables not carried across the transfer: %v", v)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	hears(t, cust, p2.ID())
	hears(t, p2, "cust")
	hears(t, p1)
	if v := w.core.Agent("acme", "a1"); v.Status != "ready" || len(v.Calls) != 0 {
		t.Fatalf("transferring agent after transfer: %+v", v)
	}

	// blind conference: a3 joins and every party hears both others, never itself
	w.ready(t, "a3")
	w.control(t, "a2", wc.ID, call.OpConference, "103")
	w.expectFor(t, event.IncomingCall, "a3")
	w.control(t, "a3", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.PartyAdded, "a3")
	hears(t, cust, p2.ID(), p3.ID())
	hears(t, p2, "cust", p3.ID())
	hears(t, p3, "cust", p2.ID())

	w.control(t, "a2", wc.ID, call.OpRemoveParty, "a3")
	w.expectFor(t, event.PartyRemoved, "a3")
	hears(t, cust, p2.ID())
	hears(t, p3)

	w.control(t, "a2", wc.ID, call.OpHangUp, "")
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "agent" || d["call_id"] != wc.ID {
		t.Fatalf("call_disconnected: %v", d)
	}
	<-wc.Done()
	if !cust.Closed() {
		t.Fatal("the customer's leg is open after the end")
	}
	rec, err := w.store.Call(ctx, "acme", wc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != "ended" || rec.EndedBy != "agent" || rec.Variables["crm_id"] != "42" || rec.AnsweredAt == nil || len(rec.Legs) < 4 || len(rec.Parties) < 4 {
		t.Fatalf("call record incomplete: %+v", rec)
	}
	for _, uid := range []string{"a1", "a2", "a3"} {
		if v := w.core.Agent("acme", uid); v.Status == "in_call" {
			t.Fatalf("%s still in_call after the end", uid)
		}
	}
}

func TestRONAQueueTimeoutAndMicrophone(t *testing.T) {
	w := newWorld(t, `{"ring_timeout_seconds":1,"queue_timeout_seconds":4,"ivr":{"greeting":"welcome","menu":{"1":"sales"},"timeout_seconds":1,"default_queue":"sales"}}`)
	ctx := context.Background()
	// a phone without microphone permission never makes its agent ready, never rings
	w.phone(t, "a3", false)
	if _, err := w.core.SetStatus(ctx, agentActor("a3", ViaPhone), "a3", agent.Ready, ""); !errors.Is(err, ErrNoPhone) {
		t.Fatalf("an agent without microphone became ready: %v", err)
	}
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	w.ready(t, "a2")
	wc, cust := w.customer(t)
	cust.Press("1")
	w.expect(t, event.IncomingCall) // arrival
	ringing := data(t, w.expect(t, event.IncomingCall))["user_id"].(string)
	w.clock.Advance(time.Second) // ring timeout
	if failed := w.expectFor(t, event.CallFailed, ringing); failed["code"] != 408.0 {
		t.Fatalf("RONA call_failed: %v", failed)
	}
	if st := w.expectFor(t, event.StatusChanged, ringing); st["status"] != "dnd" || st["reason"] != "missed_call" {
		t.Fatalf("agent who missed the call: %v", st)
	}
	other := map[string]string{"a1": "a2", "a2": "a1"}[ringing]
	w.expectFor(t, event.IncomingCall, other)
	w.clock.Advance(time.Second)
	w.expectFor(t, event.CallFailed, other)
	// both missed: the call waits in the queue until its timeout, then ends after the announcement
	w.clock.Advance(2 * time.Second)
	if qf := w.expectFor(t, event.CallFailed, ""); qf["code"] != 480.0 {
		t.Fatalf("queue timeout: %v", qf)
	}
	hears(t, cust, "player:unavailable")
	cust.Player().Finish()
	<-wc.Done()
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "system" || d["call_id"] != wc.ID {
		t.Fatalf("queue timeout end: %v", d)
	}
	if rec, _ := w.store.Call(ctx, "acme", wc.ID); rec.EndReason != endQueueTimeout {
		t.Fatalf("record end reason %q", rec.EndReason)
	}
	if v := w.core.Agent("acme", "a3"); v.Status != "online" {
		t.Fatalf("agent without microphone: %+v", v)
	}
}

// TestIVRTimeoutAndInvalidDigit: a wrong digit plays "invalid" then the greeting again; no digit
// within the menu timeout chooses the default queue; an announcement that never ends still
// ends the call 10 s after a queue timeout.
func TestIVRTimeoutAndInvalidDigit(t *testing.T) {
	w := newWorld(t, `{"queue_timeout_seconds":5,"ivr":{"greeting":"welcome","menu":{"1":"sales"},"timeout_seconds":3,"default_queue":"support"}}`)
	wc, cust := w.customer(t)
	cust.Press("9")
	hears(t, cust, "player:invalid")
	cust.Player().Finish()
	waitFor(t, "the greeting again", func() bool { return len(cust.Hears()) == 1 && cust.Hears()[0] == "player:welcome" })
	w.clock.Advance(3 * time.Second)
	if v, _ := w.core.Call("acme", wc.ID); v.State != "queued" || v.Queue != "support" {
		t.Fatalf("after the menu timeout: %+v", v)
	}
	hears(t, cust, "player:queue")
	w.clock.Advance(5 * time.Second)
	w.expectFor(t, event.CallFailed, "")
	w.clock.Advance(10 * time.Second)
	<-wc.Done()
}

// waitFor polls cond (work done by a goroutine of the core, e.g. after a player ended).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOwnerHandoverMidCall: the media tab closes mid-call; the call is held for the caller and
// resumes on the agent's other phone without being dropped.
func TestOwnerHandoverMidCall(t *testing.T) {
	w := newWorld(t, `{"hold_grace_seconds":30}`)
	ctx := context.Background()
	s1, _ := w.phone(t, "a1", true)
	w.ready(t, "a1")
	wc, cust := callAt(t, w, "a1")

	w.core.EndSession(ctx, s1) // the owner goes away with no standby: hold audio
	hears(t, cust, "player:hold")
	w.clock.Advance(29 * time.Second)
	_, p2 := w.phone(t, "a1", true) // a new tab within the grace period: the call resumes
	hears(t, cust, p2.ID())
	hears(t, p2, "cust")
	w.clock.Advance(time.Minute)
	if _, err := w.core.Call("acme", wc.ID); err != nil {
		t.Fatal("the call was dropped during the handover")
	}

	// with two phones, closing the owner hands over at once
	s3, p3 := w.phone(t, "a1", true)
	if err := w.core.TakeOwnership(ctx, s3); err != nil {
		t.Fatal(err)
	}
	hears(t, cust, p3.ID())
	hears(t, p2)
	w.core.EndSession(ctx, s3)
	hears(t, cust, p2.ID())
}

// TestAgentToAgentAndOutbound: make_call rings a user by id or extension, an unknown number
// fails with call_failed 404, and wrap-up follows the account's setting.
func TestAgentToAgentAndOutbound(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":1}`)
	ctx := context.Background()
	_, p1 := w.phone(t, "a1", true)
	_, p2 := w.phone(t, "a2", true)

	v, err := w.core.MakeCall(ctx, integrator, "a1", "555-0199", map[string]string{"crm_id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	out := w.expectFor(t, event.OutgoingCall, "a1")
	if out["call_id"] != v.CallID || out["variables"].(map[string]any)["crm_id"] != "7" {
		t.Fatalf("outgoing_call %v", out)
	}
	if f := w.expectFor(t, event.CallFailed, "a1"); f["code"] != 404.0 || f["reason"] != "no outbound route" {
		t.Fatalf("call_failed %v", f)
	}
	w.expect(t, event.CallDisconnected)

	v, err = w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "102", nil) // a2's extension
	if err != nil {
		t.Fatal(err)
	}
	if in := w.expectFor(t, event.IncomingCall, "a2"); in["source"] != "internal" || in["call_id"] != v.CallID {
		t.Fatalf("incoming_call at a2: %v", in)
	}
	hears(t, p1) // the caller hears silence while it rings
	if _, err := w.core.MakeCall(ctx, integrator, "a1", "103", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("a busy agent dialled a second call: %v", err)
	}
	w.control(t, "a2", v.CallID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	hears(t, p2, p1.ID())
	hears(t, p1, p2.ID())
	w.control(t, "a1", v.CallID, call.OpHangUp, "")
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "agent" {
		t.Fatalf("call_disconnected %v", d)
	}
	for _, uid := range []string{"a1", "a2"} {
		if v := w.core.Agent("acme", uid); v.Status != "after_call_work" {
			t.Fatalf("%s after the call: %s", uid, v.Status)
		}
	}
	w.clock.Advance(time.Second) // wrap-up over: both back to online
	back := map[string]bool{}
	for len(back) < 2 {
		d := data(t, w.expect(t, event.StatusChanged))
		if d["previous"] == "after_call_work" {
			if d["status"] != "online" {
				t.Fatalf("%v back to %v", d["user_id"], d["status"])
			}
			back[d["user_id"].(string)] = true
		}
	}
}

// TestTransferToQueueAndDialQueue: a blind transfer to a queue re-routes the call to a ready
// agent of that queue; make_call to a queue name enqueues the agent's call, and its
// incoming_call names the queue as its record does.
func TestTransferToQueueAndDialQueue(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t)
	cust.Press("1")
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.ready(t, "a2")
	if _, err := w.core.Control(ctx, agentActor("a1", ViaPhone), wc.ID, call.OpTransfer, "nowhere"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("transfer to an unknown destination: %v", err)
	}
	w.control(t, "a1", wc.ID, call.OpTransfer, "support")
	if in := w.expectFor(t, event.IncomingCall, "a2"); in["queue"] != "support" {
		t.Fatalf("transferred call at a2: %v", in)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")

	v, err := w.core.MakeCall(ctx, integrator, "a1", "sales", nil)
	if err != nil {
		t.Fatal(err)
	}
	if in := data(t, w.expect(t, event.IncomingCall)); in["call_id"] != v.CallID || in["queue"] != "sales" {
		t.Fatalf("incoming_call of a call dialled to a queue: %v", in)
	}
	if rec, err := w.store.Call(ctx, "acme", v.CallID); err != nil || rec.Queue != "sales" {
		t.Fatalf("record of the dialled queue call: %+v %v", rec, err)
	}
	if got, _ := w.core.Call("acme", v.CallID); got.State != "queued" || got.Queue != "sales" || got.Caller != "a1" {
		t.Fatalf("dialled queue call: %+v", got)
	}
	w.control(t, "a1", v.CallID, call.OpHangUp, "")
	if _, err := w.core.Call("acme", v.CallID); !errors.Is(err, ErrNotFound) {
		t.Fatal("queued call survived its caller's hang-up")
	}
}

// BenchmarkCallSetup measures the core's side of a web call's setup: StartWebCall until
// incoming_call is durable (the media port in memory; BenchmarkCoreCallSetup in integration/
// includes pion's negotiation).
func BenchmarkCallSetup(b *testing.B) {
	w := newWorldB(b, "")
	ctx := context.Background()
	var durations []time.Duration
	for i := 0; i < b.N; i++ {
		leg := w.eng.NewLeg("bench")
		start := time.Now()
		wc, err := w.core.StartWebCall(ctx, "acme", WebCaller{DisplayName: "bench"}, leg)
		if err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
		_ = w.core.CustomerHangUp(ctx, "acme", wc.ID)
	}
	b.StopTimer()
	reportPercentiles(b, durations)
}
