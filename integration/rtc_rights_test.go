package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// rightsProbe opens /rtc as agent1 with query and Origin, and returns the welcome's client and
// the error code the server answers a hold and a transfer of an unknown call with.
func rightsProbe(t *testing.T, s *rtcServer, query, origin string) (client string, codes []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	tok := s.token(t, auth.RoleAgent, "agent1")
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/rtc?access_token="+tok+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s (Origin %q): %v", query, origin, err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	read := func(match func(map[string]any) bool) map[string]any {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			var m map[string]any
			if json.Unmarshal(b, &m) == nil && match(m) {
				return m
			}
		}
	}
	welcome := read(func(m map[string]any) bool { return m["type"] == "welcome" })
	client, _ = welcome["client"].(string)
	for i, cmd := range []map[string]any{
		{"type": "command", "request_id": "h1", "command": "hold", "call_id": "c1"},
		{"type": "command", "request_id": "t1", "command": "transfer", "call_id": "c1", "arg": "agent2"},
	} {
		b, _ := json.Marshal(cmd)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
		id := cmd["request_id"]
		f := read(func(m map[string]any) bool { return m["request_id"] == id })
		code, _ := f["code"].(string)
		if f["type"] != "error" {
			code = "result " + string(rune('0'+i))
		}
		codes = append(codes, code)
	}
	return client, codes
}

// TestRTCModeCannotBeOptedOut: in simple mode, a CRM page (another origin) gets desktop rights
// whatever it asks for, so hold and transfer are refused by the mode (forbidden); the adapter's
// own pages and non-browser clients keep phone rights (the same commands reach the call lookup).
func TestRTCModeCannotBeOptedOut(t *testing.T) {
	s := newRTCServer(t)
	if _, err := s.Accounts.Update(context.Background(), "demo", []byte(`{"mode":"simple"}`)); err != nil {
		t.Fatal(err)
	}
	own := s.URL // the adapter's own origin
	for _, tc := range []struct {
		query, origin, client, code string
	}{
		{"", "https://shop.example", "desktop", "forbidden"},
		{"&client=phone", "https://shop.example", "desktop", "forbidden"},
		{"&client=desktop", "https://shop.example", "desktop", "forbidden"},
		{"&client=desktop", own, "desktop", "forbidden"},
		{"&client=desktop", "", "desktop", "forbidden"},
		{"", own, "phone", "not_found"},
		{"&client=phone", own, "phone", "not_found"},
		{"", "", "phone", "not_found"},
	} {
		client, codes := rightsProbe(t, s, tc.query, tc.origin)
		if client != tc.client || codes[0] != tc.code || codes[1] != tc.code {
			t.Errorf("query %q Origin %q: client %q, hold/transfer %v; want %q, %s", tc.query, tc.origin, client, codes, tc.client, tc.code)
		}
	}
}

// TestWebcallTokenCORS: POST /webcall/{account}/token answers CORS, preflight included, for the
// account's allowed_origins and no others; credentials are never allowed.
func TestWebcallTokenCORS(t *testing.T) {
	s := newRTCServer(t) // demo allows https://shop.example
	req := func(method, origin string) *http.Response {
		r, _ := http.NewRequest(method, s.URL+"/webcall/demo/token", nil)
		r.Header.Set("Origin", origin)
		if method == "OPTIONS" {
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	pre := req("OPTIONS", "https://shop.example")
	if pre.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight from an allowed origin: %d %v", pre.StatusCode, pre.Header)
	}
	if pre := req("OPTIONS", "https://evil.example"); pre.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", pre.Header)
	}
	if res := req("POST", "https://shop.example"); res.StatusCode != 201 || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("POST from an allowed origin: %d %v", res.StatusCode, res.Header)
	}
	if res := req("POST", "https://evil.example"); res.StatusCode != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST from another origin: %d %v", res.StatusCode, res.Header)
	}
}

// TestRTCInvalidTextRefused: /rtc frames with invalid UTF-8, NUL or a lone surrogate are
// invalid_json, without echoing the (mangled) request_id.
func TestRTCInvalidTextRefused(t *testing.T) {
	s := newRTCServer(t)
	c, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent1"), "")
	if err != nil {
		t.Fatal(err)
	}
	c.expect("welcome", nil)
	for _, raw := range []string{
		"{\"type\":\"command\",\"request_id\":\"r\xff\",\"command\":\"online\"}",
		`{"type":"command","request_id":"r\u0000","command":"online"}`,
		`{"type":"command","request_id":"r\udc00","command":"online"}`,
	} {
		c.sendRaw(raw)
		f := c.errorFrame()
		if f["code"] != "invalid_json" || f["request_id"] != nil {
			t.Errorf("%q: %v", raw, f)
		}
	}
}
