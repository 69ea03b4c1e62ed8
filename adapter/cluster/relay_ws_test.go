package cluster

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeTracker registers nothing; closing is closed to shut down (a fake of the relay's Tracker).
type fakeTracker struct{ closing chan struct{} }

func (fakeTracker) Add(string) (func(), bool)  { return func() {}, true }
func (f fakeTracker) Closing() <-chan struct{} { return f.closing }

// echoServer answers every WebSocket message with itself.
func echoServer(tb testing.TB) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow() //nolint:errcheck
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil || ws.Write(context.Background(), typ, b) != nil {
				return
			}
		}
	}))
	tb.Cleanup(s.Close)
	return s
}

// relayTo is a node that relays every WebSocket of account acme to the node "b" at target (a
// real NATS connection: the relay checks the node's health).
func relayTo(tb testing.TB, target string) *httptest.Server {
	_, s := relayNode(tb, target, fakeTracker{})
	return s
}

func relayNode(tb testing.TB, target string, tr Tracker) (*Node, *httptest.Server) {
	n := testRelayNode(tb, target)
	s := httptest.NewServer(n.RelayWS(http.NotFoundHandler(), WSRelay{Kind: "rtc", Conns: tr,
		AccountOf:   func(*http.Request) string { return "acme" },
		Unavailable: func(w http.ResponseWriter, _ *http.Request, d string) { http.Error(w, d, 503) }}))
	tb.Cleanup(s.Close)
	return n, s
}

// testRelayNode is the node "a", on a real NATS server of its own, which knows the account acme
// to be owned by the node "b" at target.
func testRelayNode(tb testing.TB, target string) *Node {
	srv, err := StartEmbedded(EmbedOptions{Name: "n1", Dir: tb.TempDir()}) // one server, no routes
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	if err := WaitReady(srv, 30*time.Second); err != nil {
		tb.Fatal(err)
	}
	n := &Node{ID: "a", nc: connect(tb, srv), lg: discard, relaySecret: "a-secret",
		owned: map[string]uint64{}, ownerOf: map[string]string{"acme": "b"},
		memberEntries: map[string]member{"b": {Addrs: Addrs{HTTP: strings.TrimPrefix(target, "http://")}, Relay: "b-secret"}}}
	n.metrics = newNodeMetrics(nil, n)
	return n
}

// roundTrips sends b.N messages of 256 bytes to url and reads each echo.
func roundTrips(b *testing.B, url string) {
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(url, "http")+"/rtc", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow() //nolint:errcheck
	msg := []byte(`{"type":"command","request_id":"r1","command":"hold","call_id":"` + strings.Repeat("x", 190) + `"}`)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		if err := ws.Write(context.Background(), websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, got, err := ws.Read(context.Background()); err != nil || len(got) != len(msg) {
			b.Fatalf("echo: %d bytes, %v", len(got), err)
		}
	}
}

// BenchmarkRelayRoundTrip compares a WebSocket message's round trip straight to a server with
// the same through a node's relay (one more hop each way, the message streamed through), in
// one run:
//
//	go test ./adapter/cluster -run '^$' -bench RelayRoundTrip -benchtime 20000x
func BenchmarkRelayRoundTrip(b *testing.B) {
	echo := echoServer(b)
	b.Run("direct", func(b *testing.B) { roundTrips(b, echo.URL) })
	relay := relayTo(b, echo.URL)
	b.Run("relayed", func(b *testing.B) { roundTrips(b, relay.URL) })
}

// The relay carries messages both ways and passes the far side's close code on.
func TestRelayCarriesMessagesAndCloseCodes(t *testing.T) {
	far := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(RelayHeader) != "a b-secret" || r.Header.Get(RelayedForHeader) == "" {
			http.Error(w, "no relay headers", http.StatusBadRequest)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_, b, err := ws.Read(context.Background())
		if err == nil {
			_ = ws.Write(context.Background(), websocket.MessageText, append([]byte("echo "), b...))
		}
		_ = ws.Close(4000, "call ended")
	}))
	defer far.Close()
	relay := relayTo(t, far.URL)
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(relay.URL, "http")+"/rtc", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow() //nolint:errcheck
	if err := ws.Write(context.Background(), websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.Read(context.Background()); err != nil || string(b) != "echo hello" {
		t.Fatalf("through the relay: %q %v", b, err)
	}
	_, _, err = ws.Read(context.Background())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "call ended" {
		t.Fatalf("close through the relay: %v", err)
	}
}

// A relayed connection is closed with 1012 when its account's owner changes, with 1001 when
// the relaying node shuts down; the far side's connection is closed too.
func TestRelayClosesOnOwnerChangeAndShutdown(t *testing.T) {
	farClosed := make(chan struct{}, 2)
	far := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_, _, _ = ws.Read(context.Background()) // until the relay closes
		farClosed <- struct{}{}
	}))
	defer far.Close()
	tr := fakeTracker{closing: make(chan struct{})}
	n, relay := relayNode(t, far.URL, tr)
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(relay.URL, "http")+"/rtc", nil)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	closedWith := func(ws *websocket.Conn) websocket.StatusCode {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _, err := ws.Read(ctx)
		return websocket.CloseStatus(err)
	}
	ws := dial()
	n.mu.Lock()
	n.ownerOf["acme"] = "c" // another node took the account over
	n.mu.Unlock()
	if code := closedWith(ws); code != CloseServiceRestart {
		t.Fatalf("owner changed: closed with %d, want 1012", code)
	}
	<-farClosed
	n.mu.Lock()
	n.ownerOf["acme"] = "b"
	n.mu.Unlock()
	ws = dial()
	close(tr.closing)
	if code := closedWith(ws); code != websocket.StatusGoingAway {
		t.Fatalf("shutdown: closed with %d, want 1001", code)
	}
	<-farClosed
}
