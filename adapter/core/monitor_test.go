package core

import (
	"context"
	"errors"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

func supActor(uid string) Actor {
	return Actor{Account: "acme", Role: auth.RoleSupervisor, UserID: uid, Via: ViaPhone}
}

// supervisor logs supervisor uid (a user of the account) in with a phone on an in-memory leg.
func (w *world) supervisor(t *testing.T, uid string, mic bool) (*Session, *mediatest.Leg) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.store.PutUser(ctx, store.User{Account: "acme", ID: uid, Name: "Supervisor " + uid}); err != nil {
		t.Fatal(err)
	}
	s, err := w.core.SupervisorLogin(ctx, supActor(uid))
	if err != nil {
		t.Fatal(err)
	}
	leg := w.eng.NewLeg(uid)
	if err := w.core.AttachPhone(ctx, s, leg); err != nil {
		t.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, mic)
	return s, leg
}

func (w *world) monitor(t *testing.T, uid, callID, mode string) {
	t.Helper()
	v, err := w.core.Monitor(context.Background(), supActor(uid), callID, mode)
	if err != nil || v.CallID != callID || v.Mode != mode {
		t.Fatalf("monitor %s %s: %+v %v", callID, mode, v, err)
	}
}

// TestMonitorModes: who hears whom in listen, whisper and barge, switching mode during the
// call, stopping, and the events of each step. The account is in simple mode: supervision is
// not a desktop operation, so the mode does not limit it.
func TestMonitorModes(t *testing.T) {
	w := newWorld(t, `{"mode":"simple"}`)
	_, p1 := w.phone(t, "a1", true)
	_, sl := w.supervisor(t, "s1", true)
	w.ready(t, "a1")
	wc, cust := callAt(t, w, "a1")
	if w.core.Agent("acme", "s1").Status != "offline" {
		t.Fatal("a supervisor's phone made it an agent")
	}

	w.monitor(t, "s1", wc.ID, MonitorListen)
	st := data(t, w.expect(t, event.MonitorStarted))
	if st["call_id"] != wc.ID || st["supervisor_id"] != "s1" || st["mode"] != "listen" || st["previous_mode"] != nil {
		t.Fatalf("monitor_started: %v", st)
	}
	hears(t, sl, "cust", p1.ID())
	hears(t, cust, p1.ID())
	hears(t, p1, "cust")

	w.monitor(t, "s1", wc.ID, MonitorWhisper)
	if st := data(t, w.expect(t, event.MonitorStarted)); st["mode"] != "whisper" || st["previous_mode"] != "listen" {
		t.Fatalf("mode change: %v", st)
	}
	hears(t, p1, "cust", "s1")
	hears(t, cust, p1.ID())
	hears(t, sl, "cust", p1.ID())

	w.monitor(t, "s1", wc.ID, MonitorBarge)
	w.expect(t, event.MonitorStarted)
	hears(t, p1, "cust", "s1")
	hears(t, cust, p1.ID(), "s1")
	hears(t, sl, "cust", p1.ID())

	// the same mode again changes nothing and emits nothing
	w.monitor(t, "s1", wc.ID, MonitorBarge)
	// hold: nobody hears the supervisor, the supervisor hears nothing
	w.control(t, "a1", wc.ID, call.OpHold, "")
	w.expect(t, event.CallHeld)
	hears(t, sl)
	hears(t, cust, "player:hold")
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	hears(t, cust, p1.ID(), "s1")

	if err := w.core.Unmonitor(context.Background(), supActor("s1"), wc.ID); err != nil {
		t.Fatal(err)
	}
	if end := data(t, w.expect(t, event.MonitorEnded)); end["reason"] != "stopped" || end["supervisor_id"] != "s1" {
		t.Fatalf("monitor_ended: %v", end)
	}
	hears(t, sl)
	hears(t, cust, p1.ID())
	hears(t, p1, "cust")

	// monitoring again, then the call ends: monitor_ended before call_disconnected
	w.monitor(t, "s1", wc.ID, MonitorListen)
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	var names []string
	for len(names) == 0 || names[len(names)-1] != event.CallDisconnected {
		names = append(names, w.next(t).Name)
	}
	if i := indexOf(names, event.MonitorEnded); i < 0 {
		t.Fatalf("no monitor_ended before call_disconnected: %v", names)
	}
	rec, err := w.store.Call(context.Background(), "acme", wc.ID)
	if err != nil {
		t.Fatal(err)
	}
	sups := 0
	for _, p := range rec.Parties {
		if p.Role == "supervisor" && p.UserID == "s1" && p.LeftAt != nil {
			sups++
		}
	}
	if sups != 2 {
		t.Fatalf("the record should list s1 twice as a supervisor party: %+v", rec.Parties)
	}
	hears(t, sl)
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// TestMonitorConference: in a three-party call a whisper reaches both agents and neither the
// customer; a listener is heard by none.
func TestMonitorConference(t *testing.T) {
	w := newWorld(t, "")
	_, p1 := w.phone(t, "a1", true)
	_, p2 := w.phone(t, "a2", true)
	_, sl := w.supervisor(t, "s1", true)
	w.ready(t, "a1")
	wc, cust := callAt(t, w, "a1")
	w.ready(t, "a2")
	w.control(t, "a1", wc.ID, call.OpConference, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.PartyAdded, "a2")
	w.monitor(t, "s1", wc.ID, MonitorWhisper)
	hears(t, cust, p1.ID(), p2.ID())
	hears(t, p1, "cust", p2.ID(), "s1")
	hears(t, p2, "cust", p1.ID(), "s1")
	hears(t, sl, "cust", p1.ID(), p2.ID())
	w.monitor(t, "s1", wc.ID, MonitorListen)
	hears(t, p1, "cust", p2.ID())
	hears(t, sl, "cust", p1.ID(), p2.ID())
}

// TestMonitorRefusals: each bad request gets its specific error and changes nothing.
func TestMonitorRefusals(t *testing.T) {
	w := newWorld(t, "")
	ctx := context.Background()
	w.phone(t, "a1", true)
	_, sl := w.supervisor(t, "s1", false) // no microphone
	w.ready(t, "a1")
	wc, cust := w.customer(t) // in the IVR: not connected yet
	for _, c := range []struct {
		name string
		a    Actor
		call string
		mode string
		want error
	}{
		{"an agent token", agentActor("a1", ViaPhone), wc.ID, MonitorListen, ErrForbidden},
		{"an integrator", integrator, wc.ID, MonitorListen, ErrForbidden},
		{"a bad mode", supActor("s1"), wc.ID, "spy", ErrInvalid},
		{"an unknown call", supActor("s1"), "cnope", MonitorListen, ErrNotFound},
		{"another account's call", Actor{Account: "other", Role: auth.RoleSupervisor, UserID: "s1"}, wc.ID, MonitorListen, ErrNotFound},
		{"a call in the IVR", supActor("s1"), wc.ID, MonitorListen, ErrConflict},
	} {
		if _, err := w.core.Monitor(ctx, c.a, c.call, c.mode); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	for _, c := range []struct {
		name string
		a    Actor
		mode string
		want error
	}{
		{"whisper without a microphone", supActor("s1"), MonitorWhisper, ErrNoPhone},
		{"a supervisor without a phone", supActor("s2"), MonitorListen, ErrNoPhone},
		{"a party of the call", supActor("a1"), MonitorListen, ErrConflict},
	} {
		if _, err := w.core.Monitor(ctx, c.a, wc.ID, c.mode); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := w.core.Unmonitor(ctx, supActor("s1"), wc.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unmonitor without a monitor: %v", err)
	}
	hears(t, sl)
	// a second call while monitoring the first
	w.monitor(t, "s1", wc.ID, MonitorListen)
	w.phone(t, "a2", true)
	w.ready(t, "a2")
	wc2, _ := callAt(t, w, "a2")
	if _, err := w.core.Monitor(ctx, supActor("s1"), wc2.ID, MonitorListen); !errors.Is(err, ErrConflict) {
		t.Errorf("monitoring a second call: %v", err)
	}
	if _, err := w.core.SupervisorLogin(ctx, agentActor("a1", ViaPhone)); !errors.Is(err, ErrForbidden) {
		t.Errorf("supervisor login with an agent token: %v", err)
	}
	if _, err := w.core.SupervisorLogin(ctx, supActor("ghost")); !errors.Is(err, ErrNotFound) {
		t.Errorf("supervisor login of an unknown user: %v", err)
	}
}

// TestMonitorPhoneLost: the supervisor's phone going away ends its monitor (phone_lost) and the
// call goes on as before.
func TestMonitorPhoneLost(t *testing.T) {
	w := newWorld(t, "")
	_, p1 := w.phone(t, "a1", true)
	ss, _ := w.supervisor(t, "s1", true)
	w.ready(t, "a1")
	wc, cust := callAt(t, w, "a1")
	w.monitor(t, "s1", wc.ID, MonitorBarge)
	w.expect(t, event.MonitorStarted)
	w.core.EndSession(context.Background(), ss)
	if end := data(t, w.expect(t, event.MonitorEnded)); end["reason"] != "phone_lost" {
		t.Fatalf("monitor_ended: %v", end)
	}
	hears(t, cust, p1.ID())
	hears(t, p1, "cust")
	if v, _ := w.core.Call("acme", wc.ID); v.State != "connected" {
		t.Fatalf("the call after the supervisor left: %+v", v)
	}
}
