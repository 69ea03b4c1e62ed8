package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A bridge message of these tests: a request (id, and the account of a login), an answer
// (response, from), or an event (event, from, desk).
type bmsg struct {
	ID       string `json:"id,omitempty"`
	Login    string `json:"login,omitempty"`
	Response bool   `json:"response,omitempty"`
	From     string `json:"from,omitempty"`
	Event    string `json:"event,omitempty"`
	Desk     string `json:"desk,omitempty"`
}

func (m bmsg) raw() []byte { b, _ := json.Marshal(m); return b }

func parse(b []byte) bmsg {
	var m bmsg
	_ = json.Unmarshal(b, &m)
	return m
}

// testBridgeRelay reads the accounts and requestIds of bmsg frames.
func testBridgeRelay() BridgeRelay {
	return BridgeRelay{Conns: fakeTracker{}, FrameTimeout: 10 * time.Second, MaxFrame: 1024,
		AccountOf: func(f []byte) string { return parse(f).Login },
		RequestID: func(f []byte) (string, bool) { m := parse(f); return m.ID, m.Response }}
}

// ownerBridge is the owner's /bridge as the relay reaches it: it refuses a handshake without
// the relay headers, answers each request (from "owner"), raises an event after a login (with
// the client's X-Desk header), and sends the ids it was given to got.
func ownerBridge(tb testing.TB) (*httptest.Server, chan string) {
	got := make(chan string, 16)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(RelayHeader) != "a b-secret" || r.Header.Get(RelayedForHeader) == "" {
			http.Error(w, "no relay headers", http.StatusBadRequest)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow() //nolint:errcheck
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			m := parse(b)
			got <- m.ID
			out := [][]byte{bmsg{ID: m.ID, Response: true, From: "owner"}.raw()}
			if m.Login != "" {
				out = append(out, bmsg{Event: "statechanged", From: "owner", Desk: r.Header.Get("X-Desk")}.raw())
			}
			for _, o := range out {
				if ws.Write(context.Background(), websocket.MessageText, o) != nil {
					return
				}
			}
		}
	}))
	tb.Cleanup(s.Close)
	return s, got
}

// localBridgeWS is node n's /bridge edge: RelayWS over a stand-in for the bridge that wraps each
// WebSocket as the bridge does one without a URL token, answers each message itself (from
// "local"), and closes when it reads an end (sent to ended).
func localBridgeWS(tb testing.TB, n *Node) (*httptest.Server, chan error) {
	ended := make(chan error, 4)
	bridge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c := n.WrapBridgeWS(ws, r, testBridgeRelay())
		for {
			_, rd, err := c.Reader(context.Background())
			if err != nil {
				_ = c.Close(websocket.StatusNormalClosure, "")
				ended <- err
				return
			}
			b, _ := io.ReadAll(rd)
			if c.Write(context.Background(), websocket.MessageText, bmsg{ID: parse(b).ID, Response: true, From: "local"}.raw()) != nil {
				return
			}
		}
	})
	s := httptest.NewServer(n.RelayWS(bridge, WSRelay{Kind: "bridge_ws", Conns: fakeTracker{},
		AccountOf:   func(*http.Request) string { return "" }, // no URL token
		Unavailable: func(w http.ResponseWriter, _ *http.Request, d string) { http.Error(w, d, 503) }}))
	tb.Cleanup(s.Close)
	return s, ended
}

// wsClient is a bridge's WebSocket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialBridge(t *testing.T, url string, h http.Header) *wsClient {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/bridge", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

// do sends m and expects want, in order.
func (c *wsClient) do(m bmsg, want ...bmsg) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, m.raw()); err != nil {
		c.t.Fatal(err)
	}
	for _, w := range want {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, b, err := c.ws.Read(ctx)
		cancel()
		if err != nil || parse(b) != w {
			c.t.Fatalf("after %s: got %s %v, want %s", m.raw(), b, err, w.raw())
		}
	}
}

func answer(id, from string) bmsg { return bmsg{ID: id, Response: true, From: from} }

// ids reads k ids from got.
func ids(got chan string, k int) string {
	var out []string
	for range k {
		out = append(out, <-got)
	}
	return strings.Join(out, ",")
}

