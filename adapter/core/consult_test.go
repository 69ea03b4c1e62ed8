package core

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// consultSetup: a customer call answered by a1, a2 and a3 logged in with phones.
type consultSetup struct {
	w          *world
	wc         *WebCall
	cust       *mediatest.Leg
	p1, p2, p3 *mediatest.Leg
}

func newConsultSetup(t *testing.T) *consultSetup {
	t.Helper()
	w := newWorld(t, `{"wrap_up_seconds":0}`)
	_, p1 := w.phone(t, "a1", true)
	_, p2 := w.phone(t, "a2", true)
	_, p3 := w.phone(t, "a3", true)
	w.ready(t, "a1")
	wc, cust := callAt(t, w, "a1")
	return &consultSetup{w: w, wc: wc, cust: cust, p1: p1, p2: p2, p3: p3}
}

// consultTo has a1 consult dest and the consulted agent uid answer; it returns the consult call.
func (s *consultSetup) consultTo(t *testing.T, dest, uid string) string {
	t.Helper()
	w := s.w
	v, err := w.core.Consult(context.Background(), agentActor("a1", ViaDesktop), "", s.wc.ID, dest, map[string]string{"note": "vip"})
	if err != nil {
		t.Fatal(err)
	}
	if v.ConsultOf != s.wc.ID {
		t.Fatalf("consult call view %+v", v)
	}
	w.expect(t, event.CallHeld)
	out := data(t, w.expect(t, event.OutgoingCall))
	if out["consult_of"] != s.wc.ID || out["call_id"] != v.CallID || out["variables"].(map[string]any)["note"] != "vip" {
		t.Fatalf("outgoing_call of the consult: %v", out)
	}
	if in := w.expectFor(t, event.IncomingCall, uid); in["consult_of"] != s.wc.ID || in["call_id"] != v.CallID {
		t.Fatalf("incoming_call of the consult: %v", in)
	}
	hears(t, s.cust, "player:hold")
	w.control(t, uid, v.CallID, call.OpAnswer, "")
	if c := w.expectFor(t, event.CallConnected, uid); c["consult_of"] != s.wc.ID {
		t.Fatalf("call_connected of the consult: %v", c)
	}
	return v.CallID
}

func TestConsultTransfer(t *testing.T) {
	s := newConsultSetup(t)
	w, ctx := s.w, context.Background()
	w.ready(t, "a2")
	cid := s.consultTo(t, "a2", "a2")
	hears(t, s.cust, "player:hold") // the customer never hears the consult
	hears(t, s.p1, s.p2.ID())
	hears(t, s.p2, s.p1.ID())
	if p, _ := w.core.Call("acme", s.wc.ID); !p.Held || p.ConsultCall != cid {
		t.Fatalf("primary during the consult: %+v", p)
	}
	// a change on the held primary (wired again) leaves the consult's media alone
	w.control(t, "a1", s.wc.ID, call.OpMute, "")
	w.control(t, "a1", s.wc.ID, call.OpUnmute, "")
	hears(t, s.p1, s.p2.ID())
	hears(t, s.p2, s.p1.ID())
	hears(t, s.cust, "player:hold")

	// alternate: retrieving the primary holds the consult, and back
	w.control(t, "a1", s.wc.ID, call.OpRetrieve, "")
	if d := data(t, w.expect(t, event.CallHeld)); d["call_id"] != cid {
		t.Fatalf("retrieving the primary held %v", d)
	}
	hears(t, s.cust, s.p1.ID())
	hears(t, s.p1, "cust")
	hears(t, s.p2)
	w.control(t, "a1", cid, call.OpRetrieve, "")
	if d := data(t, w.expect(t, event.CallHeld)); d["call_id"] != s.wc.ID {
		t.Fatalf("retrieving the consult held %v", d)
	}
	hears(t, s.p1, s.p2.ID())
	hears(t, s.cust, "player:hold")
	// a1 mutes the consult call: a2 no longer hears it, also after the held primary is wired again
	w.control(t, "a1", cid, call.OpMute, "")
	hears(t, s.p2)
	w.control(t, "a1", s.wc.ID, call.OpUnmute, "") // the primary's own mute state: unmuted
	hears(t, s.p2)
	w.control(t, "a1", cid, call.OpUnmute, "")
	hears(t, s.p2, s.p1.ID())

	if _, err := w.core.CompleteConsult(ctx, agentActor("a1", ViaDesktop), "", cid, ConsultTransfer); err != nil {
		t.Fatal(err)
	}
	tr := data(t, w.expect(t, event.CallTransferred))
	if tr["call_id"] != s.wc.ID || tr["from_user_id"] != "a1" || tr["to_user_id"] != "a2" {
		t.Fatalf("call_transferred: %v", tr)
	}
	if d := data(t, w.expect(t, event.CallDisconnected)); d["call_id"] != cid || d["consult_of"] != s.wc.ID {
		t.Fatalf("consult call_disconnected: %v", d)
	}
	w.expectFor(t, event.CallConnected, "a2")
	w.expectFor(t, event.PartyRemoved, "a1")
	hears(t, s.cust, s.p2.ID())
	hears(t, s.p2, "cust")
	hears(t, s.p1)
	if a := w.core.Agent("acme", "a1"); a.Status == "in_call" || len(a.Calls) != 0 {
		t.Fatalf("a1 after the consult transfer: %+v", a)
	}
	if p, _ := w.core.Call("acme", s.wc.ID); p.Held || len(p.Agents) != 1 || p.Agents[0] != "a2" || p.ConsultCall != "" {
		t.Fatalf("primary after the transfer: %+v", p)
	}
	if _, err := w.core.Call("acme", cid); err == nil {
		t.Fatal("the consult call outlived the transfer")
	}
	rec, err := w.store.Call(ctx, "acme", cid)
	if err != nil || rec.EndReason != endConsultTransferred || rec.ConsultOf != s.wc.ID {
		t.Fatalf("consult record %+v, %v", rec, err)
	}
	prec, err := w.store.Call(ctx, "acme", s.wc.ID)
	if err != nil || len(prec.Consults) != 1 || prec.Consults[0] != cid || !slices.ContainsFunc(prec.Parties, func(p store.Party) bool {
		return p.UserID == "a2" && p.Role == "consult_transfer"
	}) {
		t.Fatalf("primary record %+v, %v", prec, err)
	}
}

