package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// rtcServer is a real server (store on disk, media on loopback) behind httptest, with the demo
// account (agents agent1, agent2; IVR 1 sales, 2 support).
type rtcServer struct {
	*server.Server
	URL string
}

func newRTCServer(t *testing.T) *rtcServer {
	t.Helper()
	h := startHarness(t, harnessOptions{})
	ctx := context.Background()
	if _, err := h.EnsureDemo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accounts.Update(ctx, "demo", []byte(`{"allowed_origins":["https://shop.example"]}`)); err != nil {
		t.Fatal(err)
	}
	return &rtcServer{Server: h.Server, URL: h.URL}
}

func (s *rtcServer) token(t *testing.T, role auth.Role, sub string) string {
	t.Helper()
	m, err := s.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: role, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return m.Token
}

// customerToken asks the public endpoint for a token as a browser on origin would.
func (s *rtcServer) customerToken(t *testing.T, origin string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/webcall/demo/token", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Token string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Token
}

// sig is a signalling client: frames arrive on in; candidates are applied to media.
type sig struct {
	t     *testing.T
	ws    *websocket.Conn
	in    chan map[string]any
	media *rtctest.Client
	done  chan struct{}
	code  websocket.StatusCode
}

func (s *rtcServer) dial(t *testing.T, token, origin string) (*sig, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(s.URL, "http")+"/rtc?access_token="+token,
		&websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	c := &sig{t: t, ws: ws, in: make(chan map[string]any, 256), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.code = websocket.CloseStatus(err)
				close(c.in)
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			if m["type"] == "candidate" && c.media != nil {
				var ci struct{ Candidate webrtc.ICECandidateInit }
				_ = json.Unmarshal(b, &ci)
				c.media.AddCandidate(ci.Candidate)
				continue
			}
			c.in <- m
		}
	}()
	t.Cleanup(func() { ws.Close(websocket.StatusNormalClosure, ""); <-c.done })
	return c, res, nil
}

func (c *sig) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *sig) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect returns the next frame of type typ (skipping others), failing after 10 s.
func (c *sig) expect(typ string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection closed (%d) waiting for %s", c.code, typ)
			}
			if m["type"] == typ && (match == nil || match(m)) {
				return m
			}
		case <-timeout:
			c.t.Fatalf("no %s frame", typ)
		}
	}
}

func eventNamed(name string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["event"].(map[string]any)["event"] == name }
}

// negotiate sends an offer from a fresh media client and applies the answer.
func (c *sig) negotiate(extra map[string]any) {
	c.t.Helper()
	c.media = rtctest.New(c.t)
	c.media.OnCandidate(func(ci webrtc.ICECandidateInit) {
		b, _ := json.Marshal(map[string]any{"type": "candidate", "candidate": ci})
		_ = c.ws.Write(context.Background(), websocket.MessageText, b)
	})
	offer, err := c.media.Offer()
	if err != nil {
		c.t.Fatal(err)
	}
	m := map[string]any{"type": "offer", "sdp": offer}
	for k, v := range extra {
		m[k] = v
	}
	c.send(m)
	ans := c.expect("answer", nil)
	if err := c.media.Accept(ans["sdp"].(string)); err != nil {
		c.t.Fatal(err)
	}
	c.media.WaitConnected(10 * time.Second)
}

// result sends a command and returns its result frame (failing on an error frame).
func (c *sig) result(id, cmd string, fields map[string]any) map[string]any {
	c.t.Helper()
	m := map[string]any{"type": "command", "request_id": id, "command": cmd}
	for k, v := range fields {
		m[k] = v
	}
	c.send(m)
	timeout := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-c.in:
			if !ok {
				c.t.Fatalf("closed waiting for the result of %s", cmd)
			}
			if f["request_id"] == id {
				if f["type"] != "result" {
					c.t.Fatalf("%s: %v", cmd, f)
				}
				return f
			}
		case <-timeout:
			c.t.Fatalf("no result for %s", cmd)
		}
	}
}

// errorFor returns the next error frame.
func (c *sig) errorFrame() map[string]any {
	c.t.Helper()
	return c.expect("error", nil)
}

