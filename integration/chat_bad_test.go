package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestChatBadInput: oversized and malformed chat messages, messages to a chat one is not part
// of, a chat start on a call token (and an offer on a chat token), a bad token body, and a flood
// of messages: each gets a clear error naming the chat and the message, the connection stays,
// and nothing is stored.
func TestChatBadInput(t *testing.T) {
	e := newChatEnv(t, `{"wrap_up_seconds":0}`)
	if code, m := e.chatToken(t, `{"kind":"video"}`); code != 400 || !strings.Contains(fmt.Sprint(m["detail"]), "kind") {
		t.Fatalf("token kind video: %d %v", code, m)
	}
	cust, id := e.customer(t, "Ada")
	other, otherID := e.customer(t, "Eve")
	acceptChat(t, e.phone, "agent1", id)
	cust.expect("chat_state", nil)
	chatMessage(cust, id, "") // join message

	bad := []struct {
		name  string
		frame string
		code  string
		says  string
	}{
		{"over 4096 characters", `{"type":"chat","chat_id":"` + id + `","text":"` + strings.Repeat("x", 4097) + `","client_msg_id":"b1"}`, "invalid_message", "text"},
		{"over 4 KiB of UTF-8", `{"type":"chat","chat_id":"` + id + `","text":"` + strings.Repeat("é", 2049) + `","client_msg_id":"b2"}`, "invalid_message", "4096 bytes"},
		{"blank", `{"type":"chat","chat_id":"` + id + `","text":"  ","client_msg_id":"b3"}`, "invalid_message", "blank"},
		{"no client_msg_id", `{"type":"chat","chat_id":"` + id + `","text":"hi"}`, "invalid_message", "client_msg_id"},
		{"text not a string", `{"type":"chat","chat_id":"` + id + `","text":5,"client_msg_id":"b5"}`, "invalid_message", "text"},
		{"not JSON", `{"type":"chat",`, "invalid_json", ""},
		{"another chat", `{"type":"chat","chat_id":"` + otherID + `","text":"hi","client_msg_id":"b7"}`, "forbidden", "not part of chat"},
		{"unknown chat", `{"type":"chat","chat_id":"hnope","text":"hi","client_msg_id":"b8"}`, "not_found", "chat hnope"},
		{"second chat_start", `{"type":"chat_start","display_name":"again"}`, "out_of_order", "already has a chat"},
		{"ack of a message not sent", `{"type":"chat_delivered","chat_id":"` + id + `","msg_seq":99}`, "invalid_message", "does not exist"},
	}
	for _, b := range bad {
		cust.sendRaw(b.frame)
		f := chatError(cust, b.code)
		if !strings.Contains(fmt.Sprint(f["message"]), b.says) {
			t.Errorf("%s: %v", b.name, f)
		}
		if strings.HasPrefix(b.name, "over") && f["client_msg_id"] == nil {
			t.Errorf("%s: the error does not name the message: %v", b.name, f)
		}
	}
	// an agent who does not hold the chat, and a call token starting a chat
	a2 := e.agentPhone(t, "agent2")
	a2.send(map[string]any{"type": "chat", "chat_id": id, "text": "let me in", "client_msg_id": "x1"})
	if f := chatError(a2, "forbidden"); f["chat_id"] != id {
		t.Fatalf("agent2's error: %v", f)
	}
	_, tok := e.customerToken(t, shopOrigin)
	caller, _, err := e.dial(t, tok, shopOrigin)
	if err != nil {
		t.Fatal(err)
	}
	caller.expect("welcome", nil)
	caller.send(map[string]any{"type": "chat_start", "display_name": "x"})
	if f := chatError(caller, "forbidden"); !strings.Contains(f["message"].(string), "kind") {
		t.Fatalf("chat_start on a call token: %v", f)
	}

	// a flood: the chat's burst passes, the rest is refused rate_limited (the connection stays)
	start := time.Now()
	sent, refused := 0, 0
	for i := 0; i < 20; i++ { // with the frames above, within the connection's burst of 40 frames
		cust.send(map[string]any{"type": "chat", "chat_id": id, "text": fmt.Sprintf("flood %d", i), "client_msg_id": fmt.Sprintf("f%d", i)})
	}
	for sent+refused < 20 {
		f := nextFrame(cust)
		switch {
		case f["type"] == "chat_message" && strings.HasPrefix(fmt.Sprint(f["text"]), "flood"):
			sent++
		case f["type"] == "error" && f["code"] == "rate_limited" && f["chat_id"] == id:
			refused++
		case f["type"] == "error":
			t.Fatalf("flood: %v", f)
		}
	}
	// some must be refused unless the machine was so slow that the refill covered them all
	allowed := 10 + int(5*time.Since(start).Seconds()) + 1
	if sent > allowed || (refused == 0 && allowed < 20) {
		t.Fatalf("flood: %d stored, %d refused (at most %d may pass)", sent, refused, allowed)
	}
	// still usable, and nothing refused was stored
	cust.send(map[string]any{"type": "chat_end", "chat_id": id})
	<-cust.done
	other.send(map[string]any{"type": "chat_end", "chat_id": otherID})
	<-other.done
	code, rec := e.vox.rest(t, "GET", "/api/v1/chats/"+id, e.integ, "")
	if code != 200 || len(rec["messages"].([]any)) != 1+sent {
		t.Fatalf("stored: %d messages, want %d (join + %d flood)", len(rec["messages"].([]any)), 1+sent, sent)
	}
}
