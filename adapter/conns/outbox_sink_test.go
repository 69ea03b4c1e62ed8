package conns

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// recordSink records what an Outbox writes (the bridge's TCP transport is such a sink).
type recordSink struct {
	mu      sync.Mutex
	batches [][]string
	code    websocket.StatusCode
	reason  string
	closed  int
}

func (s *recordSink) WriteBatch(msgs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []string
	for _, m := range msgs {
		b = append(b, string(m))
	}
	s.batches = append(s.batches, b)
	return nil
}

func (s *recordSink) Close(code websocket.StatusCode, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code, s.reason = code, reason
	s.closed++
	return nil
}

// TestSinkOutbox: queued messages go out in one batch, in order; an overflow closes with the
// SlowClose code after nothing more; Abort drops what is queued; the first close wins.
func TestSinkOutbox(t *testing.T) {
	t.Run("batch then close", func(t *testing.T) {
		s := &recordSink{}
		o := NewSinkOutbox(s, Bounds{Messages: 10, Bytes: 1 << 10}, nil)
		o.Send([]byte("a"))
		o.Send([]byte("b"))
		o.Close(websocket.StatusGoingAway, "bye")
		o.Close(CloseSlow, "second") // loses
		if o.Send([]byte("c")) || !o.Closing() {
			t.Fatal("a message was queued after the close")
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(s.batches) != 1 || !slices.Equal(s.batches[0], []string{"a", "b"}) || s.code != websocket.StatusGoingAway || s.closed != 1 {
			t.Fatalf("batches %v, close %d %q x%d", s.batches, s.code, s.reason, s.closed)
		}
	})
	t.Run("overflow with the protocol's code", func(t *testing.T) {
		s := &recordSink{}
		overflows := 0
		o := NewSinkOutbox(s, Bounds{Messages: 2, Bytes: 1 << 10}, func() { overflows++ }).SlowClose(CloseTryLater, "too slow")
		o.Send([]byte("a"))
		o.Send([]byte("b"))
		if o.Send([]byte("c")) {
			t.Fatal("the third message fit a queue of two")
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(s.batches) != 0 || s.code != CloseTryLater || s.reason != "too slow" || overflows != 1 {
			t.Fatalf("batches %v, close %d %q, overflows %d", s.batches, s.code, s.reason, overflows)
		}
	})
	t.Run("abort drops the queue", func(t *testing.T) {
		s := &recordSink{}
		o := NewSinkOutbox(s, Bounds{Messages: 10, Bytes: 1 << 10}, nil)
		o.Send([]byte("a"))
		o.Abort(CloseTryLater, "lost")
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(s.batches) != 0 || s.code != CloseTryLater || s.reason != "lost" {
			t.Fatalf("batches %v, close %d %q", s.batches, s.code, s.reason)
		}
	})
}
