package bridge_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/bridge"
)

// TestPartialFrameAfterLoginIsDisconnected: a logged-in TCP bridge that sends only part of a
// frame is disconnected once the frame timeout passes (the login timeout no longer applies).
func TestPartialFrameAfterLoginIsDisconnected(t *testing.T) {
	w := newWorld(t)
	b := bridge.New(bridge.Deps{Auth: w.srv.Auth, Hub: w.srv.Hub, Core: w.srv.Core, Users: w.srv.Store,
		Schemas: w.srv.Schemas, LoginTimeout: time.Hour, FrameTimeout: 200 * time.Millisecond})
	ln, err := b.ListenTCP("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ln.Serve() }()
	t.Cleanup(func() {
		_ = ln.Close()
		<-served
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	login := `{"header":{"type":"cti.request","name":"control.request.login","target":"CTI.CONTROL","requestId":"1"},"body":{"token":"` + w.token(t, "a1") + `"}}`
	if _, err := nc.Write(frame(login)); err != nil {
		t.Fatal(err)
	}
	reply := readTCPFrame(t, nc)
	if !strings.Contains(reply, `"SUCCESS"`) {
		t.Fatalf("login: %s", reply)
	}
	// Three bytes of a length prefix, then nothing.
	if _, err := nc.Write([]byte{0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		if _, err := readFrameOrErr(nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the partial frame held the connection open for 30 s")
			}
			break // closed by the server
		}
	}
	t.Logf("disconnected %v after the partial frame (frame timeout 200ms)", time.Since(start).Round(time.Millisecond))
}

func readTCPFrame(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := readFrameOrErr(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFrameOrErr(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}
