package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestChatOverRTC is the chat through real WebSockets: a customer opens a chat with a chat token,
// it is offered to the ready agent's phone, accepted; messages go customer -> agent -> customer
// in order (HTML kept as text), typing and delivery signals cross, the vox room sees every chat
// event, the customer ends it, and REST shows the stored chat with its messages in order.
func TestChatOverRTC(t *testing.T) {
	e := newChatEnv(t, `{"wrap_up_seconds":0}`)
	cust, id := e.customer(t, "Ada")
	e.roomEvent(t, "chat_started", id)
	acc, agentJoin := acceptChatWithJoin(t, e.phone, "agent1", id)
	if d := acc["data"].(map[string]any); d["state"] != "active" || d["user_id"] != "agent1" {
		t.Fatalf("chat_accept result: %v", d)
	}
	if st := cust.expect("chat_state", nil); st["state"] != "active" || st["user_id"] != "agent1" {
		t.Fatalf("customer chat_state after accept: %v", st)
	}
	if j := chatMessage(cust, id, ""); j["from"] != "system" || !strings.Contains(j["text"].(string), "joined") {
		t.Fatalf("join message: %v", j)
	}
	if agentJoin["from"] != "system" { // the agent sees the join message too
		t.Fatalf("agent's join message: %v", agentJoin)
	}

	texts := []string{"<script>alert(1)</script>", "second", "third & <b>last</b>"}
	for i, tx := range texts {
		cust.send(map[string]any{"type": "chat", "chat_id": id, "text": tx, "client_msg_id": fmt.Sprintf("c%d", i)})
	}
	for i, tx := range texts {
		m := chatMessage(e.phone, id, "")
		if m["text"] != tx || m["from"] != "customer" || m["msg_seq"] != float64(i+2) || m["seq"] == nil {
			t.Fatalf("agent got message %d: %v, want %q", i, m, tx)
		}
		if err := e.Schemas.Validate("rtc/server_chat_message", []byte(mustJSON(m))); err != nil {
			t.Fatalf("agent chat_message frame: %v", err)
		}
		own := chatMessage(cust, id, "")
		if own["text"] != tx || own["client_msg_id"] != fmt.Sprintf("c%d", i) {
			t.Fatalf("customer's own copy %d: %v", i, own)
		}
	}
	e.phone.send(map[string]any{"type": "chat", "chat_id": id, "text": "Hello Ada", "client_msg_id": "a1"})
	m := chatMessage(cust, id, "Hello Ada")
	if m["from"] != "agent" || m["user_id"] != "agent1" || m["msg_seq"] != 5.0 {
		t.Fatalf("customer got %v", m)
	}
	if err := e.Schemas.Validate("rtc/server_chat_message", []byte(mustJSON(m))); err != nil {
		t.Fatalf("customer chat_message frame: %v", err)
	}

	// typing and delivery acknowledgements cross to the other side
	cust.send(map[string]any{"type": "chat_typing", "chat_id": id, "typing": true})
	if ty := e.phone.expect("chat_typing", nil); ty["from"] != "customer" || ty["typing"] != true || ty["chat_id"] != id {
		t.Fatalf("agent chat_typing: %v", ty)
	}
	e.phone.send(map[string]any{"type": "chat_delivered", "chat_id": id, "msg_seq": 4})
	dl := cust.expect("chat_delivered", nil)
	if dl["by"] != "agent" || dl["msg_seq"] != 4.0 {
		t.Fatalf("customer chat_delivered: %v", dl)
	}
	for name, f := range map[string]map[string]any{"rtc/server_chat_delivered": dl} {
		if err := e.Schemas.Validate(name, []byte(mustJSON(f))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	// the vox room: every message in order, then the end
	for _, want := range append([]string{"joined"}, append(texts, "Hello Ada")...) {
		f := e.roomEvent(t, "chat_message", id)
		var d struct{ Text string }
		_ = json.Unmarshal(f.Data, &d)
		if !strings.Contains(d.Text, want) {
			t.Fatalf("vox chat_message %s, want %q", f.Data, want)
		}
	}
	cust.send(map[string]any{"type": "chat_end", "chat_id": id})
	if st := cust.expect("chat_state", nil); st["state"] != "ended" || st["ended_by"] != "customer" {
		t.Fatalf("customer chat_state at the end: %v", st)
	}
	<-cust.done
	if cust.code != 4000 {
		t.Fatalf("customer socket closed with %d, want 4000", cust.code)
	}
	e.phone.expect("event", eventNamed("chat_ended"))
	e.roomEvent(t, "chat_ended", id)

	// stored, readable over REST
	code, rec := e.vox.rest(t, "GET", "/api/v1/chats/"+id, e.integ, "")
	if code != 200 {
		t.Fatalf("GET chat: %d %v", code, rec)
	}
	if err := e.Schemas.Validate("rest/chat", []byte(mustJSON(rec))); err != nil {
		t.Fatalf("chat record: %v", err)
	}
	msgs := rec["messages"].([]any)
	want := append([]string{"joined"}, append(texts, "Hello Ada")...)
	if len(msgs) != len(want) || rec["user_id"] != "agent1" || rec["ended_at"] == nil || rec["display_name"] != "Ada" {
		t.Fatalf("chat record: %v", rec)
	}
	for i, w := range want {
		if mm := msgs[i].(map[string]any); i == 0 && !strings.HasSuffix(mm["text"].(string), "joined the chat") || i > 0 && mm["text"] != w {
			t.Fatalf("stored message %d: %v, want %q", i, mm, w)
		}
	}
	code, page := e.vox.rest(t, "GET", "/api/v1/chats?user_id=agent1&limit=10", e.integ, "")
	if err := e.Schemas.Validate("rest/chats", []byte(mustJSON(page))); code != 200 || err != nil || len(page["chats"].([]any)) != 1 {
		t.Fatalf("GET chats: %d %v %v", code, err, page)
	}
}

// acceptChatWithJoin accepts chatID at p and returns the command's result and the system "joined"
// message the agent receives, in whichever order the two frames arrive (the message may come
// before the result: both follow from the same accept).
func acceptChatWithJoin(t *testing.T, p *sig, uid, chatID string) (result, join map[string]any) {
	t.Helper()
	p.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		d := ev["data"].(map[string]any)
		return ev["event"] == "chat_started" && d["chat_id"] == chatID && d["user_id"] == uid
	})
	p.send(map[string]any{"type": "command", "request_id": "acc-" + chatID, "command": "chat_accept", "chat_id": chatID})
	for result == nil || join == nil {
		m := nextFrame(p)
		switch {
		case m["request_id"] == "acc-"+chatID:
			if m["type"] != "result" {
				t.Fatalf("chat_accept: %v", m)
			}
			result = m
		case m["type"] == "chat_message" && m["chat_id"] == chatID:
			join = m
		}
	}
	return result, join
}
