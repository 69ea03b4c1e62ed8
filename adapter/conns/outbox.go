package conns

import (
	"context"
	"sync"

	"github.com/coder/websocket"
)

// Bounds limit what an Outbox holds before its connection counts as a slow consumer.
type Bounds struct {
	Messages int // queued messages at most
	Bytes    int // queued bytes at most
}

// Outbox is one WebSocket connection's bounded queue of outgoing text messages and its single
// writer. Any goroutine may Send or Close; only Run writes. Run drains everything queued into
// one flush (WriteBatch: one system write under the Cork's write deadline), so frames are never
// interleaved or cut. When the queue would pass its Bounds the connection is a slow consumer:
// the queue is dropped, nothing more is taken, and the writer sends CloseSlow after the frames
// already written (docs/close-codes.md). No lock is held across a write.
type Outbox struct {
	ws         *websocket.Conn
	cork       *Cork
	bounds     Bounds
	onOverflow func() // called once, on the sender's goroutine, when the queue overflowed

	mu      sync.Mutex // guards the fields below
	q       [][]byte
	size    int
	closing bool // a close was asked for (or the queue overflowed): nothing more is queued
	code    websocket.StatusCode
	reason  string

	wake    chan struct{} // buffer 1: something was queued or a close was asked for
	drained chan struct{} // buffer 1: the writer took the queue
}

// NewOutbox returns the outbox of ws (accepted over cork by Accept). onOverflow may be nil.
func NewOutbox(ws *websocket.Conn, cork *Cork, b Bounds, onOverflow func()) *Outbox {
	return &Outbox{ws: ws, cork: cork, bounds: b, onOverflow: onOverflow, wake: make(chan struct{}, 1),
		drained: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (o *Outbox) notify() { signal(o.wake) }

// fitsLocked reports whether p fits the queue; a queue holding nothing takes any one message.
func (o *Outbox) fitsLocked(p []byte) bool {
	return len(o.q) == 0 || len(o.q) < o.bounds.Messages && o.size+len(p) <= o.bounds.Bytes
}

// SendPaced queues p like Send, but while p does not fit it waits for the writer to take the
// queue instead of overflowing: for a source that can wait without losing anything, such as a
// replay from the event log. It returns false when the connection is closing or ctx ended.
func (o *Outbox) SendPaced(ctx context.Context, p []byte) bool {
	for {
		o.mu.Lock()
		if o.closing {
			o.mu.Unlock()
			return false
		}
		if o.fitsLocked(p) {
			o.q = append(o.q, p)
			o.size += len(p)
			o.mu.Unlock()
			o.notify()
			return true
		}
		o.mu.Unlock()
		select {
		case <-o.drained:
		case <-ctx.Done():
			return false
		}
	}
}

// Send queues p. It returns false when the connection is closing (nothing more is sent) or p
// overflowed the queue, which closes the connection with CloseSlow.
func (o *Outbox) Send(p []byte) bool {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	if !o.fitsLocked(p) {
		clear(o.q)
		o.q, o.size = nil, 0
		o.closing, o.code = true, CloseSlow
		o.reason = "too slow: the send queue overflowed; reconnect and resume from your last seq"
		o.mu.Unlock()
		o.notify()
		if o.onOverflow != nil {
			o.onOverflow()
		}
		return false
	}
	o.q = append(o.q, p)
	o.size += len(p)
	o.mu.Unlock()
	o.notify()
	return true
}

// Close asks the writer to write what is queued, then close with code; the first request wins.
func (o *Outbox) Close(code websocket.StatusCode, reason string) {
	o.mu.Lock()
	if !o.closing {
		o.closing, o.code, o.reason = true, code, reason
	}
	o.mu.Unlock()
	o.notify()
}

// Run is the writer. It returns after it wrote the close frame (and the close handshake ended,
// bounded by the WebSocket library), when a flush failed (the Cork closed the connection: the
// peer took nothing within the write timeout), or when ctx ended (nothing more is written).
func (o *Outbox) Run(ctx context.Context) error {
	for {
		o.mu.Lock()
		batch, closing, code, reason := o.q, o.closing, o.code, o.reason
		o.q, o.size = nil, 0
		o.mu.Unlock()
		if len(batch) > 0 {
			signal(o.drained)
			if err := WriteBatch(o.ws, o.cork, batch); err != nil {
				return err
			}
			continue // a close asked for meanwhile goes after what was queued before it
		}
		if closing {
			return o.ws.Close(code, ClipReason(reason))
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