func TestRTCCustomerTokenEndpoint(t *testing.T) {
	s := newRTCServer(t)
	if code, _ := s.customerToken(t, ""); code != 403 {
		t.Fatalf("no Origin: %d", code)
	}
	if code, _ := s.customerToken(t, "https://evil.example"); code != 403 {
		t.Fatalf("foreign Origin: %d", code)
	}
	req, _ := http.NewRequest("POST", s.URL+"/webcall/nobody/token", nil)
	req.Header.Set("Origin", "https://shop.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("unknown account: %d", res.StatusCode)
	}
	code, tok := s.customerToken(t, "https://shop.example")
	if code != 201 || tok == "" {
		t.Fatalf("allowed origin: %d", code)
	}
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		code, _ := s.customerToken(t, "https://shop.example")
		limited = code == 429
	}
	if !limited {
		t.Fatal("the public token endpoint is not rate limited")
	}
}

func TestRTCRefusalsBeforeUpgrade(t *testing.T) {
	s := newRTCServer(t)
	for name, tc := range map[string]struct {
		token, origin string
		status        int
	}{
		"bad token":      {"garbage", "", 401},
		"integrator":     {s.token(t, auth.RoleIntegrator, "crm"), "", 403},
		"foreign origin": {s.token(t, auth.RoleAgent, "agent1"), "https://evil.example", 403},
	} {
		_, res, err := s.dial(t, tc.token, tc.origin)
		if err == nil || res == nil || res.StatusCode != tc.status {
			t.Errorf("%s: %v %v, want %d", name, res, err, tc.status)
		}
	}
	_, tok := s.customerToken(t, "https://shop.example")
	first, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	first.expect("welcome", nil)
	if _, res, err := s.dial(t, tok, "https://shop.example"); err == nil || res.StatusCode != 409 {
		t.Fatalf("a second customer reusing a token: %v", res)
	}
}

// TestRTCWebCallEndToEnd: an agent phone and a customer over the signalling protocol, through
// IVR and queue, with audio both ways, DTMF both ways, and the customer hanging up.
func TestRTCWebCallEndToEnd(t *testing.T) {
	s := newRTCServer(t)
	phone, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent1"), "")
	if err != nil {
		t.Fatal(err)
	}
	if w := phone.expect("welcome", nil); w["user_id"] != "agent1" {
		t.Fatalf("welcome %v", w)
	}
	phone.expect("snapshot", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)

	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada", "phone": "+15550100"})
	callID := cust.expect("call", nil)["call_id"].(string)
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	ring := phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["user_id"] == "agent1"
	})
	if d := ring["event"].(map[string]any)["data"].(map[string]any); d["queue"] != "support" || d["display_name"] != "Ada" || d["source"] != "webrtc" {
		t.Fatalf("incoming_call %v", d)
	}
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "connected" })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w1 := cust.media.Speak(ctx, 700)
	w2 := phone.media.Speak(ctx, 1300)
	defer w1()
	defer w2()
	defer cancel()
	rtctest.Eventually(t, 10*time.Second, "agent hears customer", func() bool { return phone.media.Hears(700) })
	rtctest.Eventually(t, 10*time.Second, "customer hears agent", func() bool { return cust.media.Hears(1300) })

	phone.result("r3", "senddtmf", map[string]any{"call_id": callID, "arg": "9*"})
	rtctest.Eventually(t, 2*time.Second, "digits at the customer", func() bool { return cust.media.Digits() == "9*" })
	phone.result("r4", "hold", map[string]any{"call_id": callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "held" })
	phone.result("r5", "retrieve", map[string]any{"call_id": callID})

	cust.send(map[string]any{"type": "hangup"})
	phone.expect("event", eventNamed("call_disconnected"))
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ended" })
	<-cust.done
	if cust.code != 4000 {
		t.Fatalf("customer socket closed with %d, want 4000", cust.code)
	}
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if err != nil || rec.EndedBy != "remote" || rec.Variables["ivr_choice"] != "2" {
		t.Fatalf("call record: %+v %v", rec, err)
	}
}