func TestConsultConferenceAndCancel(t *testing.T) {
	s := newConsultSetup(t)
	w, ctx := s.w, context.Background()
	w.ready(t, "a2")
	cid := s.consultTo(t, "102", "a2") // by extension

	// cancel: the consult ends, the customer is back with a1
	if _, err := w.core.CompleteConsult(ctx, integrator, "a1", s.wc.ID, ConsultCancel); err != nil {
		t.Fatal(err)
	}
	if d := data(t, w.expect(t, event.CallDisconnected)); d["call_id"] != cid {
		t.Fatalf("cancel ended %v", d)
	}
	w.expect(t, event.CallRetrieved)
	hears(t, s.cust, s.p1.ID())
	hears(t, s.p1, "cust")
	hears(t, s.p2)

	// a second consult, to a3, completed as a conference: everyone hears everyone
	w.ready(t, "a3")
	s.w.expectFor(t, event.StatusChanged, "a3")
	s.consultTo(t, "a3", "a3")
	if _, err := w.core.CompleteConsult(ctx, agentActor("a1", ViaPhone), "", s.wc.ID, ConsultConference); err != nil {
		t.Fatal(err)
	}
	if d := data(t, w.expect(t, event.PartyAdded)); d["user_id"] != "a3" {
		t.Fatalf("party_added %v", d)
	}
	hears(t, s.cust, s.p1.ID(), s.p3.ID())
	hears(t, s.p1, "cust", s.p3.ID())
	hears(t, s.p3, "cust", s.p1.ID())
	p, _ := w.core.Call("acme", s.wc.ID)
	if p.Held || len(p.Agents) != 2 {
		t.Fatalf("primary after the conference: %+v", p)
	}
}

