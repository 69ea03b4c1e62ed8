package core

import (
	"context"
	"errors"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media/mediatest"
)

// videoPhone logs uid in with a phone whose leg carries video.
func (w *world) videoPhone(t *testing.T, uid string) *mediatest.Leg {
	t.Helper()
	ctx := context.Background()
	s, err := w.core.Login(ctx, agentActor(uid, ViaPhone), KindPhone)
	if err != nil {
		t.Fatal(err)
	}
	leg := w.eng.NewVideoLeg(uid + "/" + s.ID)
	if err := w.core.AttachPhone(ctx, s, leg); err != nil {
		t.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, true)
	return leg
}

func (w *world) videoCustomer(t *testing.T, m ...string) (*WebCall, *mediatest.Leg) {
	t.Helper()
	leg := w.eng.NewVideoLeg("cust")
	wc, err := w.core.StartWebCall(context.Background(), "acme", WebCaller{DisplayName: "Ada", Phone: "+15550100", Media: m}, leg)
	if err != nil {
		t.Fatal(err)
	}
	return wc, leg
}

var customerActor = Actor{Account: "acme", Role: auth.RoleCustomer}

func sees(t *testing.T, l *mediatest.Leg, want string) {
	t.Helper()
	if got := l.Sees(); got != want {
		t.Fatalf("%s sees %q, want %q", l.ID(), got, want)
	}
}

func on(b bool) *bool { return &b }

// mediaChanged waits for media_changed and checks its kind and both sides.
func (w *world) mediaChanged(t *testing.T, media string, cust, ag event.SideMedia) {
	t.Helper()
	d := data(t, w.expect(t, event.MediaChanged))
	side := func(k string) event.SideMedia {
		m := d[k].(map[string]any)
		return event.SideMedia{Video: m["video"] == true, Screen: m["screen"] == true}
	}
	if d["media"] != media || side("customer") != cust || side("agent") != ag {
		t.Fatalf("media_changed %v, want %s customer %+v agent %+v", d, media, cust, ag)
	}
}

