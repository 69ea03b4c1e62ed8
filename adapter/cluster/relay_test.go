package cluster

import (
	"encoding/binary"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A handshake with this node's relay secret is served as relayed, the client's address taken
// from CTI-Relayed-For and the relay headers dropped; a wrong secret is refused; none is an
// ordinary handshake.
func TestRelayedHandshakeTrust(t *testing.T) {
	n := &Node{ID: "a", relaySecret: "s3cret"}
	for _, c := range []struct {
		relay, forwarded string
		relayed, ok      bool
		remote           string
	}{
		{"", "", false, true, "192.0.2.1:1234"},
		{"b s3cret", "198.51.100.7:5555", true, true, "198.51.100.7:5555"},
		{"b s3cret", "not an address", true, true, "192.0.2.1:1234"},
		{"b wrong", "198.51.100.7:5555", true, false, "192.0.2.1:1234"},
		{"s3cret", "", true, false, "192.0.2.1:1234"},
	} {
		r := httptest.NewRequest("GET", "/rtc", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		if c.relay != "" {
			r.Header.Set(RelayHeader, c.relay)
		}
		if c.forwarded != "" {
			r.Header.Set(RelayedForHeader, c.forwarded)
		}
		relayed, ok := n.relayed(r)
		if relayed != c.relayed || ok != c.ok || r.RemoteAddr != c.remote {
			t.Errorf("%q %q: relayed %v ok %v remote %s", c.relay, c.forwarded, relayed, ok, r.RemoteAddr)
		}
		if ok && relayed && (r.Header.Get(RelayHeader) != "" || r.Header.Get(RelayedForHeader) != "") {
			t.Errorf("%q: relay headers left for the edge", c.relay)
		}
	}
}

func frameOf(s string) []byte {
	b := make([]byte, 4+len(s))
	binary.BigEndian.PutUint32(b, uint32(len(s)))
	copy(b[4:], s)
	return b
}

// The bridge reads through the wrapper exactly the bytes the client sent, frame by frame and
// in pieces as small as one byte; the frames before a login are kept for the replay; the login
// of an account this node owns ends the inspection (served here), so the bytes after it pass
// through untouched, even a frame longer than the inspection limit.
func TestRelayConnServesOwnedLoginsHere(t *testing.T) {
	n := &Node{ID: "a", owned: map[string]uint64{"acme": 1}}
	client, server := net.Pipe()
	defer client.Close()
	rc := n.WrapBridgeTCP(server, BridgeRelay{FrameTimeout: 5 * time.Second, MaxFrame: 64,
		AccountOf: func(f []byte) string {
			if strings.Contains(string(f), "login") {
				return "acme"
			}
			return ""
		}}).(*relayConn)
	long := strings.Repeat("x", 100)
	sent := append(append(append(frameOf(`init-1`), frameOf(`init-2`)...), frameOf(`login acme`)...), frameOf(long)...)
	go func() { _, _ = client.Write(sent) }()
	got := make([]byte, 0, len(sent))
	buf := make([]byte, 8)
	for len(got) < len(sent) {
		k, err := rc.Read(buf[:1+len(got)%7]) // reads of 1 to 7 bytes
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if string(got) != string(sent) {
		t.Fatalf("the bridge read %q, want %q", got, sent)
	}
	if g := rc.g; len(g.replay) != 2 || string(g.replay[0]) != "init-1" || string(g.replay[1]) != "init-2" || !g.local {
		t.Fatalf("replay %q, local %v", g.replay, g.local)
	}
	go func() { _, _ = rc.Write([]byte("answer")) }()
	if b, err := io.ReadAll(io.LimitReader(client, 6)); err != nil || string(b) != "answer" {
		t.Fatalf("the bridge's write reached the client as %q %v", b, err)
	}
}
