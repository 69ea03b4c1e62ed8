package core

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// callAt makes a customer call through the IVR (digit 2, support) and has uid answer it.
func callAt(t *testing.T, w *world, e *mediaEnv, uid string) *WebCall {
	t.Helper()
	wc, cust := w.customer(t, e.eng)
	rtctest.Eventually(t, wait, "the IVR greeting", cust.Loud)
	if err := cust.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, uid)
	w.control(t, uid, wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, uid)
	return wc
}

// TestTransferToQueueIsANewQueueVisit: a call that talked longer than the queue timeout and is
// then transferred to a queue waits a full timeout again, and is not offered back to the agent
// who transferred it.
func TestTransferToQueueIsANewQueueVisit(t *testing.T) {
	var skew atomic.Int64
	e := newMediaEnv(t, `{"queue_timeout_seconds":60}`, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	w := e.w
	w.phone(t, e.eng, "a1", true)
	w.phone(t, e.eng, "a2", true)
	w.ready(t, "a1")
	wc := callAt(t, w, e, "a1")
	skew.Store(int64(10 * time.Minute)) // the call has talked for ten minutes
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
	e := newMediaEnv(t, `{"ring_timeout_seconds":1}`, nil)
	w := e.w
	w.phone(t, e.eng, "a1", true)
	w.phone(t, e.eng, "a2", true)
	w.ready(t, "a1")
	wc := callAt(t, w, e, "a1")
	w.control(t, "a1", wc.ID, call.OpConference, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a1", wc.ID, call.OpHold, "")
	if f := w.expectFor(t, event.CallFailed, "a2"); f["code"] != 408.0 {
		t.Fatalf("conference invite end: %v", f)
	}
	if v := w.core.Agent("acme", "a2"); v.RingingCall != "" {
		t.Fatalf("a2 still alerted: %+v", v)
	}
}

// TestPhoneLossGraceSurvivesHold: a held call whose agent lost its phone still ends after the
// grace period (hold does not cancel the grace timer), with ended_by system.
func TestPhoneLossGraceSurvivesHold(t *testing.T) {
	e := newMediaEnv(t, `{"hold_grace_seconds":1}`, nil)
	w := e.w
	ctx := context.Background()
	s1, _ := w.phone(t, e.eng, "a1", true)
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	w.ready(t, "a1")
	wc := callAt(t, w, e, "a1")
	w.core.PhoneHealth(ctx, s1, false, true) // the phone's peer connection dropped
	if _, err := w.core.Control(ctx, agentActor("a1", ViaDesktop), wc.ID, call.OpHold, ""); err != nil {
		t.Fatal(err)
	}
	d := data(t, w.expect(t, event.CallDisconnected))
	if d["ended_by"] != "system" || d["call_id"] != wc.ID {
		t.Fatalf("call_disconnected %v", d)
	}
}

// TestInternalCallEdges: the caller losing its phone ends the call after the grace period;
// removing the callee ends a two-party call; a failed dial is no reason for wrap-up.
func TestInternalCallEdges(t *testing.T) {
	e := newMediaEnv(t, `{"hold_grace_seconds":1,"wrap_up_seconds":30}`, nil)
	w := e.w
	ctx := context.Background()
	s1, _ := w.phone(t, e.eng, "a1", true)
	if _, err := w.core.Login(ctx, agentActor("a1", ViaDesktop), KindDesktop); err != nil {
		t.Fatal(err)
	}
	w.phone(t, e.eng, "a2", true)

	v, err := w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "+15551234", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.expect(t, event.CallDisconnected)
	if st := w.core.Agent("acme", "a1").Status; st != "online" {
		t.Fatalf("after a failed dial the caller is %s, want online (no wrap-up)", st)
	}

	v, err = w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "a2", nil)
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
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "system" || d["call_id"] != v.CallID {
		t.Fatalf("caller lost its phone: %v", d)
	}
}

// TestRingingEdges: an agent who missed a call and says ready again is offered it again; a
// caller who hangs up while an agent is alerted ends the alerting with 487; a transfer out of
// a conference is refused; call_disconnected precedes the agents' status changes.
func TestRingingEdges(t *testing.T) {
	e := newMediaEnv(t, `{"ring_timeout_seconds":1}`, nil)
	w := e.w
	ctx := context.Background()
	w.phone(t, e.eng, "a1", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t, e.eng)
	rtctest.Eventually(t, wait, "the IVR greeting", cust.Loud)
	if err := cust.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1")
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
	w.phone(t, e.eng, "a2", true)
	w.phone(t, e.eng, "a3", true)
	wc = callAt(t, w, e, "a1")
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
	sawEnd := false
	for !sawEnd {
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
	e := newMediaEnv(t, "", nil)
	w := e.w
	ctx := context.Background()
	w.phone(t, e.eng, "a1", true)
	w.ready(t, "a1")
	first := callAt(t, w, e, "a1")
	_, cust2 := w.customer(t, e.eng)
	rtctest.Eventually(t, wait, "the IVR greeting", cust2.Loud)
	if err := cust2.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
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
