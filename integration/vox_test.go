package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// TestVoxURLChecks: every refusal happens before the upgrade, with the status of PROTOCOLS.md
// section 2 (401 for the token itself, 403 for a token that does not fit the URL), the Origin
// policy, and the per-account connection cap.
func TestVoxURLChecks(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	ctx := context.Background()
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	other, otherID := s.mint(t, "globex", auth.RoleIntegrator, "crm")
	agentTok, agentID := s.mint(t, "acme", auth.RoleAgent, "bob")
	custTok, custID := s.mint(t, "acme", auth.RoleCustomer, "web")
	adminTok, adminID := s.mint(t, "acme", auth.RoleAdmin, "ops")
	revoked, revokedID := s.mint(t, "acme", auth.RoleIntegrator, "old")
	if err := s.Auth.Revoke(ctx, "acme", revokedID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(acct string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": "cti-adapter", "aud": "cti-adapter", "iat": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix(),
			"jti": "forged-1", "acct": acct, "role": "integrator", "sub": "crm"}
	}
	expired := forge(t, claims("acme", now.Add(-time.Hour)))
	ghost := forge(t, claims("nosuch", now.Add(time.Hour)))
	wrongKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("acme", now.Add(time.Hour))).SignedString([]byte(strings.Repeat("k", 40)))
	base := "ws" + strings.TrimPrefix(s.URL, "http") + "/"

	for _, tc := range []struct {
		name   string
		url    string
		origin string
		status int
	}{
		{"no token", base + "acme-" + md5Hex(jti), "", 401},
		{"garbage token", base + "acme-" + md5Hex(jti) + "?access_token=garbage", "", 401},
		{"wrong signature", base + "acme-" + md5Hex("forged-1") + "?access_token=" + wrongKey, "", 401},
		{"expired", base + "acme-" + md5Hex("forged-1") + "?access_token=" + expired, "", 401},
		{"revoked", s.roomURL("acme", revokedID, revoked), "", 401},
		{"unknown account", s.roomURL("nosuch", "forged-1", ghost), "", 401},
		{"token of another account", s.roomURL("acme", otherID, other), "", 403},
		{"md5 of another jti", s.roomURL("acme", otherID, tok), "", 403},
		{"md5 in upper case", base + "acme-" + strings.ToUpper(md5Hex(jti)) + "?access_token=" + tok, "", 403},
		{"agent token", s.roomURL("acme", agentID, agentTok), "", 403},
		{"customer token", s.roomURL("acme", custID, custTok), "", 403},
		{"foreign Origin", s.roomURL("acme", jti, tok), "https://evil.example", 403},
		{"Origin null", s.roomURL("acme", jti, tok), "null", 403},
		{"not a room", base + "acme-1234?access_token=" + tok, "", 404},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, res, err := s.dialRaw(ctx, tc.url, h)
		if err == nil {
			ws.CloseNow()
			t.Errorf("%s: upgraded", tc.name)
			continue
		}
		if res == nil || res.StatusCode != tc.status {
			t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.status)
			continue
		}
		if ct := res.Header.Get("Content-Type"); tc.status != 404 && ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}

	// Accepted: integrator and admin; no Origin (server-side), the same host, an allowed origin.
	if _, err := s.Accounts.Update(ctx, "acme", []byte(`{"allowed_origins":["https://crm.example.com"],"max_connections":3}`)); err != nil {
		t.Fatal(err)
	}
	var open []*websocket.Conn
	for _, tc := range []struct{ name, url, origin string }{
		{"integrator", s.roomURL("acme", jti, tok), ""},
		{"admin from an allowed origin", s.roomURL("acme", adminID, adminTok), "https://crm.example.com"},
		{"same host", s.roomURL("acme", jti, tok), s.URL},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, _, err := s.dialRaw(ctx, tc.url, h)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		open = append(open, ws)
	}
	// The cap: a fourth connection is refused with 429 before the upgrade; globex is not affected.
	_, res, err := s.dialRaw(ctx, s.roomURL("acme", jti, tok), nil)
	if err == nil || res == nil || res.StatusCode != 429 {
		t.Fatalf("over max_connections: %v %v", res, err)
	}
	var p struct{ Code, Detail string }
	_ = json.NewDecoder(res.Body).Decode(&p)
	if p.Code != "rate_limited" || !strings.Contains(p.Detail, "max_connections") {
		t.Fatalf("429 body %+v", p)
	}
	g, _, err := s.dialRaw(ctx, s.roomURL("globex", otherID, other), nil)
	if err != nil {
		t.Fatalf("globex refused while acme is full: %v", err)
	}
	open = append(open, g)
	// Closing one frees its slot (the count is released when the server has seen the close).
	open[0].Close(websocket.StatusNormalClosure, "")
	waitFor(t, 5*time.Second, "acme's slot to be released", func() bool {
		ws, _, err := s.dialRaw(ctx, s.roomURL("acme", jti, tok), nil)
		if err == nil {
			open = append(open, ws)
		}
		return err == nil
	})
	for _, ws := range open[1:] {
		ws.Close(websocket.StatusNormalClosure, "")
	}
}