func TestConsultRefusedReturnsToTheHeldCustomer(t *testing.T) {
	s := newConsultSetup(t)
	w, ctx := s.w, context.Background()
	w.ready(t, "a2")
	v, err := w.core.Consult(ctx, agentActor("a1", ViaPhone), "", s.wc.ID, "a2", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", v.CallID, call.OpReject, "")
	if d := w.expectFor(t, event.CallFailed, "a2"); d["code"] != float64(603) || d["consult_of"] != s.wc.ID {
		t.Fatalf("call_failed of the refused consult: %v", d)
	}
	w.expect(t, event.CallDisconnected)
	p, _ := w.core.Call("acme", s.wc.ID)
	if !p.Held || p.ConsultCall != "" {
		t.Fatalf("primary after the refusal: %+v", p)
	}
	hears(t, s.cust, "player:hold")
	w.control(t, "a1", s.wc.ID, call.OpRetrieve, "")
	hears(t, s.cust, s.p1.ID())

	// an unknown destination is refused at once: the primary is not held
	if _, err := w.core.Consult(ctx, agentActor("a1", ViaPhone), "", s.wc.ID, "nobody-here", nil); Kind(err) != KindNoRoute {
		t.Fatalf("consult to an unknown destination: %v", err)
	}
	if p, _ := w.core.Call("acme", s.wc.ID); p.Held {
		t.Fatal("a refused consult held the primary")
	}
}

func TestConsultBadInput(t *testing.T) {
	s := newConsultSetup(t)
	w, ctx := s.w, context.Background()
	before, _ := w.core.Call("acme", s.wc.ID)
	check := func(name string, err error, kind ErrorKind) {
		t.Helper()
		if Kind(err) != kind {
			t.Fatalf("%s: %v (kind %s), want %s", name, err, Kind(err), kind)
		}
	}
	_, err := w.core.Consult(ctx, agentActor("a2", ViaDesktop), "", s.wc.ID, "a3", nil)
	check("consult on another agent's call", err, KindForbidden)
	_, err = w.core.Consult(ctx, agentActor("a2", ViaDesktop), "a1", s.wc.ID, "a3", nil)
	check("consult for another agent", err, KindForbidden)
	_, err = w.core.Consult(ctx, agentActor("a1", ViaDesktop), "", "c-none", "a3", nil)
	check("consult on no call", err, KindNotFound)
	_, err = w.core.Consult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, "a1", nil)
	check("consult to oneself", err, KindInvalid)
	_, err = w.core.CompleteConsult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, ConsultTransfer)
	check("transfer with no consult", err, KindConflict)
	if !errors.Is(err, ErrNoConsult) {
		t.Fatalf("completion with no consult: %v", err)
	}
	_, err = w.core.CompleteConsult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, "merge")
	check("unknown completion", err, KindInvalid)
	w.setMode(t, "agent-state")
	_, err = w.core.Consult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, "a3", nil)
	var fe *modes.ForbiddenError
	if !errors.As(err, &fe) || fe.Op != modes.Consult {
		t.Fatalf("consult in agent-state mode from a desktop: %v", err)
	}
	after, _ := w.core.Call("acme", s.wc.ID)
	if after.Held != before.Held || after.ConsultCall != "" || len(w.core.Calls("acme", "")) != 1 {
		t.Fatalf("bad input changed the call: %+v", after)
	}
	// an unanswered consult cannot be completed, and a primary has one consult at a time
	w.setMode(t, "full")
	w.ready(t, "a2")
	v, err := w.core.Consult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, "a2", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.core.CompleteConsult(ctx, agentActor("a1", ViaDesktop), "", v.CallID, ConsultConference)
	check("conference before the answer", err, KindConflict)
	_, err = w.core.Consult(ctx, agentActor("a1", ViaDesktop), "", s.wc.ID, "a3", nil)
	check("a second consult", err, KindConflict)
	_, err = w.core.CompleteConsult(ctx, agentActor("a2", ViaDesktop), "", v.CallID, ConsultTransfer)
	check("completion by the consulted agent", err, KindForbidden)
}

func TestConsultToQueueAndCustomerHangsUp(t *testing.T) {
	s := newConsultSetup(t)
	w, ctx := s.w, context.Background()
	w.ready(t, "a3")
	cid := s.consultTo(t, "sales", "a3")
	hears(t, s.p1, s.p3.ID())
	// the customer hangs up during the consult: the consult goes on as a call of its own
	if err := w.core.CustomerHangUp(ctx, "acme", s.wc.ID); err != nil {
		t.Fatal(err)
	}
	if d := data(t, w.expect(t, event.CallDisconnected)); d["call_id"] != s.wc.ID {
		t.Fatalf("hang-up ended %v", d)
	}
	hears(t, s.p1, s.p3.ID())
	hears(t, s.p3, s.p1.ID())
	_, err := w.core.CompleteConsult(ctx, agentActor("a1", ViaDesktop), "", cid, ConsultTransfer)
	if !errors.Is(err, ErrNoConsult) {
		t.Fatalf("completion after the primary ended: %v", err)
	}
	w.control(t, "a1", cid, call.OpHangUp, "")
	if d := data(t, w.expect(t, event.CallDisconnected)); d["call_id"] != cid || d["consult_of"] != s.wc.ID {
		t.Fatalf("consult end: %v", d)
	}
	if a := w.core.Agent("acme", "a1"); a.Status == "in_call" {
		t.Fatalf("a1 still in a call: %+v", a)
	}
}

// TestConsultHooksComplete: the dial hooks of a consult to a number set every hook the dialer
// calls (a hook added to dialHooks but not here would be a nil call on the dial's goroutine).
func TestConsultHooksComplete(t *testing.T) {
	h := reflect.ValueOf((&tenant{}).consultHooks())
	for i := 0; i < h.NumField(); i++ {
		if h.Field(i).Kind() == reflect.Func && h.Field(i).IsNil() {
			t.Errorf("consultHooks leaves %s nil", h.Type().Field(i).Name)
		}
	}
}
