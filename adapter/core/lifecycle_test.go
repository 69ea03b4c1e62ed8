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

// TestTransferToQueueIsANewQueueVisit: a call that talked longer than the queue timeout and is
// then transferred to a queue waits a full timeout again, and is not offered back to the agent
// who transferred it.
func TestTransferToQueueIsANewQueueVisit(t *testing.T) {
	w := newWorld(t, `{"queue_timeout_seconds":60}`)
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	w.clock.Advance(10 * time.Minute) // the call has talked for ten minutes
	w.ready(t, "a2")
	w.control(t, "a1", wc.ID, call.OpTransfer, "sales")
	for {
		ev := w.next(t)
		d := data(t, ev)
		if ev.Name == event.CallFailed && d["code"] == 480.0 {
			t.Fatal("the transferred call inherited its first queue deadline and timed out at once")
		}
		if ev.Name == event.IncomingCall && d["user_id"] != nil {
			if d["user_id"] != "a2" {
				t.Fatalf("the transferred call was offered to %v, want a2 (not the transferring agent)", d["user_id"])
			}
			break
		}
	}
}

// TestConferenceInviteTimesOutWhileHeld: holding the customer while a conference invitation
// rings does not cancel the invitation's ring timeout.
func TestConferenceInviteTimesOutWhileHeld(t *testing.T) {
	w := newWorld(t, `{"ring_timeout_seconds":1}`)
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	w.control(t, "a1", wc.ID, call.OpConference, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a1", wc.ID, call.OpHold, "")
	w.clock.Advance(time.Second)
	if f := w.expectFor(t, event.CallFailed, "a2"); f["code"] != 408.0 {
		t.Fatalf("conference invite end: %v", f)
	}
	if v := w.core.Agent("acme", "a2"); v.RingingCall != "" {
		t.Fatalf("a2 still alerted: %+v", v)
	}
}

// TestConferenceInviteeGetsCallConnected: an invitee who answers joins with party_added and its
// own call_connected (its desktop learns it is on the call like any answering agent).
func TestConferenceInviteeGetsCallConnected(t *testing.T) {
	w := newWorld(t, "")
	w.phone(t, "a1", true)
	w.phone(t, "a2", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	w.control(t, "a1", wc.ID, call.OpConference, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.PartyAdded, "a2")
	if d := w.expectFor(t, event.CallConnected, "a2"); d["call_id"] != wc.ID || d["phone"] != "+15550100" {
		t.Fatalf("call_connected of the invitee: %v", d)
	}
}

// TestPhoneLossGraceSurvivesHold: a held call whose agent lost its phone still ends after the
// grace period (hold does not cancel the grace timer), with ended_by system.
func TestPhoneLossGraceSurvivesHold(t *testing.T) {
	w := newWorld(t, `{"hold_grace_seconds":1}`)
	ctx := context.Background()
	s1, _ := w.phone(t, "a1", true)
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	w.core.PhoneHealth(ctx, s1, false, true) // the phone's peer connection dropped
	if _, err := w.core.Control(ctx, agentActor("a1", ViaDesktop), wc.ID, call.OpHold, ""); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Second)
	d := data(t, w.expect(t, event.CallDisconnected))
	if d["ended_by"] != "system" || d["call_id"] != wc.ID {
		t.Fatalf("call_disconnected %v", d)
	}
}

// TestLastSessionLostEndsCallAsPhoneLost: an agent whose only session (its phone) went away
// mid-call is logged out when the hold grace ends, and its call ends with the record's
// end_reason phone_lost (docs/rtc.md), not agent_logout, whichever timer fires first.
func TestLastSessionLostEndsCallAsPhoneLost(t *testing.T) {
	w := newWorld(t, `{"hold_grace_seconds":5}`)
	ctx := context.Background()
	s1, _ := w.phone(t, "a1", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1")
	w.core.EndSession(ctx, s1)
	w.clock.Advance(5 * time.Second)
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "system" {
		t.Fatalf("call_disconnected %v", d)
	}
	rec, err := w.store.Call(ctx, "acme", wc.ID)
	if err != nil || rec.EndReason != endOwnerLost {
		t.Fatalf("record end_reason %q (%v), want %s", rec.EndReason, err, endOwnerLost)
	}
	if v := w.core.Agent("acme", "a1"); v.Status != "offline" {
		t.Fatalf("a1 after the grace: %s", v.Status)
	}
}

// TestInternalCallEdges: the caller losing its phone ends the call after the grace period;
// removing the callee ends a two-party call; a failed dial is no reason for wrap-up.
func TestInternalCallEdges(t *testing.T) {
	w := newWorld(t, `{"hold_grace_seconds":1,"wrap_up_seconds":30}`)
	ctx := context.Background()
	s1, _ := w.phone(t, "a1", true)
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	w.phone(t, "a2", true)

	if _, err := w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "+15551234", nil); err != nil {
		t.Fatal(err)
	}
	w.expect(t, event.CallDisconnected)
	if st := w.core.Agent("acme", "a1").Status; st != "online" {
		t.Fatalf("after a failed dial the caller is %s, want online (no wrap-up)", st)
	}

	v, err := w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "a2", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", v.CallID, call.OpAnswer, "")
	w.control(t, "a1", v.CallID, call.OpRemoveParty, "a2")
	if d := data(t, w.expect(t, event.CallDisconnected)); d["call_id"] != v.CallID {
		t.Fatalf("removing the callee left the call up: %v", d)
	}

	// the answered call put both in wrap-up; choosing a status ends it at once
	for _, uid := range []string{"a1", "a2"} {
		if st := w.core.Agent("acme", uid).Status; st != "after_call_work" {
			t.Fatalf("%s after an answered call: %s, want after_call_work", uid, st)
		}
		if _, err := w.core.SetStatus(ctx, agentActor(uid, ViaPhone), uid, agent.Online, ""); err != nil {
			t.Fatal(err)
		}
		if st := w.core.Agent("acme", uid).Status; st != "online" {
			t.Fatalf("%s did not leave wrap-up: %s", uid, st)
		}
	}
	v, err = w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "a2", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", v.CallID, call.OpAnswer, "")
	w.core.PhoneHealth(ctx, s1, false, true) // the caller's phone is gone
	w.clock.Advance(time.Second)
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "system" || d["call_id"] != v.CallID {
		t.Fatalf("caller lost its phone: %v", d)
	}
}

// TestRingingEdges: an agent who missed a call and says ready again is offered it again; a
// caller who hangs up while an agent is alerted ends the alerting with 487; a transfer out of
// a conference is refused; call_disconnected precedes the agents' status changes.
func TestRingingEdges(t *testing.T) {
	w := newWorld(t, `{"ring_timeout_seconds":1}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t)
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	w.clock.Advance(time.Second)
	w.expectFor(t, event.CallFailed, "a1") // missed: a1 goes to dnd
	if _, err := w.core.SetStatus(ctx, agentActor("a1", ViaPhone), "a1", agent.Ready, ""); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1") // offered again
	if err := w.core.CustomerHangUp(ctx, "acme", wc.ID); err != nil {
		t.Fatal(err)
	}
	if f := w.expectFor(t, event.CallFailed, "a1"); f["code"] != 487.0 {
		t.Fatalf("alerting ended by the caller: %v", f)
	}
	w.expect(t, event.CallDisconnected)

	w.accounts.Update(ctx, "acme", []byte(`{"ring_timeout_seconds":20}`))
	w.phone(t, "a2", true)
	w.phone(t, "a3", true)
	wc, _ = callAt(t, w, "a1")
	w.control(t, "a1", wc.ID, call.OpConference, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.PartyAdded, "a2")
	if _, err := w.core.Control(ctx, agentActor("a1", ViaPhone), wc.ID, call.OpTransfer, "a3"); !errors.Is(err, ErrConflict) {
		t.Fatalf("transfer out of a conference: %v", err)
	}
	w.control(t, "a2", wc.ID, call.OpHangUp, "") // a2 leaves the conference
	w.expectFor(t, event.PartyRemoved, "a2")
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	for sawEnd := false; !sawEnd; {
		ev := w.next(t)
		d := data(t, ev)
		switch {
		case ev.Name == event.CallDisconnected:
			sawEnd = true
		case ev.Name == event.StatusChanged && d["user_id"] == "a1" && d["previous"] == "in_call":
			t.Fatal("a1 was freed before its call_disconnected")
		}
	}
}

// TestLogoutInCallDoesNotRingTheLeavingAgent: logging out an agent on a call while another call
// waits never offers the waiting call to that agent.
func TestLogoutInCallDoesNotRingTheLeavingAgent(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	first, _ := callAt(t, w, "a1")
	_, cust2 := w.customer(t)
	cust2.Press("2")
	w.expect(t, event.DataUpdated) // the second call chose its queue and waits
	if err := w.core.Logout(ctx, integrator, "a1"); err != nil {
		t.Fatal(err)
	}
	for {
		ev := w.next(t)
		d := data(t, ev)
		if ev.Name == event.IncomingCall && d["user_id"] == "a1" {
			t.Fatal("the waiting call was offered to the agent being logged out")
		}
		if ev.Name == event.CallDisconnected && d["call_id"] == first.ID {
			if d["ended_by"] != "system" {
				t.Fatalf("an integrator's logout ended the call with ended_by %v", d["ended_by"])
			}
			break
		}
	}
	if v := w.core.Agent("acme", "a1"); v.Status != "offline" {
		t.Fatalf("a1 after logout: %s", v.Status)
	}
}