// waitFor polls cond (a condition, not a sleep standing in for one) until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestVoxErrorCodes: each error code a client can provoke, each answered without closing the
// connection or changing anything; then the connection still works.
func TestVoxErrorCodes(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	c := s.dialVox(t, "acme", jti, tok)
	c.start()
	head := s.Hub.Head("acme")

	// Before connected.
	c.command("logout", "r0", map[string]any{"user_id": "bob"})
	c.expectError("not_connected", "r0")
	c.sendRaw(`{"hello":"world"}`)
	c.expectError("not_connected", "")
	c.sendRaw(`{"event":"connected"`)
	c.expectError("invalid_json", "")
	c.send(map[string]any{"event": "connected", "sender_id": "someone-else"})
	c.expectError("sender_mismatch", "")
	c.send(map[string]any{"event": "connected", "sender_id": c.senderID, "data": map[string]any{"resume_from": "1"}})
	if d := c.expectError("invalid_message", ""); len(d.Details) != 1 || d.Details[0].Field != "data.resume_from" {
		t.Fatalf("details %+v", d.Details)
	}
	c.sendConnected(-1)

	// After connected.
	c.sendConnected(-1)
	c.expectError("conflict", "")
	c.sendRaw(`[1,2]`)
	c.expectError("invalid_message", "")
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	c.expectError("invalid_message", "")
	c.send(map[string]any{"command": "logout", "sender_id": "nope", "request_id": "r1", "data": map[string]any{"user_id": "bob"}})
	c.expectError("sender_mismatch", "r1")
	c.command("dance", "r2", map[string]any{})
	c.expectError("unknown_command", "r2")
	c.command("make_call", "r3", map[string]any{"user_id": "no such", "phone": "", "colour": "red", "variables": map[string]any{"n": 1}})
	d := c.expectError("invalid_message", "r3")
	var fields []string
	for _, x := range d.Details {
		fields = append(fields, x.Field)
	}
	if strings.Join(fields, " ") != "data.colour data.phone data.user_id data.variables.n" {
		t.Fatalf("details %+v", d.Details)
	}
	c.send(map[string]any{"command": "logout", "sender_id": c.senderID, "data": map[string]any{"user_id": "bob"}})
	if d := c.expectError("invalid_message", ""); d.Details[0].Field != "request_id" {
		t.Fatalf("details %+v", d.Details)
	}
	c.command("make_call", "r4", map[string]any{"user_id": "nobody", "phone": "+15550100"})
	c.expectError("not_found", "r4")
	c.command("make_call", "r5", map[string]any{"user_id": "bob", "phone": "+15550100"})
	if d := c.expectError("conflict", "r5"); !strings.Contains(d.Message, "offline") {
		t.Fatalf("conflict message %q", d.Message)
	}
	c.command("set_variables", "r6", map[string]any{"call_id": "c-nope", "variables": map[string]any{"a": "b"}})
	c.expectError("not_found", "r6")
	c.command("logout", "r7", map[string]any{"user_id": "alice"})
	c.expectError("conflict", "r7")
	c.command("logout", "r8", map[string]any{"user_id": "ghost"})
	c.expectError("not_found", "r8")

	if h := s.Hub.Head("acme"); h != head {
		t.Fatalf("bad frames changed state: head %d -> %d", head, h)
	}

	// rate_limited: a burst beyond 40 frames is refused frame by frame, the connection kept.
	const burst = 60
	var b strings.Builder
	for i := 0; i < burst; i++ {
		fmt.Fprintf(&b, `{"command":"logout","sender_id":%q,"request_id":"b%d","data":{"user_id":"ghost"}}`+"\n", c.senderID, i)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		c.sendRaw(line)
	}
	limited := 0
	for i := 0; i < burst; i++ {
		f := c.next(10 * time.Second)
		switch code := f.errorData().Code; code {
		case "rate_limited":
			limited++
		case "not_found":
		default:
			t.Fatalf("burst frame answered %s", f)
		}
	}
	// The bucket holds 40 and refills 20/s; the frames before the burst took some of it.
	if passed := burst - limited; limited == 0 || passed > 42 {
		t.Fatalf("%d of %d frames rate limited", limited, burst)
	}

	// Still connected and working: a real command succeeds.
	if _, err := s.Core.Login(context.Background(), core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: "bob", Via: core.ViaDesktop}, core.KindDesktop); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the bucket to refill", func() bool {
		c.command("logout", "ok", map[string]any{"user_id": "bob"})
		f := c.reply("ok")
		return f.Event == "command_result"
	})

	// A frame over 64 KiB is answered invalid_message (a bad frame never closes the connection),
	// once the bucket has a token for it; the connection goes on.
	big := `{"command":"logout","sender_id":"` + c.senderID + `","request_id":"big","data":{"user_id":"` + strings.Repeat("x", 65<<10) + `"}}`
	waitFor(t, 5*time.Second, "the oversized frame to be answered invalid_message", func() bool {
		c.sendRaw(big)
		f := c.next(10 * time.Second)
		if f.Event != "error" {
			t.Fatalf("oversized frame answered %s", f)
		}
		switch d := f.errorData(); d.Code {
		case "rate_limited":
			time.Sleep(100 * time.Millisecond)
			return false
		case "invalid_message":
			if !strings.Contains(d.Message, "64 KiB") || f.RequestID != nil {
				t.Fatalf("oversized frame: %s", f)
			}
			return true
		default:
			t.Fatalf("oversized frame answered %s", f)
		}
		return false
	})
	waitFor(t, 5*time.Second, "a command answered after the oversized frame", func() bool {
		c.command("logout", "after-big", map[string]any{"user_id": "ghost"})
		if c.reply("after-big").errorData().Code == "not_found" {
			return true
		}
		time.Sleep(100 * time.Millisecond) // rate_limited: let the bucket refill
		return false
	})

	// Only a frame beyond the 1 MiB hard limit closes the connection, with 1009.
	huge := []byte(`{"command":"logout","sender_id":"` + c.senderID + `","request_id":"huge","data":{"user_id":"` + strings.Repeat("x", 1<<20) + `"}}`)
	go func() { _ = c.ws.Write(context.Background(), websocket.MessageText, huge) }() // the server may stop reading
	for {
		select {
		case <-c.in:
			continue
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Fatal("a frame beyond 1 MiB did not close the connection")
		}
		break
	}
	if code := websocket.CloseStatus(c.closeErr); code != websocket.StatusMessageTooBig {
		t.Fatalf("frame beyond 1 MiB: %v", c.closeErr)
	}
}

