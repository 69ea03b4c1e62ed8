package integration

// Supervision with real pion peers and tones (docs/supervision.md): who hears whom in listen,
// whisper and barge, proven by tone detection on each party's received audio.

import (
	"context"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// supervisorPhone logs supervisor uid in with a phone on a real peer connection.
func (w *cmWorld) supervisorPhone(t *testing.T, eng *peer.Engine, uid string) *rtctest.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := w.store.PutUser(ctx, store.User{Account: "acme", ID: uid, Name: "Supervisor"}); err != nil {
		t.Fatal(err)
	}
	s, err := w.core.SupervisorLogin(ctx, core.Actor{Account: "acme", Role: auth.RoleSupervisor, UserID: uid, Via: core.ViaPhone})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := eng.NewLeg(peer.LegOptions{ID: "phone-" + s.ID})
	if err != nil {
		t.Fatal(err)
	}
	c := rtctest.New(t)
	c.ConnectLeg(leg)
	if err := w.core.AttachPhone(ctx, s, leg); err != nil {
		t.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, true)
	return c
}

// notHears fails if c hears freq at any point over a settled window: the audio is cleared once
// another tone the client must hear has arrived, then checked again after that tone is heard
// anew (so a full window of audio went by without freq).
func notHears(t *testing.T, c *rtctest.Client, who string, freq, witness float64) {
	t.Helper()
	cmHears(t, c, who+" (witness tone)", witness)
	cmHears(t, c, who+" (witness tone again)", witness)
	if c.Hears(freq) {
		t.Fatalf("%s hears %v Hz, which it must not", who, freq)
	}
}

// TestMonitorRealMedia: customer 700 Hz, agent 1300 Hz, supervisor 1900 Hz.
// listen: the supervisor hears both; neither hears the supervisor.
// whisper: the agent hears the supervisor; the customer does not.
// barge: both hear the supervisor.
func TestMonitorRealMedia(t *testing.T) {
	w, eng := cmMediaWorld(t, `{"wrap_up_seconds":0}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, agentPhone := w.phone(t, eng, "a1", true)
	sup := w.supervisorPhone(t, eng, "s1")
	w.ready(t, "a1")
	wc, cust := w.customer(t, eng)
	if err := cust.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a1")
	cust.Speak(ctx, 700)
	agentPhone.Speak(ctx, 1300)
	sup.Speak(ctx, 1900)
	cmHears(t, cust, "customer", 1300)
	cmHears(t, agentPhone, "agent", 700)

	monitor := func(mode string) {
		t.Helper()
		if _, err := w.core.Monitor(ctx, core.Actor{Account: "acme", Role: auth.RoleSupervisor, UserID: "s1"}, wc.ID, mode); err != nil {
			t.Fatalf("monitor %s: %v", mode, err)
		}
		w.expect(t, event.MonitorStarted)
	}

	monitor(core.MonitorListen)
	cmHears(t, sup, "listening supervisor (customer)", 700)
	cmHears(t, sup, "listening supervisor (agent)", 1300)
	notHears(t, cust, "customer while the supervisor listens", 1900, 1300)
	notHears(t, agentPhone, "agent while the supervisor listens", 1900, 700)

	monitor(core.MonitorWhisper)
	cmHears(t, agentPhone, "agent hears the whisper", 1900)
	cmHears(t, agentPhone, "agent still hears the customer", 700)
	notHears(t, cust, "customer during a whisper", 1900, 1300)
	cmHears(t, sup, "whispering supervisor (customer)", 700)

	monitor(core.MonitorBarge)
	cmHears(t, cust, "customer hears the barging supervisor", 1900)
	cmHears(t, agentPhone, "agent hears the barging supervisor", 1900)
	cmHears(t, cust, "customer still hears the agent", 1300)

	if err := w.core.Unmonitor(ctx, core.Actor{Account: "acme", Role: auth.RoleSupervisor, UserID: "s1"}, wc.ID); err != nil {
		t.Fatal(err)
	}
	w.expect(t, event.MonitorEnded)
	notHears(t, cust, "customer after the monitor", 1900, 1300)
	sup.ClearAudio()
	cmHears(t, cust, "customer (time passes)", 1300)
	cmHears(t, cust, "customer (time passes again)", 1300)
	if sup.Hears(700) || sup.Hears(1300) {
		t.Fatal("the supervisor still hears the call after stopping")
	}
}