// A bridge WebSocket without a URL token is answered by the node it reached until its login;
// the login of an account another node owns is relayed: the owner gets the frames before it and
// the login (with the client's headers), the client gets the owner's answer to the login, not
// to the replayed frames, then the owner's events and answers; the local bridge read the end.
// When the account's owner changes, the relayed WebSocket closes with 1012.
func TestBridgeWSRelayedAtLogin(t *testing.T) {
	far, got := ownerBridge(t)
	n := testRelayNode(t, far.URL)
	near, ended := localBridgeWS(t, n)
	c := dialBridge(t, near.URL, http.Header{"X-Desk": {"7"}})
	c.do(bmsg{ID: "1"}, answer("1", "local"))
	c.do(bmsg{ID: "2", Login: "acme"}, answer("2", "owner"), bmsg{Event: "statechanged", From: "owner", Desk: "7"})
	if err := <-ended; !errors.Is(err, io.EOF) {
		t.Fatalf("the local bridge ended with %v, want io.EOF", err)
	}
	c.do(bmsg{ID: "3"}, answer("3", "owner"))
	if s := ids(got, 3); s != "1,2,3" {
		t.Fatalf("the owner got %s, want 1,2,3", s)
	}
	n.mu.Lock()
	n.ownerOf["acme"] = "c"
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := c.ws.Read(ctx); websocket.CloseStatus(err) != CloseServiceRestart {
		t.Fatalf("owner changed: %v, want close 1012", err)
	}
}

// A login of an account this node owns is served here, and so is everything after it; a login
// while its account has no owner is left to the local bridge (which refuses it), and a later
// login is still relayed; a WebSocket a member relayed here is served here whatever it logs in
// to.
func TestBridgeWSServedHereUntilRelayed(t *testing.T) {
	far, got := ownerBridge(t)
	n := testRelayNode(t, far.URL)
	n.owned["mine"] = 1
	near, _ := localBridgeWS(t, n)

	c := dialBridge(t, near.URL, nil)
	c.do(bmsg{ID: "1", Login: "mine"}, answer("1", "local"))
	c.do(bmsg{ID: "2", Login: "acme"}, answer("2", "local"))

	c = dialBridge(t, near.URL, nil)
	c.do(bmsg{ID: "3"}, answer("3", "local"))
	c.do(bmsg{ID: "4", Login: "nobody"}, answer("4", "local"))
	c.do(bmsg{ID: "5", Login: "acme"}, answer("5", "owner"), bmsg{Event: "statechanged", From: "owner"})
	if s := ids(got, 2); s != "3,5" {
		t.Fatalf("the owner got %s, want 3,5 (the frame before the login, the login)", s)
	}

	c = dialBridge(t, near.URL, http.Header{RelayHeader: {"b a-secret"}, RelayedForHeader: {"192.0.2.9:4000"}})
	c.do(bmsg{ID: "6", Login: "acme"}, answer("6", "local"))
}

func writeFrame(nc net.Conn, m bmsg) error {
	b := m.raw()
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err := nc.Write(buf)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

// A bridge TCP connection is relayed at its login as a WebSocket is, and the owner's frames
// reach the client even when the local bridge's last write deadline has passed (the bridge sets
// one before each write and never clears it: a relayed connection's first event more than the
// bridge's write timeout after its login used to fail, closing the connection).
func TestBridgeTCPRelayedAtLogin(t *testing.T) {
	far, got := ownerBridge(t)
	n := testRelayNode(t, far.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // the local bridge, as it writes (adapter/bridge tcpTransport)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		rc := n.WrapBridgeTCP(nc, testBridgeRelay())
		for {
			b, err := readFrame(rc)
			if err != nil {
				_ = rc.SetWriteDeadline(time.Now()) // as it stands by the owner's first event
				_ = rc.Close()
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if writeFrame(rc, answer(parse(b).ID, "local")) != nil {
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expect := func(m bmsg, want ...bmsg) {
		t.Helper()
		if err := writeFrame(nc, m); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			b, err := readFrame(nc)
			if err != nil || parse(b) != w {
				t.Fatalf("got %s %v, want %s", b, err, w.raw())
			}
		}
	}
	expect(bmsg{ID: "1"}, answer("1", "local"))
	expect(bmsg{ID: "2", Login: "acme"}, answer("2", "owner"), bmsg{Event: "statechanged", From: "owner"})
	expect(bmsg{ID: "3"}, answer("3", "owner"))
	if s := ids(got, 3); s != "1,2,3" {
		t.Fatalf("the owner got %s, want 1,2,3", s)
	}
	n.mu.Lock()
	n.ownerOf["acme"] = "c"
	n.mu.Unlock()
	if b, err := readFrame(nc); err == nil {
		t.Fatalf("owner changed: the connection goes on (%s)", b)
	}
}
