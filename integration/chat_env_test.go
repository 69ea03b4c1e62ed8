package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// chatEnv is a real server with the demo account, an agent phone (agent1, ready), a vox room
// client and the means to open customer chats (docs/chat.md).
type chatEnv struct {
	*rtcServer
	vox   *voxServer
	phone *sig
	room  *voxClient
	integ string // an integrator token (REST, vox)
}

const shopOrigin = "https://shop.example"

func newChatEnv(t *testing.T, settings string) *chatEnv {
	t.Helper()
	s := newRTCServer(t)
	if settings != "" {
		if _, err := s.Accounts.Update(context.Background(), "demo", []byte(settings)); err != nil {
			t.Fatal(err)
		}
	}
	e := &chatEnv{rtcServer: s, vox: &voxServer{Server: s.Server, URL: s.URL, client: &http.Client{Transport: &http.Transport{}}, reg: s.Schemas}}
	t.Cleanup(e.vox.client.CloseIdleConnections)
	m, err := s.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: auth.RoleIntegrator, Subject: "chat-test"})
	if err != nil {
		t.Fatal(err)
	}
	e.integ = m.Token
	e.room = e.vox.connect(t, "demo", m.ID, m.Token, -1)
	e.phone = e.agentPhone(t, "agent1")
	return e
}

// agentPhone connects uid's phone with a granted microphone and sets it ready.
func (e *chatEnv) agentPhone(t *testing.T, uid string) *sig {
	t.Helper()
	p, _, err := e.dial(t, e.token(t, auth.RoleAgent, uid), "")
	if err != nil {
		t.Fatal(err)
	}
	p.expect("welcome", nil)
	p.expect("snapshot", nil)
	p.negotiate(map[string]any{"mic": true})
	p.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	p.result("ready-"+uid, "ready", nil)
	return p
}

// chatToken asks the public endpoint for a chat token as a browser on shopOrigin.
func (e *chatEnv) chatToken(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/webcall/demo/token", strings.NewReader(body))
	req.Header.Set("Origin", shopOrigin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = jsonDecode(res, &m)
	return res.StatusCode, m
}

// customer opens a chat as name and returns its connection and chat id.
func (e *chatEnv) customer(t *testing.T, name string) (*sig, string) {
	t.Helper()
	code, m := e.chatToken(t, `{"kind":"chat"}`)
	if code != 201 || m["kind"] != "chat" {
		t.Fatalf("chat token: %d %v", code, m)
	}
	c, _, err := e.dial(t, m["token"].(string), shopOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.expect("welcome", nil)
	c.send(map[string]any{"type": "chat_start", "display_name": name})
	st := c.expect("chat_state", nil)
	if st["state"] != "queued" || st["queue"] != "support" {
		t.Fatalf("chat_state after chat_start: %v", st)
	}
	return c, st["chat_id"].(string)
}

// accept waits for the offer of chatID at the agent's connection and accepts it.
func acceptChat(t *testing.T, p *sig, uid, chatID string) map[string]any {
	t.Helper()
	p.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		d := ev["data"].(map[string]any)
		return ev["event"] == "chat_started" && d["chat_id"] == chatID && d["user_id"] == uid
	})
	return p.result("acc-"+chatID, "chat_accept", map[string]any{"chat_id": chatID})
}

// chatMessage waits for the chat_message frame of chatID matching text.
func chatMessage(c *sig, chatID, text string) map[string]any {
	c.t.Helper()
	return c.expect("chat_message", func(m map[string]any) bool { return m["chat_id"] == chatID && (text == "" || m["text"] == text) })
}

// chatError waits for the next error frame about chatID.
func chatError(c *sig, code string) map[string]any {
	c.t.Helper()
	f := c.expect("error", nil)
	if f["code"] != code {
		c.t.Fatalf("error %v, want %s", f, code)
	}
	return f
}

// roomEvent reads vox frames until the event name of chatID arrives (checking each event).
func (e *chatEnv) roomEvent(t *testing.T, name, chatID string) frame {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		f := e.room.next(20 * time.Second)
		if f.Seq == 0 {
			continue
		}
		e.vox.checkEvent(t, f)
		if f.Event == name && strings.Contains(string(f.Data), `"chat_id":"`+chatID+`"`) {
			return f
		}
	}
	t.Fatalf("no %s for %s on the vox room", name, chatID)
	return frame{}
}

// nextFrame returns the connection's next frame of any type, failing after 10 s.
func nextFrame(c *sig) map[string]any {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed (%d)", c.code)
		}
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame")
	}
	return nil
}
