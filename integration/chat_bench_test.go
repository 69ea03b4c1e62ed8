package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// BenchmarkChatCustomerToAgent measures a chat message from the customer's /rtc socket to the
// agent's (stored, committed, fanned out, written): benchChats chats held by one agent send
// b.N messages in all, each chat at 4 messages per second (within the per-participant rate
// limit), all at once. It reports the latency's p50 and p99 in ms.
//
//	go test ./integration -run '^$' -bench BenchmarkChatCustomerToAgent -benchtime 400x
func BenchmarkChatCustomerToAgent(b *testing.B) {
	const benchChats = 20
	h := startHarness(b, harnessOptions{})
	ctx := context.Background()
	if _, err := h.EnsureDemo(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := h.Accounts.Update(ctx, "demo", []byte(`{"allowed_origins":["https://shop.example"],"max_chats_per_agent":20,"wrap_up_seconds":0}`)); err != nil {
		b.Fatal(err)
	}
	agent := chatBenchAgent(b, h)
	sent := sync.Map{} // client_msg_id -> time.Time
	lat := make(chan time.Duration, b.N+benchChats)
	go func() { // the agent's reader: latencies of customer messages; accepts offers
		for f := range agent.in {
			switch {
			case f["type"] == "chat_message" && f["from"] == "customer":
				if t0, ok := sent.Load(f["client_msg_id"]); ok {
					lat <- time.Since(t0.(time.Time))
				}
			case f["type"] == "event":
				ev := f["event"].(map[string]any)
				if d := ev["data"].(map[string]any); ev["event"] == "chat_started" && d["user_id"] == "agent1" {
					agent.write(map[string]any{"type": "command", "request_id": "a" + d["chat_id"].(string), "command": "chat_accept", "chat_id": d["chat_id"]})
				}
			}
		}
	}()
	custs := make([]*chatBenchConn, benchChats)
	ids := make([]string, benchChats)
	for i := range custs {
		custs[i], ids[i] = chatBenchCustomer(b, h)
	}
	for _, c := range custs { // until each chat is active
		chatBenchWait(b, c, func(f map[string]any) bool { return f["type"] == "chat_state" && f["state"] == "active" })
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range custs {
		n := b.N / benchChats
		if i < b.N%benchChats {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for k := 0; k < n; k++ {
				id := fmt.Sprintf("m%d-%d", i, k)
				sent.Store(id, time.Now())
				c.write(map[string]any{"type": "chat", "chat_id": ids[i], "text": "benchmark message " + id, "client_msg_id": id})
				<-tick.C
			}
		}()
	}
	wg.Wait()
	got := make([]time.Duration, 0, b.N)
	deadline := time.After(30 * time.Second)
	for len(got) < b.N {
		select {
		case d := <-lat:
			got = append(got, d)
		case <-deadline:
			b.Fatalf("%d of %d messages reached the agent", len(got), b.N)
		}
	}
	b.StopTimer()
	slices.Sort(got)
	ms := func(q float64) float64 { return float64(got[int(q*float64(len(got)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// chatBenchConn is a minimal /rtc client for benchmarks (sig needs a *testing.T).
type chatBenchConn struct {
	ws *websocket.Conn
	in chan map[string]any
	mu sync.Mutex
}

func (c *chatBenchConn) write(v any) {
	b, _ := json.Marshal(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.Write(context.Background(), websocket.MessageText, b)
}

func chatBenchDial(b *testing.B, h *harness, token, origin string, media *rtctest.Client) *chatBenchConn {
	b.Helper()
	hd := http.Header{}
	if origin != "" {
		hd.Set("Origin", origin)
	}
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(h.URL, "http")+"/rtc?access_token="+token, &websocket.DialOptions{HTTPHeader: hd})
	if err != nil {
		b.Fatal(err)
	}
	c := &chatBenchConn{ws: ws, in: make(chan map[string]any, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.in)
		for {
			_, raw, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			if m["type"] == "candidate" && media != nil {
				var ci struct{ Candidate webrtc.ICECandidateInit }
				_ = json.Unmarshal(raw, &ci)
				media.AddCandidate(ci.Candidate)
				continue
			}
			c.in <- m
		}
	}()
	b.Cleanup(func() { ws.Close(websocket.StatusNormalClosure, ""); <-done })
	return c
}

// chatBenchAgent connects agent1's phone (real pion peer, microphone granted) and sets it ready.
func chatBenchAgent(b *testing.B, h *harness) *chatBenchConn {
	b.Helper()
	m, err := h.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: auth.RoleAgent, Subject: "agent1"})
	if err != nil {
		b.Fatal(err)
	}
	media := rtctest.New(b)
	c := chatBenchDial(b, h, m.Token, "", media)
	media.OnCandidate(func(ci webrtc.ICECandidateInit) { c.write(map[string]any{"type": "candidate", "candidate": ci}) })
	offer, err := media.Offer()
	if err != nil {
		b.Fatal(err)
	}
	c.write(map[string]any{"type": "offer", "sdp": offer, "mic": true})
	ans := chatBenchWait(b, c, func(f map[string]any) bool { return f["type"] == "answer" })
	if err := media.Accept(ans["sdp"].(string)); err != nil {
		b.Fatal(err)
	}
	media.WaitConnected(10 * time.Second)
	// ready once the phone owns the media (its snapshot says so; retried on that snapshot)
	for try := 0; ; try++ {
		id := fmt.Sprintf("ready%d", try)
		c.write(map[string]any{"type": "command", "request_id": id, "command": "ready"})
		f := chatBenchWait(b, c, func(f map[string]any) bool { return f["request_id"] == id })
		if f["type"] == "result" {
			break
		}
		if try == 20 {
			b.Fatalf("ready: %v", f)
		}
		chatBenchWait(b, c, func(f map[string]any) bool { return f["type"] == "snapshot" })
	}
	return c
}

// chatBenchCustomer opens a chat with a chat token (minted directly: the public endpoint
// rate-limits one address to 10 tokens a minute; TestChatOverRTC goes through it).
func chatBenchCustomer(b *testing.B, h *harness) (*chatBenchConn, string) {
	b.Helper()
	tok, err := h.Auth.Mint(context.Background(), auth.MintRequest{Account: "demo", Role: auth.RoleCustomer,
		Subject: fmt.Sprintf("chat-bench%d", time.Now().UnixNano()), TTL: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	c := chatBenchDial(b, h, tok.Token, shopOrigin, nil)
	c.write(map[string]any{"type": "chat_start", "display_name": "bench"})
	f := chatBenchWait(b, c, func(f map[string]any) bool { return f["type"] == "chat_state" })
	return c, f["chat_id"].(string)
}

// chatBenchWait returns the next frame matching ok, failing after 20 s.
func chatBenchWait(b *testing.B, c *chatBenchConn, ok func(map[string]any) bool) map[string]any {
	b.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, open := <-c.in:
			if !open {
				b.Fatal("connection closed")
			}
			if ok(f) {
				return f
			}
		case <-timeout:
			b.Fatal("no matching frame within 20 s")
		}
	}
}
