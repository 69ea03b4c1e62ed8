package integration

import (
	"testing"
)

// TestChatScreenShareOverRTC (issue 12 item 4, seed 001): during an accepted chat the customer
// offers media ["screen"] on its chat connection: the agent's phone is told (call_connected,
// screen_share_started with the chat, media_changed with the customer's screen on, its camera and
// the agent's video off), the vox room sees screen_share_started; the customer is told the share
// started; the agent's camera comes on only when the agent turns it on (the customer gets
// media_changed); an offer before an agent accepted, or naming no screen, is refused; media
// screen:false ends the share (screen_share ended) and the chat goes on. Frames are checked
// against their schemas.
func TestChatScreenShareOverRTC(t *testing.T) {
	e := newChatEnv(t, `{"wrap_up_seconds":0}`)
	cust, id := e.customer(t, "Ada")
	cust.send(map[string]any{"type": "offer", "sdp": offerWithVideo(t), "media": []string{"screen"}})
	if f := cust.errorFrame(); f["code"] != "conflict" {
		t.Fatalf("a share before an agent accepted: %v", f)
	}
	acceptChat(t, e.phone, "agent1", id)
	cust.expect("chat_state", func(m map[string]any) bool { return m["state"] == "active" })
	cust.send(map[string]any{"type": "offer", "sdp": offerWithVideo(t), "media": []string{"audio"}})
	if f := cust.errorFrame(); f["code"] != "forbidden" {
		t.Fatalf("an offer on a chat naming no screen: %v", f)
	}

	cust.send(map[string]any{"type": "offer", "sdp": offerWithVideo(t), "media": []string{"screen"}})
	cust.expect("answer", nil)
	st := cust.expect("screen_share", nil)
	callID, _ := st["call_id"].(string)
	if st["state"] != "started" || st["chat_id"] != id || callID == "" {
		t.Fatalf("screen_share at the customer: %v", st)
	}
	if err := e.Schemas.Validate("rtc/server_screen_share", []byte(mustJSON(st))); err != nil {
		t.Fatal(err)
	}
	e.phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "call_connected" && ev["data"].(map[string]any)["call_id"] == callID
	})
	ss := e.phone.expect("event", eventNamed("screen_share_started"))["event"].(map[string]any)["data"].(map[string]any)
	if ss["chat_id"] != id || ss["call_id"] != callID || ss["by"] != "customer" {
		t.Fatalf("screen_share_started at the agent: %v", ss)
	}
	mc := e.phone.expect("event", eventNamed("media_changed"))["event"].(map[string]any)["data"].(map[string]any)
	c, a := mc["customer"].(map[string]any), mc["agent"].(map[string]any)
	if mc["media"] != "screen" || c["screen"] != true || c["video"] != false || a["video"] != false || a["screen"] != false {
		t.Fatalf("media_changed at the agent: %v", mc)
	}
	e.roomEvent(t, "screen_share_started", id)

	// the agent turns its camera on (seed 001: only then): the customer is told
	e.phone.send(map[string]any{"type": "media", "request_id": "cam", "call_id": callID, "video": true})
	e.phone.expect("result", func(m map[string]any) bool { return m["request_id"] == "cam" })
	first := cust.expect("media_changed", nil) // the share's start: the agent's video off
	if first["agent"].(map[string]any)["video"] != false {
		t.Fatalf("first media_changed at the customer: %v", first)
	}
	cm := cust.expect("media_changed", nil)
	if cm["call_id"] != callID || cm["agent"].(map[string]any)["video"] != true || cm["customer"].(map[string]any)["screen"] != true {
		t.Fatalf("media_changed at the customer: %v", cm)
	}
	if err := e.Schemas.Validate("rtc/server_media_changed", []byte(mustJSON(cm))); err != nil {
		t.Fatal(err)
	}

	// the customer stops sharing: the share ends, the chat goes on
	cust.send(map[string]any{"type": "media", "request_id": "stop", "screen": false})
	if f := cust.expect("screen_share", nil); f["state"] != "ended" || f["call_id"] != callID {
		t.Fatalf("screen_share at the end: %v", f)
	} else if err := e.Schemas.Validate("rtc/server_screen_share", []byte(mustJSON(f))); err != nil {
		t.Fatal(err)
	}
	e.phone.expect("event", eventNamed("call_disconnected"))
	cust.send(map[string]any{"type": "chat", "chat_id": id, "text": "thanks", "client_msg_id": "after"})
	chatMessage(e.phone, id, "thanks")
}