// TestVideoCallBehaviours is seed 001's table on the media port: hold picture before the
// answer, both cameras on by default, each side's camera toggle, both off still video, screen
// replacing one side's camera while the other stays, refused transitions, hold, transfer.
func TestVideoCallBehaviours(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	p1 := w.videoPhone(t, "a1")
	p2 := w.videoPhone(t, "a2")
	w.ready(t, "a1")
	wc, cust := w.videoCustomer(t, "audio", "video")
	if in := data(t, w.expect(t, event.IncomingCall)); in["media"] != "video" {
		t.Fatalf("incoming_call media %v", in["media"])
	}
	sees(t, cust, "hold") // in the IVR
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	sees(t, cust, "hold")
	sees(t, p1, "")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a1")
	sees(t, cust, p1.ID())
	sees(t, p1, "cust")
	if cust.Keyframes() == 0 || p1.Keyframes() == 0 {
		t.Fatalf("no keyframe asked on answer: customer %d, agent %d", cust.Keyframes(), p1.Keyframes())
	}
	if v, _ := w.core.Call("acme", wc.ID); v.MediaState == nil || v.MediaState.Media != "video" || !v.MediaState.Agent.Video {
		t.Fatalf("call view media %+v", v.MediaState)
	}
	a1 := agentActor("a1", ViaPhone)
	// the agent's camera off: the customer's picture stops, the agent still sees the customer
	if _, err := w.core.ChangeMedia(ctx, a1, wc.ID, MediaChange{Video: on(false)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "video", event.SideMedia{Video: true}, event.SideMedia{})
	sees(t, cust, "")
	sees(t, p1, "cust")
	// both off: still a video call
	if _, err := w.core.ChangeMedia(ctx, customerActor, wc.ID, MediaChange{Video: on(false)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "video", event.SideMedia{}, event.SideMedia{})
	sees(t, p1, "")
	// camera on again: the agent sees the customer, with a keyframe asked
	k := cust.Keyframes()
	if _, err := w.core.ChangeMedia(ctx, customerActor, wc.ID, MediaChange{Video: on(true)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "video", event.SideMedia{Video: true}, event.SideMedia{})
	sees(t, p1, "cust")
	if cust.Keyframes() <= k {
		t.Fatal("no keyframe asked when the camera came back")
	}
	// the agent shares its screen: it replaces the agent's video; the customer's stays
	if _, err := w.core.ChangeMedia(ctx, a1, wc.ID, MediaChange{Screen: on(true)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "screen", event.SideMedia{Video: true}, event.SideMedia{Screen: true})
	if d := data(t, w.expect(t, event.ScreenShareStarted)); d["by"] != "agent" || d["user_id"] != "a1" || d["call_id"] != wc.ID {
		t.Fatalf("screen_share_started %v", d)
	}
	sees(t, cust, p1.ID())
	sees(t, p1, "cust")
	// refused transitions change nothing and emit nothing
	for _, ch := range []MediaChange{{Media: "audio"}} {
		v, err := w.core.ChangeMedia(ctx, a1, wc.ID, ch)
		if Kind(err) != KindConflict {
			t.Fatalf("screen -> audio: %v, %v", v, err)
		}
	}
	if v, _ := w.core.Call("acme", wc.ID); v.MediaState.Media != "screen" || !v.MediaState.Agent.Screen {
		t.Fatalf("a refused transition changed the call: %+v", v.MediaState)
	}
	// back to the camera (it was off before the share: it stays off)
	if _, err := w.core.ChangeMedia(ctx, a1, wc.ID, MediaChange{Media: "video"}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "video", event.SideMedia{Video: true}, event.SideMedia{})
	w.expect(t, event.ScreenShareStopped)
	if _, err := w.core.ChangeMedia(ctx, customerActor, wc.ID, MediaChange{Media: "audio"}); Kind(err) != KindConflict {
		t.Fatalf("video -> audio: %v", err)
	}
	if _, err := w.core.ChangeMedia(ctx, a1, wc.ID, MediaChange{Video: on(true)}); err != nil {
		t.Fatal(err)
	}
	w.mediaChanged(t, "video", event.SideMedia{Video: true}, event.SideMedia{Video: true})
	// hold: the customer sees the hold picture, the agent nothing; retrieve restores both
	w.control(t, "a1", wc.ID, call.OpHold, "")
	sees(t, cust, "hold")
	sees(t, p1, "")
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	sees(t, cust, p1.ID())
	sees(t, p1, "cust")
	// transfer: the new agent sees the customer (keyframe asked), the customer the new agent
	w.ready(t, "a2")
	k = cust.Keyframes()
	w.control(t, "a1", wc.ID, call.OpTransfer, "a2")
	w.expectFor(t, event.IncomingCall, "a2")
	sees(t, p1, "")
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	sees(t, p2, "cust")
	sees(t, cust, p2.ID())
	if cust.Keyframes() <= k {
		t.Fatal("no keyframe asked of the customer for the new agent")
	}
	// an agent not on the call may not change it
	if _, err := w.core.ChangeMedia(ctx, a1, wc.ID, MediaChange{Video: on(false)}); Kind(err) != KindConflict {
		t.Fatalf("an agent off the call changed its video: %v", err)
	}
	w.control(t, "a2", wc.ID, call.OpHangUp, "")
	w.expect(t, event.CallDisconnected)
	sees(t, p2, "")
	// the record: when each side's camera and screen were on, per leg
	rec, err := w.store.Call(ctx, "acme", wc.ID)
	if err != nil {
		t.Fatal(err)
	}
	hist := map[string]string{}
	for _, l := range rec.Legs {
		for _, s := range l.MediaHistory {
			hist[l.Kind+":"+l.UserID] += map[bool]string{true: "V", false: "-"}[s.Video] + map[bool]string{true: "S", false: ""}[s.Screen] + " "
		}
	}
	if hist["customer:"] != "V - V " || hist["agent:a1"] != "V - -S - V " || hist["agent:a2"] != "V " {
		t.Fatalf("media history %q", hist)
	}
}

// TestAudioCallRefusesVideo: an audio call takes no video or screen control, from either side,
// and an account with video off refuses a video call before it exists.
func TestAudioCallRefusesVideo(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	w.videoPhone(t, "a1")
	w.ready(t, "a1")
	wc, cust := w.videoCustomer(t, "audio")
	w.expect(t, event.IncomingCall)
	sees(t, cust, "") // no hold picture on an audio call
	cust.Press("2")
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a1")
	for _, ch := range []MediaChange{{Video: on(true)}, {Screen: on(true)}, {Media: "video"}, {Video: on(false)}} {
		for _, a := range []Actor{agentActor("a1", ViaPhone), customerActor} {
			if _, err := w.core.ChangeMedia(ctx, a, wc.ID, ch); Kind(err) != KindConflict {
				t.Fatalf("%+v by %s on an audio call: %v", ch, a.Role, err)
			}
		}
	}
	if v, _ := w.core.Call("acme", wc.ID); v.MediaState != nil {
		t.Fatalf("an audio call has media state %+v", v.MediaState)
	}
	// simple mode: a desktop may not touch the camera
	if _, err := w.accounts.Update(ctx, "acme", []byte(`{"mode":"simple","video":false}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.core.ChangeMedia(ctx, agentActor("a1", ViaDesktop), wc.ID, MediaChange{Video: on(true)}); Kind(err) != KindForbidden {
		t.Fatalf("simple-mode desktop: %v", err)
	}
	_, err := w.core.StartWebCall(ctx, "acme", WebCaller{Media: []string{"audio", "video"}}, w.eng.NewVideoLeg("c2"))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("video call on an audio-only account: %v", err)
	}
}
