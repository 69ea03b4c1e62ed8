package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

// TestVoxFloodClosedWithPolicy: a connection that keeps sending far beyond its frame budget is
// answered rate_limited at first, then closed with 1008 instead of being answered frame by frame.
func TestVoxFloodClosedWithPolicy(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	c := s.connect(t, "acme", jti, tok, -1)
	c.sync()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limited, start := 0, time.Now()
	for {
		err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"event":"make_call","request_id":"f","data":{}}`))
		for f := range drain(c.in) {
			if f.errorData().Code == "rate_limited" {
				limited++
			}
		}
		if err != nil {
			break
		}
		select {
		case <-c.done:
		default:
			continue
		}
		break
	}
	<-c.done
	if code := websocket.CloseStatus(c.closeErr); code != conns.ClosePolicy {
		t.Fatalf("flood ended with %v, want 1008", c.closeErr)
	}
	if limited == 0 {
		t.Fatal("no rate_limited answer before the close")
	}
	t.Logf("flooding connection closed with 1008 after %v (%d rate_limited answers first)", time.Since(start).Round(time.Millisecond), limited)
}

// TestBridgeFloodAndAddressCap: bridge TCP requests beyond the frame budget are answered
// FAILURE, a sustained flood is disconnected, and one address cannot hold more than
// MaxPerAddr connections.
func TestBridgeFloodAndAddressCap(t *testing.T) {
	e := newBridgeEnv(t, "full")
	nc, err := net.Dial("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := []byte(`{"header":{"type":"cti.query","name":"control.query.init","target":"CTI.CONTROL","requestId":"q"}}`)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	frame = append(frame, msg...)
	replies := make(chan []byte, 1<<16)
	go func() {
		defer close(replies)
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(nc, hdr[:]); err != nil {
				return
			}
			b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(nc, b); err != nil {
				return
			}
			replies <- b
		}
	}()
	_ = nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, err := nc.Write(frame); err != nil {
			break // closed by the server
		}
	}
	limited := 0
	for b := range replies {
		if bytes.Contains(b, []byte("rate limited")) {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("the flood was never answered rate limited")
	}
	t.Logf("flooding bridge connection disconnected after %d rate-limited answers", limited)

	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < bridge.DefaultMaxPerAddr; i++ {
		c, err := net.Dial("tcp", e.tcp)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	waitFor(t, 20*time.Second, "the connections to be served", func() bool { return e.srv.Bridge.Live() == bridge.DefaultMaxPerAddr })
	extra, err := net.Dial("tcp", e.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection %d of one address: %v, want closed at once", bridge.DefaultMaxPerAddr+1, err)
	}
}
