package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// Video over /rtc with real pion peers (docs/video.md): bad video input is refused with a clear
// error and changes nothing.

// offerWithVideo is an offer with PCMU audio and a VP8 video m-line from a pion client.
func offerWithVideo(t *testing.T) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

// TestRTCVideoBadInput: a video offer on an audio-only account (video: false) is refused
// conflict before any call exists; media naming video with an SDP without video is
// invalid_message; on an audio call the media frame is refused conflict; a malformed media
// frame is invalid_message. None of them starts or changes a call.
func TestRTCVideoBadInput(t *testing.T) {
	s := newRTCServer(t)
	ctx := context.Background()
	calls := func() int { return len(s.Core.Calls("demo", "")) }

	// audio-only account
	if _, err := s.Accounts.Update(ctx, "demo", []byte(`{"video":false}`)); err != nil {
		t.Fatal(err)
	}
	_, tok := s.customerToken(t, "https://shop.example")
	c, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	c.expect("welcome", nil)
	c.send(map[string]any{"type": "offer", "sdp": offerWithVideo(t), "media": []string{"audio", "video"}})
	if e := c.errorFrame(); e["code"] != "conflict" || !strings.Contains(e["message"].(string), "audio calls only") {
		t.Fatalf("video offer on an audio-only account: %v", e)
	}
	if n := calls(); n != 0 {
		t.Fatalf("%d calls after a refused video offer", n)
	}
	if _, err := s.Accounts.Update(ctx, "demo", []byte(`{"video":true}`)); err != nil {
		t.Fatal(err)
	}

	// media says video, the SDP has none (a fresh token: the socket above may start a call)
	_, tok = s.customerToken(t, "https://shop.example")
	c2, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	c2.expect("welcome", nil)
	audioOnly := newAudioOffer(t)
	c2.send(map[string]any{"type": "offer", "sdp": audioOnly, "media": []string{"audio", "video"}})
	if e := c2.errorFrame(); e["code"] != "invalid_message" || !strings.Contains(e["message"].(string), "no video m-line") {
		t.Fatalf("video media without a video m-line: %v", e)
	}
	if n := calls(); n != 0 {
		t.Fatalf("%d calls after a refused offer", n)
	}

	// an audio call: the media frame is refused, the call unchanged; malformed frames too
	_, tok = s.customerToken(t, "https://shop.example")
	c3, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	c3.expect("welcome", nil)
	c3.negotiate(map[string]any{"media": []string{"audio"}})
	id := c3.expect("call", nil)["call_id"].(string)
	c3.send(map[string]any{"type": "media", "request_id": "v1", "video": true})
	if e := c3.expect("error", func(m map[string]any) bool { return m["request_id"] == "v1" }); e["code"] != "conflict" || !strings.Contains(e["message"].(string), "audio call") {
		t.Fatalf("camera on an audio call: %v", e)
	}
	for raw, field := range map[string]string{
		`{"type":"media","request_id":"v2","video":"on"}`:       "video",
		`{"type":"media","request_id":"v3","media":"hologram"}`: "media",
		`{"type":"media","request_id":"v4","camera":true}`:      "camera",
	} {
		c3.sendRaw(raw)
		e := c3.errorFrame()
		det, _ := e["details"].([]any)
		if e["code"] != "invalid_message" || len(det) == 0 || det[0].(map[string]any)["field"] != field {
			t.Fatalf("%s: %v", raw, e)
		}
	}
	c3.send(map[string]any{"type": "media", "request_id": "v5", "call_id": "c-other", "video": true})
	if e := c3.expect("error", func(m map[string]any) bool { return m["request_id"] == "v5" }); e["code"] != "forbidden" {
		t.Fatalf("a customer naming another call: %v", e)
	}
	v, err := s.Core.Call("demo", id)
	if err != nil || v.MediaState != nil || strings.Join(v.Media, ",") != "audio" {
		t.Fatalf("the audio call changed: %+v, %v", v, err)
	}
}

// newAudioOffer is a PCMU-only offer.
func newAudioOffer(t *testing.T) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}
