package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// fuzzSocket is an anonymous customer's /rtc socket (the role anyone on the shop's site gets).
type fuzzSocket struct {
	ws   *websocket.Conn
	ctx  context.Context
	sent int // frames sent, probes included
}

// framesPerSocket keeps each socket under the per-connection frame limit (burst 40): the fuzzer
// tests the frame handler, not the flood rule (which answers nothing, then closes with 1008).
const framesPerSocket = 30

func dialCustomer(t testing.TB, h *harness) *fuzzSocket {
	t.Helper()
	m, err := h.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: auth.RoleCustomer, Subject: "web-fuzz", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(h.URL, "http")+"/rtc?access_token="+m.Token, nil)
	if err != nil {
		t.Fatalf("dial /rtc as a customer: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	return &fuzzSocket{ws: ws, ctx: ctx}
}

// probe sends a frame the server must answer (unknown_command with its request_id) and waits
// for that answer; false if the connection ended first.
func (s *fuzzSocket) probe(t *testing.T) bool {
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	s.sent++
	if s.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"probe","request_id":"probe"}`)) != nil {
		return false
	}
	for {
		_, b, err := s.ws.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("the server answered neither the fuzzed frame's follow-up probe nor closed within 20 s")
			}
			return false
		}
		var f struct {
			Type      string `json:"type"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(b, &f) != nil {
			t.Fatalf("server frame is not JSON: %q", b)
		}
		if f.RequestID == "probe" {
			return true
		}
	}
}

// FuzzRTCFrame feeds arbitrary frames to the /rtc frame handler through a real customer socket:
// the server never crashes or hangs, answers every frame with JSON, and a connection it closed
// (a flood, a frame over 1 MiB) is the only one affected: a new one is accepted and answers.
func FuzzRTCFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","sdp":"v=0","display_name":"Ada","phone":"+15550100","media":["audio"]}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"candidate","candidate":{"candidate":"x","sdpMLineIndex":1.0}}`,
		`{"type":"hangup"}`, `{"type":"mic","granted":true}`, `{"type":"command","request_id":"r","command":"hold","call_id":"c1"}`,
		`{"type":"offer","request_id":"r\u0000"}`, "{\"type\":\"offer\",\"request_id\":\"\xff\"}", `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	h := startHarness(f, harnessOptions{})
	if _, err := h.EnsureDemo(context.Background()); err != nil {
		f.Fatal(err)
	}
	var sock *fuzzSocket
	f.Cleanup(func() {
		if sock != nil {
			sock.ws.Close(websocket.StatusNormalClosure, "")
		}
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if sock != nil && sock.sent >= framesPerSocket {
			sock.ws.Close(websocket.StatusNormalClosure, "")
			sock = nil
		}
		if sock == nil {
			sock = dialCustomer(t, h)
		}
		sock.sent++
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := sock.ws.Write(ctx, websocket.MessageText, frame)
		cancel()
		if err == nil && sock.probe(t) {
			return
		}
		// The server closed this socket (allowed: flood, oversize, call ended); a fresh one must work.
		sock.ws.Close(websocket.StatusNormalClosure, "")
		sock = dialCustomer(t, h)
		if !sock.probe(t) {
			t.Fatalf("after %q closed a socket, a new one does not answer", frame)
		}
	})
}
