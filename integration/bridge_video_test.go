package integration

import (
	"context"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// TestBridgeVideoCall (docs/video.md, docs/bridge.md): a video call's interaction says media
// video; every change of the call's media is raised as interaction.mediachanged (bodies checked
// against their schemas by the client), a screen share as interaction.screensharestarted /
// stopped with who, and the interaction's media follows.
func TestBridgeVideoCall(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	d := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
	m := d.mark()
	e.phoneReady("a1")
	leg, err := e.srv.Media.NewLeg(peer.LegOptions{ID: "customer"})
	if err != nil {
		t.Fatal(err)
	}
	c := rtctest.New(t)
	c.ConnectLeg(leg)
	wc, err := e.srv.Core.StartWebCall(e.ctx, "acme", core.WebCaller{DisplayName: "Ada", Phone: "+15550100", Media: []string{"audio", "video"}}, leg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Core.CustomerHangUp(context.Background(), "acme", wc.ID) })
	if err := c.SendDigits("1"); err != nil {
		t.Fatal(err)
	}
	ia := d.interaction(m)
	ii, conv, _ := d.initCall(ia)
	if ii.str("media") != "video" {
		t.Fatalf("interaction of a video call: %s", ii.raw)
	}
	d.request("interaction.request.accept", ia, nil)
	d.event(m, "conversation.talking", conv)

	cust := core.Actor{Account: "acme", Role: auth.RoleCustomer}
	m = d.mark()
	off := false
	if _, err := e.srv.Core.ChangeMedia(e.ctx, cust, wc.ID, core.MediaChange{Video: &off}); err != nil {
		t.Fatal(err)
	}
	mc := d.event(m, "interaction.mediachanged", ia)
	if mc.str("media") != "video" || mc.Body["customer"].(map[string]any)["video"] != false || mc.Body["agent"].(map[string]any)["video"] != true {
		t.Fatalf("camera off: %s", mc.raw)
	}
	m = d.mark()
	on := true
	if _, err := e.srv.Core.ChangeMedia(e.ctx, cust, wc.ID, core.MediaChange{Screen: &on}); err != nil {
		t.Fatal(err)
	}
	if mc := d.event(m, "interaction.mediachanged", ia); mc.str("media") != "screen" {
		t.Fatalf("screen: %s", mc.raw)
	}
	if st := d.event(m, "interaction.screensharestarted", ia); st.str("by") != "customer" {
		t.Fatalf("screensharestarted: %s", st.raw)
	}
	if ii := d.query("interaction.query.init", ia); ii.str("media") != "screen" {
		t.Fatalf("the interaction's media did not follow: %s", ii.raw)
	}
	m = d.mark()
	if _, err := e.srv.Core.ChangeMedia(e.ctx, core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: "a1", Via: core.ViaPhone},
		wc.ID, core.MediaChange{Media: "audio"}); core.Kind(err) != core.KindConflict {
		t.Fatalf("screen -> audio: %v", err)
	}
	off = false
	if _, err := e.srv.Core.ChangeMedia(e.ctx, cust, wc.ID, core.MediaChange{Screen: &off}); err != nil {
		t.Fatal(err)
	}
	if st := d.event(m, "interaction.screensharestopped", ia); st.str("by") != "customer" {
		t.Fatalf("screensharestopped: %s", st.raw)
	}
	// the refused transition raised nothing: the first media event after the mark is the stop's
	if mc := d.event(m, "interaction.mediachanged", ia); mc.str("media") != "video" {
		t.Fatalf("after the screen stopped: %s", mc.raw)
	}
}
