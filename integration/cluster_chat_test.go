package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestClusterChat: chats in cluster mode (docs/cluster.md "Chats"). A customer chats over /rtc
// with an agent on the owner of the account, messages both ways, the agent ends it; the chat
// and its messages are in PostgreSQL (projected by the owner after the append), so GET
// /api/v1/chats and /api/v1/chats/{id} through every node return it with every message in order.
func TestClusterChat(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	admin := c.mint("--account", "acme", "--role", "admin")
	integ := c.mint("--account", "acme", "--role", "integrator")
	phone, cust, id := c.acceptedChat(owner, admin)
	texts := []string{"hello", "<b>second</b>"}
	for i, tx := range texts {
		cust.send(map[string]any{"type": "chat", "chat_id": id, "text": tx, "client_msg_id": "c" + string(rune('0'+i))})
		chatMessage(phone, id, tx)
	}
	phone.send(map[string]any{"type": "chat", "chat_id": id, "text": "Hello Ada", "client_msg_id": "a1"})
	chatMessage(cust, id, "Hello Ada")
	// The agent ends it: the command's result comes after the projection (an event may reach a
	// subscriber of the owner through its feed a moment before: docs/cluster.md "Chats").
	phone.result("end-"+id, "chat_end", map[string]any{"chat_id": id})

	want := append(append([]string{"joined the chat"}, texts...), "Hello Ada")
	for _, nd := range c.nodes {
		code, _, b := rest(t, "GET", nd.proc.base+"/api/v1/chats/"+id, integ, "")
		var rec struct {
			State    string `json:"state"`
			Messages []struct{ Text, From string }
		}
		_ = json.Unmarshal(b, &rec)
		var got []string
		for _, m := range rec.Messages {
			got = append(got, m.Text)
		}
		if code != 200 || len(got) != len(want) || !strings.HasSuffix(got[0], want[0]) ||
			strings.Join(got[1:], "|") != strings.Join(want[1:], "|") || rec.State != "ended" {
			t.Fatalf("GET chat through %s: %d %s (want messages %q)", nd.id, code, b, want)
		}
		code, _, b = rest(t, "GET", nd.proc.base+"/api/v1/chats?limit=10", integ, "")
		if code != 200 || !strings.Contains(string(b), `"chat_id":"`+id+`"`) {
			t.Fatalf("GET chats through %s: %d %s", nd.id, code, b)
		}
	}
}

// clusterChatToken asks base's public endpoint for a chat token of acct as a page on shopOrigin.
func clusterChatToken(t *testing.T, base, acct string) string {
	t.Helper()
	code, m := publicChatToken(t, base, acct, shopOrigin)
	tok, _ := m["token"].(string)
	if code != 201 || tok == "" {
		t.Fatalf("chat token from %s: %d %v", base, code, m)
	}
	return tok
}

// publicChatToken posts {"kind":"chat"} to base's /webcall/{acct}/token with Origin origin.
func publicChatToken(t *testing.T, base, acct, origin string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/webcall/"+acct+"/token", strings.NewReader(`{"kind":"chat"}`))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestClusterChatOwnerKilledBeforeProjection: a chat message whose projection the owner could not
// write (PostgreSQL refuses it: chat_messages renamed away by the database itself) when the owner
// is killed (kill -9, its background retry gone with it). The message is in the stream; the
// survivor that takes the account over projects it from the log, once: GET /api/v1/chats/{id}
// through the survivors shows every message, none twice.
func TestClusterChatOwnerKilledBeforeProjection(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	admin := c.mint("--account", "acme", "--role", "admin")
	integ := c.mint("--account", "acme", "--role", "integrator")
	phone, cust, id := c.acceptedChat(owner, admin)
	cust.send(map[string]any{"type": "chat", "chat_id": id, "text": "one", "client_msg_id": "c1"})
	chatMessage(phone, id, "one")

	ctx := context.Background()
	db, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `ALTER TABLE chat_messages RENAME TO chat_messages_away`); err != nil {
		t.Fatal(err)
	}
	cust.send(map[string]any{"type": "chat", "chat_id": id, "text": "two", "client_msg_id": "c2"})
	chatMessage(phone, id, "two") // appended: the agent has it
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(owner.stderr.String(), "chat projection failed"); {
		if time.Now().After(deadline) {
			t.Fatal("the owner never failed to project the message")
		}
		time.Sleep(20 * time.Millisecond)
	}
	owner.proc.kill()
	if _, err := db.Exec(ctx, `ALTER TABLE chat_messages_away RENAME TO chat_messages`); err != nil {
		t.Fatal(err)
	}
	survivors := c.others(owner)
	c.owner("acme", 2, time.Minute, survivors...)
	for _, nd := range survivors {
		var texts []string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			code, b := restUntilServed(t, "GET", nd.proc.base+"/api/v1/chats/"+id, integ)
			var rec struct{ Messages []struct{ Text string } }
			_ = json.Unmarshal(b, &rec)
			texts = texts[:0]
			for _, m := range rec.Messages {
				texts = append(texts, m.Text)
			}
			if code == 200 && len(texts) == 3 || time.Now().After(deadline) {
				break
			}
		}
		if len(texts) != 3 || texts[1] != "one" || texts[2] != "two" {
			t.Fatalf("messages through %s after the takeover: %q", nd.id, texts)
		}
	}
}

// acceptedChat sets acme up for chats on owner (origins, agent1 in support, ready on its phone)
// and returns the agent's phone, a customer's connection and their accepted chat's id.
func (c *testCluster) acceptedChat(owner *clusterNode, admin string) (phone, cust *sig, id string) {
	t := c.t
	t.Helper()
	if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/settings", admin,
		`{"allowed_origins":["`+shopOrigin+`"],"wrap_up_seconds":0}`); code != 200 {
		t.Fatalf("PUT settings: %d %s", code, b)
	}
	if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/users/agent1", admin,
		`{"name":"Agent One","extension":"101","queues":["support"]}`); code/100 != 2 {
		t.Fatalf("PUT user: %d %s", code, b)
	}
	srv := &rtcServer{URL: owner.proc.base}
	phone, _, err := srv.dial(t, c.mint("--account", "acme", "--role", "agent", "--user", "agent1"), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.expect("snapshot", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("ready-agent1", "ready", nil)
	cust, _, err = srv.dial(t, clusterChatToken(t, owner.proc.base, "acme"), shopOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.send(map[string]any{"type": "chat_start", "display_name": "Ada"})
	st := cust.expect("chat_state", nil)
	id, _ = st["chat_id"].(string)
	if st["state"] != "queued" || id == "" {
		t.Fatalf("chat_state after chat_start: %v", st)
	}
	acceptChatWithJoin(t, phone, "agent1", id)
	return phone, cust, id
}
