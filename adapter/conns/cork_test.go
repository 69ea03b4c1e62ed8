package conns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// countingConn counts the writes that reach the network.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	data   strings.Builder
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	c.data.Write(p)
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

func TestCorkOneWritePerBatch(t *testing.T) {
	nc := &countingConn{}
	c := &Cork{Conn: nc, timeout: time.Second}
	c.Hold()
	for i := 0; i < 10; i++ {
		_, _ = fmt.Fprintf(c, "m%d;", i)
	}
	if nc.writes != 0 {
		t.Fatalf("%d writes while held", nc.writes)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if nc.writes != 1 || nc.data.String() != "m0;m1;m2;m3;m4;m5;m6;m7;m8;m9;" {
		t.Fatalf("%d writes of %q", nc.writes, nc.data.String())
	}
	_, _ = c.Write([]byte("now"))
	if nc.writes != 2 {
		t.Fatalf("an unheld write was not passed through (%d writes)", nc.writes)
	}
}

// TestWriteBatchOverWebSocket: a batch written through a real WebSocket arrives whole and in
// order, as separate messages.
func TestWriteBatchOverWebSocket(t *testing.T) {
	const n = 500
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, cork, err := Accept(w, r, nil, 5*time.Second)
		if err != nil {
			done <- err
			return
		}
		var batch [][]byte
		for i := 0; i < n; i++ {
			batch = append(batch, []byte(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", i))))
		}
		err = WriteBatch(ws, cork, batch)
		if err == nil {
			err = ws.Close(CloseSlow, "resume from your last seq")
		}
		done <- err
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow() //nolint:errcheck
	for i := 0; i < n; i++ {
		_, b, err := ws.Read(ctx)
		want := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", i))
		if err != nil || string(b) != want {
			t.Fatalf("message %d: %.40q, %v", i, b, err)
		}
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != CloseSlow {
		t.Fatalf("after the batch: %v, want close 4008", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestClipReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	got := ClipReason(long)
	if len(got) > maxReason || !strings.HasPrefix(long, got) || len(got)%2 != 0 {
		t.Fatalf("clipped to %d bytes", len(got))
	}
	if ClipReason("short") != "short" {
		t.Fatal("a short reason was changed")
	}
}

// TestCorkDrainPacesTheCloseHandshake: a peer that keeps writing while the server closes it for
// flooding. With Drain, the library's close handshake reads through the pause, at most
// drainChunk bytes a read, and the peer still gets the close code.
func TestCorkDrainPacesTheCloseHandshake(t *testing.T) {
	var pauses atomic.Int64
	closed := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, cork, err := Accept(w, r, nil, time.Second)
		if err != nil {
			return
		}
		cork.pause = func() { pauses.Add(1) }
		if _, _, err := ws.Read(r.Context()); err != nil { // the flood has begun
			closed <- err
			return
		}
		cork.Drain()
		closed <- ws.Close(ClosePolicy, "frame flood")
	}))
	defer srv.Close()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	got := make(chan websocket.StatusCode, 1)
	go func() {
		_, _, err := ws.Read(context.Background())
		got <- websocket.CloseStatus(err)
	}()
	frame := []byte(strings.Repeat("x", 100))
	for ws.Write(t.Context(), websocket.MessageText, frame) == nil {
	}
	if code := <-got; code != ClosePolicy {
		t.Fatalf("the flooder read close code %d, want %d", code, ClosePolicy)
	}
	if err := <-closed; err != nil {
		t.Fatalf("server close: %v", err)
	}
	if pauses.Load() == 0 {
		t.Fatal("the close handshake read without the drain's pause")
	}
}
