package core

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
)

// phone logs uid in with a phone session on an in-memory leg; mic says whether the microphone
// was granted.
func (w *world) phone(t *testing.T, uid string, mic bool) (*Session, *mediatest.Leg) {
	t.Helper()
	ctx := context.Background()
	s, err := w.core.Login(ctx, agentActor(uid, ViaPhone), KindPhone)
	if err != nil {
		t.Fatal(err)
	}
	leg := w.eng.NewLeg(uid + "/" + s.ID)
	if err := w.core.AttachPhone(ctx, s, leg); err != nil {
		t.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, mic)
	return s, leg
}

func (w *world) ready(t *testing.T, uid string) {
	t.Helper()
	if _, err := w.core.SetStatus(context.Background(), agentActor(uid, ViaPhone), uid, agent.Ready, ""); err != nil {
		t.Fatal(err)
	}
}

// customer starts a web call on an in-memory leg named "cust".
func (w *world) customer(t *testing.T) (*WebCall, *mediatest.Leg) {
	t.Helper()
	leg := w.eng.NewLeg("cust")
	wc, err := w.core.StartWebCall(context.Background(), "acme", WebCaller{DisplayName: "Ada", Phone: "+15550100"}, leg)
	if err != nil {
		t.Fatal(err)
	}
	return wc, leg
}

func (w *world) control(t *testing.T, uid, callID string, op call.Op, arg string) {
	t.Helper()
	if _, err := w.core.Control(context.Background(), agentActor(uid, ViaPhone), callID, op, arg); err != nil {
		t.Fatalf("%s %s: %v", uid, op, err)
	}
}

func data(t *testing.T, ev event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// expectFor waits for event name concerning user uid.
func (w *world) expectFor(t *testing.T, name, uid string) map[string]any {
	t.Helper()
	for i := 0; i < 100; i++ {
		ev := w.next(t)
		if ev.Name == name {
			if d := data(t, ev); d["user_id"] == uid {
				return d
			}
		}
	}
	t.Fatalf("no %s for %s", name, uid)
	return nil
}

// hears fails unless leg's far end hears exactly who (leg ids, or "player:<clip>").
func hears(t *testing.T, leg *mediatest.Leg, who ...string) {
	t.Helper()
	got := leg.Hears()
	slices.Sort(who)
	if !slices.Equal(got, who) {
		t.Fatalf("%s hears %v, want %v", leg.ID(), got, who)
	}
}

// callAt makes a customer call through the IVR (digit 2, support) and has uid answer it.
func callAt(t *testing.T, w *world, uid string) (*WebCall, *mediatest.Leg) {
	t.Helper()
	wc, cust := w.customer(t)
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, uid)
	w.control(t, uid, wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, uid)
	return wc, cust
}
