package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// An agent's /rtc stream carries the other agents' status changes of its own account as
// presence frames (schema rtc/server_presence), and a directory_changed hint when a call it is
// not on arrives; an agent of another account receives neither; an agent's own status still
// comes as its status_changed event, not as presence.
func TestRTCPresenceFramesStayInTheAccount(t *testing.T) {
	s := newRTCServer(t)
	ctx := context.Background()
	if _, err := s.Accounts.Create(ctx, "other", "full"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.PutUser(ctx, store.User{Account: "other", ID: "x1", Name: "X One"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Auth.Mint(ctx, auth.MintRequest{Account: "other", Role: auth.RoleAgent, Subject: "x1"})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(tok string) *sig {
		c, _, err := s.dial(t, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		c.expect("welcome", nil)
		c.expect("snapshot", nil)
		return c
	}
	a1, x1 := connect(s.token(t, auth.RoleAgent, "agent1")), connect(m.Token)
	a2 := connect(s.token(t, auth.RoleAgent, "agent2"))

	a2.send(map[string]any{"type": "command", "request_id": "nr", "command": "notready", "reason": "lunch"})
	// agent2 came online when it connected, then went not ready.
	p := a1.expect("presence", func(f map[string]any) bool { return f["user_id"] == "agent2" && f["status"] != "online" })
	if p["status"] != "dnd" || p["reason"] != "lunch" {
		t.Fatalf("presence %v", p)
	}
	validFrame(t, s, "rtc/server_presence", p)
	// agent2 hears of its own change as its status_changed event, and of no presence of itself.
	expectOwnStatus(t, a2, "agent2", "dnd")

	// A caller arrives (no agent is ready): agent1, not on the call, gets a hint.
	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada"})
	validFrame(t, s, "rtc/server_directory_changed", a1.expect("directory_changed", nil))

	// The other account's agent: its own command round trip, and nothing of demo's on the way.
	x1.send(map[string]any{"type": "command", "request_id": "on", "command": "notready", "reason": "x"})
	for f := range framesUntil(t, x1, "on") {
		if f["type"] == "presence" || f["type"] == "directory_changed" {
			t.Fatalf("an agent of another account got %v", f)
		}
	}
}

// expectOwnStatus waits for c's own status_changed to status, failing on a presence of itself.
func expectOwnStatus(t *testing.T, c *sig, user, status string) {
	t.Helper()
	for f := range framesUntil(t, c, "") {
		if f["type"] == "presence" && f["user_id"] == user {
			t.Fatalf("%s got presence of itself: %v", user, f)
		}
		if ev, ok := f["event"].(map[string]any); ok && ev["event"] == "status_changed" &&
			ev["data"].(map[string]any)["status"] == status {
			return
		}
	}
}

// framesUntil yields c's frames until the one answering requestID (or, for "", until the
// caller stops), failing after 10 s.
func framesUntil(t *testing.T, c *sig, requestID string) func(yield func(map[string]any) bool) {
	return func(yield func(map[string]any) bool) {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case f, ok := <-c.in:
				if !ok {
					t.Fatal("connection closed")
				}
				if requestID != "" && f["request_id"] == requestID {
					return
				}
				if !yield(f) {
					return
				}
			case <-deadline:
				t.Fatal("no frame in 10 s")
			}
		}
	}
}

func validFrame(t *testing.T, s *rtcServer, schema string, f map[string]any) {
	t.Helper()
	b, _ := json.Marshal(f)
	if err := s.Schemas.Validate(schema, b); err != nil {
		t.Fatalf("%s: %v: %s", schema, err, b)
	}
}