// TestVoxEventsFromCore: the events of real core activity reach the room in order, with seq
// growing by one, valid against the schemas: status changes through login, dnd, a reason change,
// online, logout (the vox command), and settings_changed through REST.
func TestVoxEventsFromCore(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	ctx := context.Background()
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	admin, _ := s.mint(t, "acme", auth.RoleAdmin, "ops")
	c := s.connect(t, "acme", jti, tok, -1)
	// Make sure the subscription is in place before producing events: a command answered after
	// connected was processed (frames are handled in order).
	c.command("logout", "sync", map[string]any{"user_id": "ghost"})
	c.expectError("not_found", "sync")

	bob := core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: "bob", Via: core.ViaDesktop}
	if _, err := s.Core.Login(ctx, bob, core.KindDesktop); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		s      agent.Status
		reason string
	}{{agent.DND, "lunch"}, {agent.DND, "meeting"}, {agent.Online, ""}} {
		if _, err := s.Core.SetStatus(ctx, bob, "bob", st.s, st.reason); err != nil {
			t.Fatal(err)
		}
	}
	c.command("logout", "out", map[string]any{"user_id": "bob"})
	if code, body := s.rest(t, "PUT", "/api/v1/settings", admin, `{"wrap_up_seconds":5}`); code != 200 {
		t.Fatalf("PUT settings: %d %v", code, body)
	}

	want := []struct{ event, status, previous, reason string }{
		{"status_changed", "online", "offline", ""},
		{"status_changed", "dnd", "online", "lunch"},
		{"status_changed", "dnd", "dnd", "meeting"},
		{"status_changed", "online", "dnd", ""},
		{"status_changed", "offline", "online", ""},
		{"settings_changed", "", "", ""},
	}
	var seq int64
	result := false
	for i := 0; i < len(want); {
		f := c.next(10 * time.Second)
		if f.Event == "command_result" {
			if *f.RequestID != "out" || f.field("user_id") != "bob" || result {
				t.Fatalf("unexpected %s", f)
			}
			result = true
			continue
		}
		s.checkEvent(t, f)
		w := want[i]
		if f.Event != w.event || (w.status != "" && (f.field("user_id") != "bob" || f.field("status") != w.status ||
			f.field("previous") != w.previous || f.field("reason") != w.reason)) {
			t.Fatalf("event %d: %s, want %+v", i, f, w)
		}
		if seq != 0 && f.Seq != seq+1 {
			t.Fatalf("seq %d after %d", f.Seq, seq)
		}
		seq = f.Seq
		i++
	}
	if !result {
		// The result of logout follows its own events; settings_changed may come before it.
		if f := c.next(10 * time.Second); f.Event != "command_result" || *f.RequestID != "out" {
			t.Fatalf("no command_result for logout: %s", f)
		}
	}
}
