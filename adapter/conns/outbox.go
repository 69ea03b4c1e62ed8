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

// Sink is what an Outbox writes to: a WebSocket (NewOutbox) or another message transport (the
// bridge's length-prefixed TCP stream).
type Sink interface {
	// WriteBatch writes the messages in order, in one system write, within the write timeout.
	WriteBatch(msgs [][]byte) error
	// Close ends the connection with code (0: at once, without a close handshake).
	Close(code websocket.StatusCode, reason string) error
}

// wsSink writes text frames to a WebSocket accepted over its Cork.
type wsSink struct {
	ws   *websocket.Conn
	cork *Cork
}

func (s wsSink) WriteBatch(msgs [][]byte) error { return WriteBatch(s.ws, s.cork, msgs) }

func (s wsSink) Close(code websocket.StatusCode, reason string) error {
	if code == 0 {
		return s.ws.CloseNow()
	}
	if s.cork != nil {
		s.cork.Drain() // the handshake reads what the peer still sends, paced (Cork.Drain)
	}
	return s.ws.Close(code, ClipReason(reason))
}

// Outbox is one connection's bounded queue of outgoing messages and its single writer. Any
// goroutine may Send or Close; only Run writes. Run drains everything queued into one flush
// (one system write under the write deadline: WriteBatch on a WebSocket), so frames are never
// interleaved or cut. When the queue would pass its Bounds the connection is a slow consumer:
// the queue is dropped, nothing more is taken, and the writer sends the slow-consumer close
// (CloseSlow unless SlowClose says otherwise) after the frames already written
// (docs/close-codes.md). No lock is held across a write.
type Outbox struct {
	sink       Sink
	bounds     Bounds
	onOverflow func() // called once, on the sender's goroutine, when the queue overflowed
	slowCode   websocket.StatusCode
	slowReason string

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
	return NewSinkOutbox(wsSink{ws, cork}, b, onOverflow)
}

// NewSinkOutbox returns an outbox that writes to sink. onOverflow may be nil.
func NewSinkOutbox(sink Sink, b Bounds, onOverflow func()) *Outbox {
	return &Outbox{sink: sink, bounds: b, onOverflow: onOverflow, wake: make(chan struct{}, 1),
		drained: make(chan struct{}, 1), slowCode: CloseSlow,
		slowReason: "too slow: the send queue overflowed; reconnect and resume from your last seq"}
}

// SlowClose sets the code and reason of the slow-consumer close (for a protocol that promised
// its clients another code than CloseSlow). Call it before the outbox is used.
func (o *Outbox) SlowClose(code websocket.StatusCode, reason string) *Outbox {
	o.slowCode, o.slowReason = code, reason
	return o
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
		o.closing, o.code, o.reason = true, o.slowCode, o.slowReason
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

// Close asks the writer to write what is queued, then close with code (0: without a close
// handshake); the first request wins.
func (o *Outbox) Close(code websocket.StatusCode, reason string) {
	o.mu.Lock()
	if !o.closing {
		o.closing, o.code, o.reason = true, code, reason
	}
	o.mu.Unlock()
	o.notify()
}

// Abort drops what is queued and asks the writer to close with code, unless a close was asked
// for already (the first request wins; what it queued is then still written).
func (o *Outbox) Abort(code websocket.StatusCode, reason string) {
	o.mu.Lock()
	if !o.closing {
		clear(o.q)
		o.q, o.size = nil, 0
		o.closing, o.code, o.reason = true, code, reason
	}
	o.mu.Unlock()
	o.notify()
}

// Closing reports whether a close was asked for (or the queue overflowed): nothing more is
// queued.
func (o *Outbox) Closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closing
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
			if err := o.sink.WriteBatch(batch); err != nil {
				return err
			}
			continue // a close asked for meanwhile goes after what was queued before it
		}
		if closing {
			return o.sink.Close(code, reason)
		}
		select {
		case <-o.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
