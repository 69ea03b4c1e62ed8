package conns

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// outboxServer serves one WebSocket whose outbox is handed to use before its writer runs; the
// returned channel receives Run's result.
func outboxServer(t *testing.T, b Bounds, overflows *atomic.Int32, use func(*Outbox)) (string, chan error) {
	t.Helper()
	ran := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, cork, err := Accept(w, r, nil, 5*time.Second)
		if err != nil {
			ran <- err
			return
		}
		o := NewOutbox(ws, cork, b, func() { overflows.Add(1) })
		go func() { _, _, _ = ws.Read(context.Background()) }() // reads the peer's close answer
		use(o)
		ran <- o.Run(context.Background())
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), ran
}

// readAll reads messages until the close; it returns them and the close code.
func readAll(t *testing.T, url string) ([]string, websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var got []string
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return got, websocket.CloseStatus(err)
		}
		got = append(got, string(b))
	}
}

// TestOutboxWritesInOrderThenCloses: what was queued before Close arrives whole and in order,
// then the close code; a Send after Close is refused.
func TestOutboxWritesInOrderThenCloses(t *testing.T) {
	var overflows atomic.Int32
	url, ran := outboxServer(t, Bounds{Messages: 100, Bytes: 1 << 20}, &overflows, func(o *Outbox) {
		for i := 0; i < 50; i++ {
			if !o.Send([]byte(fmt.Sprintf("m%d", i))) {
				t.Errorf("send %d refused", i)
			}
		}
		o.Close(CloseCallEnded, "done")
		if o.Send([]byte("late")) {
			t.Error("a send after Close was taken")
		}
	})
	got, code := readAll(t, url)
	if len(got) != 50 || got[0] != "m0" || got[49] != "m49" {
		t.Fatalf("received %d messages: %v", len(got), got)
	}
	if code != CloseCallEnded {
		t.Fatalf("close code %d, want %d", code, CloseCallEnded)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if overflows.Load() != 0 {
		t.Fatal("overflow reported without one")
	}
}

// TestOutboxOverflowClosesSlow: a send past either bound drops the queue and closes with
// CloseSlow; the overflow is reported once and later sends are refused.
func TestOutboxOverflowClosesSlow(t *testing.T) {
	for name, b := range map[string]Bounds{"messages": {Messages: 3, Bytes: 1 << 20}, "bytes": {Messages: 100, Bytes: 10}} {
		t.Run(name, func(t *testing.T) {
			var overflows atomic.Int32
			url, ran := outboxServer(t, b, &overflows, func(o *Outbox) {
				for i := 0; i < 3; i++ {
					_ = o.Send([]byte("four"))
				}
				if o.Send([]byte("more")) {
					t.Error("a send after the overflow was taken")
				}
				o.Close(CloseGoingAway, "a later close does not replace the slow one")
			})
			got, code := readAll(t, url)
			if len(got) != 0 || code != CloseSlow {
				t.Fatalf("received %v then close %d, want only close %d", got, code, CloseSlow)
			}
			<-ran
			if n := overflows.Load(); n != 1 {
				t.Fatalf("overflow reported %d times", n)
			}
		})
	}
}

// TestOutboxRunEndsWithContext: an idle writer returns when its context ends.
func TestOutboxRunEndsWithContext(t *testing.T) {
	o := NewOutbox(nil, nil, Bounds{Messages: 1, Bytes: 1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Run(ctx); err != context.Canceled {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

// TestOutboxSendPacedWaitsForTheWriter: paced sends into a full queue wait for the writer
// instead of overflowing; everything arrives in order and no overflow is reported.
func TestOutboxSendPacedWaitsForTheWriter(t *testing.T) {
	var overflows atomic.Int32
	url, ran := outboxServer(t, Bounds{Messages: 2, Bytes: 1 << 20}, &overflows, func(o *Outbox) {
		go func() {
			for i := 0; i < 200; i++ {
				if !o.SendPaced(context.Background(), []byte(fmt.Sprintf("m%d", i))) {
					t.Errorf("paced send %d refused", i)
				}
			}
			o.Close(CloseGoingAway, "")
		}()
	})
	got, code := readAll(t, url)
	if len(got) != 200 || got[0] != "m0" || got[199] != "m199" || code != CloseGoingAway {
		t.Fatalf("received %d messages then close %d", len(got), code)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if overflows.Load() != 0 {
		t.Fatal("a paced send overflowed")
	}
}
