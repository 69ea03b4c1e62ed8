package core

import (
	"context"
	"errors"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestChatScreenShare (seed 001): the customer shares its screen during an accepted chat; the
// agent is notified (screen_share_started with the chat, media_changed) and sees the screen at
// once; the customer's camera and the agent's video stay off until the agent turns its camera
// on; the agent's voice is not carried; a second share, a share before an agent accepted and a
// share while the agent is on a call are refused; the share ends with the chat's customer
// hanging it up, and the agent is free again.
func TestChatScreenShare(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	p1 := w.videoPhone(t, "a1")
	w.ready(t, "a1")
	cust, _ := w.startChat(t, "Ada")
	leg := w.eng.NewVideoLeg("cust-screen")
	if _, err := w.core.StartChatScreenShare(ctx, cust, leg); !errors.Is(err, ErrConflict) {
		t.Fatalf("a share before an agent accepted the chat: %v", err)
	}
	w.expectFor(t, event.ChatStarted, "a1")
	if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaPhone), cust.ChatID); err != nil {
		t.Fatal(err)
	}
	wc, err := w.core.StartChatScreenShare(ctx, cust, leg)
	if err != nil {
		t.Fatal(err)
	}
	if d := w.expectFor(t, event.CallConnected, "a1"); d["call_id"] != wc.ID {
		t.Fatalf("call_connected %v", d)
	}
	if d := data(t, w.expect(t, event.ScreenShareStarted)); d["chat_id"] != cust.ChatID || d["call_id"] != wc.ID || d["by"] != "customer" {
		t.Fatalf("screen_share_started %v", d)
	}
	w.mediaChanged(t, "screen", event.SideMedia{Screen: true}, event.SideMedia{})
	sees(t, p1, "cust-screen") // the agent sees the screen
	sees(t, leg, "")           // the agent's video stays off
	if !p1.Muted() {
		t.Fatal("the agent's voice is carried on a screen share")
	}
	if leg.Keyframes() == 0 {
		t.Fatal("no keyframe asked of the customer for the agent")
	}
	if _, err := w.core.StartChatScreenShare(ctx, cust, w.eng.NewVideoLeg("again")); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second share of one chat: %v", err)
	}
	// the agent turns its camera on: the customer sees it
	if _, err := w.core.ChangeMedia(ctx, agentActor("a1", ViaPhone), wc.ID, MediaChange{Video: on(true)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "screen", event.SideMedia{Screen: true}, event.SideMedia{Video: true})
	sees(t, leg, p1.ID())
	if v := w.core.Agent("acme", "a1"); v.Status != "ready" {
		t.Fatalf("a share changed the agent's status to %s", v.Status)
	}
	if err := w.core.CustomerHangUp(ctx, "acme", wc.ID); err != nil {
		t.Fatal(err)
	}
	w.expect(t, event.CallDisconnected)
	sees(t, p1, "")
	if p1.Muted() {
		t.Fatal("the agent's leg stayed muted after the share")
	}
	// the agent on a call: a share waits
	cust2, _ := w.startChat(t, "Bob")
	w.expectFor(t, event.ChatStarted, "a1")
	if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaPhone), cust2.ChatID); err != nil {
		t.Fatal(err)
	}
	vc, vleg := w.videoCustomer(t, "audio", "video")
	w.expect(t, event.IncomingCall)
	vleg.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", vc.ID, call.OpAnswer, "")
	if _, err := w.core.StartChatScreenShare(ctx, cust2, w.eng.NewVideoLeg("busy")); !errors.Is(err, ErrConflict) {
		t.Fatalf("a share while the agent is on a call: %v", err)
	}
}