func TestRTCBadSignalling(t *testing.T) {
	s := newRTCServer(t)
	phone, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent2"), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	cases := []struct {
		frame, code string
	}{
		{`{"type":`, "invalid_json"},
		{`{"type":"teleport"}`, "unknown_command"},
		{`{"type":"command","request_id":"x","command":"hold","force":true}`, "invalid_message"},
		{`{"type":"candidate","candidate":{"candidate":""}}`, "out_of_order"},
		{`{"type":"hangup"}`, "forbidden"},
		{`{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}`, "invalid_message"},
		{`{"type":"command","request_id":"y","command":"ready"}`, "conflict"},
		{`{"type":"command","request_id":"z","command":"senddtmf","call_id":"nope","arg":"1"}`, "not_found"},
		{`{"type":"command","request_id":"d","command":"senddtmf","call_id":"nope","arg":"1X"}`, "invalid_message"},
	}
	for _, c := range cases {
		phone.sendRaw(c.frame)
		if e := phone.errorFrame(); e["code"] != c.code || e["message"] == "" {
			t.Errorf("%s -> %v, want %s", c.frame, e, c.code)
		}
	}
	// a flood is rate limited, and the connection survives it
	for i := 0; i < 120; i++ {
		phone.sendRaw(`{"type":"mic","granted":false}`)
	}
	phone.expect("error", func(m map[string]any) bool { return m["code"] == "rate_limited" })
	// the connection still answers once the bucket refills (a rate-limited try is resent)
	deadline := time.Now().Add(5 * time.Second)
	for {
		phone.send(map[string]any{"type": "command", "request_id": "alive", "command": "snapshot"})
		select {
		case f := <-phone.in:
			if f["request_id"] == "alive" && f["type"] == "result" {
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("connection unusable after a flood")
		}
	}
}

// TestRTCCustomerOfferFlood: a customer that floods offers gets one call and clear errors; no leg
// leaks (the server's cleanup checks legs and goroutines).
func TestRTCCustomerOfferFlood(t *testing.T) {
	s := newRTCServer(t)
	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(nil)
	cust.expect("call", nil)
	offer, _ := cust.media.Offer()
	for i := 0; i < 60; i++ {
		cust.send(map[string]any{"type": "offer", "sdp": offer})
	}
	codes := map[any]int{}
	for i := 0; i < 60; i++ {
		codes[cust.errorFrame()["code"]]++
	}
	if codes["out_of_order"] == 0 || codes["rate_limited"] == 0 || codes["out_of_order"]+codes["rate_limited"] != 60 {
		t.Fatalf("offer flood answered %v", codes)
	}
	if n := s.Media.Legs(); n != 1 {
		t.Fatalf("%d legs after an offer flood, want 1", n)
	}
}

// TestRTCRevokedTokenClosesLiveConnection: revoking the token of a live phone closes it (4003).
func TestRTCRevokedTokenClosesLiveConnection(t *testing.T) {
	s := newRTCServer(t)
	m, err := s.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: auth.RoleAgent, Subject: "agent1"})
	if err != nil {
		t.Fatal(err)
	}
	phone, _, err := s.dial(t, m.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	if err := s.Auth.Revoke(context.Background(), "demo", m.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-phone.done:
	case <-time.After(2 * time.Second):
		t.Fatal("the live connection outlived its revoked token")
	}
	if phone.code != 4003 {
		t.Fatalf("closed with %d, want 4003", phone.code)
	}
}

// TestRTCOversizedFrame: a frame over 64 KiB is answered with an invalid_message error frame and
// the connection goes on (a bad frame never closes it); only a frame beyond the 1 MiB hard limit
// closes the socket, with 1009.
func TestRTCOversizedFrame(t *testing.T) {
	s := newRTCServer(t)
	phone, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent2"), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.sendRaw(`{"type":"command","request_id":"big","command":"snapshot","pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	if e := phone.errorFrame(); e["code"] != "invalid_message" || !strings.Contains(e["message"].(string), "64 KiB") {
		t.Fatalf("oversized frame -> %v", e)
	}
	phone.result("alive", "snapshot", nil) // still connected and working
	huge := []byte(`{"type":"mic","pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	go func() { _ = phone.ws.Write(context.Background(), websocket.MessageText, huge) }() // the server may stop reading
	select {
	case <-phone.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a frame beyond 1 MiB did not close the connection")
	}
	if phone.code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", phone.code)
	}
}
