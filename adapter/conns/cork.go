package conns

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// maxPooled is the largest flush buffer put back in the pool; a larger one (a burst of big
// events) is left to the garbage collector.
const maxPooled = 64 << 10

// flushBufs are the flush buffers, shared by every connection: a connection holds one only
// while it flushes, so an idle connection holds none.
var flushBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getBuf() []byte { return (*flushBufs.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= maxPooled {
		b = b[:0]
		flushBufs.Put(&b)
	}
}

// bufSize is the size of a WebSocket's read and write buffers.
const bufSize = 512

// Cork is the network connection under a WebSocket. While held, what the WebSocket library
// writes (it flushes every frame) is gathered instead of written, and Release writes it all in
// one system write under a write deadline: one write(2) for a whole batch of events instead of
// one per event. Writes of other goroutines (pings, a close frame) while the cork is held join
// the batch in order; the library's own frame lock keeps frames whole.
type Cork struct {
	net.Conn
	timeout  time.Duration
	draining atomic.Bool
	pause    func() // between the reads of a draining connection (tests replace it)

	mu   sync.Mutex // guards held and buf
	held bool
	buf  []byte // from flushBufs while a batch is gathered
}

// drainPause and drainChunk pace the reads of a draining connection: at most 512 bytes every
// 5 ms (100 KB/s).
const (
	drainPause = 5 * time.Millisecond
	drainChunk = 512
)

// Drain paces the connection's reads from now on. Call it before closing a connection for
// flooding: the library's close handshake reads and discards, byte by byte, everything the peer
// still sends until its close frame arrives (up to 5 s). Unpaced, that loop takes a core away
// from every other connection while the flooder keeps writing; paced, the flooder's writes
// block on TCP flow control and the handshake still completes.
func (c *Cork) Drain() { c.draining.Store(true) }

// Read reads from the connection, paced while draining.
func (c *Cork) Read(p []byte) (int, error) {
	if c.draining.Load() {
		if c.pause != nil {
			c.pause()
		} else {
			time.Sleep(drainPause)
		}
		p = p[:min(len(p), drainChunk)]
	}
	return c.Conn.Read(p)
}

// Write writes p now, or adds it to the batch while the cork is held.
func (c *Cork) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.held {
		if c.buf == nil {
			c.buf = getBuf()
		}
		c.buf = append(c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// Hold starts a batch.
func (c *Cork) Hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// Release writes the batch, each part within the write timeout, and ends it. A write that
// does not complete in time closes the connection (the peer stopped reading) and returns the
// error.
func (c *Cork) Release() error {
	for {
		c.mu.Lock()
		if len(c.buf) == 0 {
			c.held = false
			c.mu.Unlock()
			return nil
		}
		out := c.buf
		c.buf = nil // what other goroutines write meanwhile starts a new buffer
		c.mu.Unlock()
		err := c.writeOut(out)
		putBuf(out)
		if err != nil {
			c.mu.Lock()
			c.held = false
			if c.buf != nil {
				putBuf(c.buf)
				c.buf = nil
			}
			c.mu.Unlock()
			_ = c.Conn.Close()
			return err
		}
	}
}

func (c *Cork) writeOut(p []byte) error {
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
		defer c.Conn.SetWriteDeadline(time.Time{}) //nolint:errcheck // the connection may be gone
	}
	_, err := c.Conn.Write(p)
	return err
}

// corkedWriter hands the WebSocket library a corked connection when it hijacks the request.
type corkedWriter struct {
	http.ResponseWriter
	timeout time.Duration
	cork    *Cork
}

func (w *corkedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.cork = &Cork{Conn: nc, timeout: w.timeout}
	// Small buffers in place of net/http's 4 KiB ones (8 KiB of an idle connection's memory):
	// the cork gathers what is written, and large reads bypass a bufio.Reader anyway. The
	// writer is empty (the upgrade response is written after the hijack); the reader is kept
	// when the client already sent bytes behind its request.
	brw.Writer = bufio.NewWriterSize(w.cork, bufSize)
	if brw.Reader.Buffered() == 0 {
		brw.Reader = bufio.NewReaderSize(nc, bufSize)
	}
	return w.cork, brw, nil
}

// Accept upgrades r like websocket.Accept, over a Cork whose flushes are bounded by
// writeTimeout. The cork is nil when the upgrade failed.
func Accept(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions, writeTimeout time.Duration) (*websocket.Conn, *Cork, error) {
	cw := &corkedWriter{ResponseWriter: w, timeout: writeTimeout}
	ws, err := websocket.Accept(cw, r, opts)
	if err != nil {
		return nil, nil, err
	}
	return ws, cw.cork, nil
}

// WriteBatch writes msgs as text messages, in order, in one system write.
func WriteBatch(ws *websocket.Conn, cork *Cork, msgs [][]byte) error {
	cork.Hold()
	for _, m := range msgs {
		if err := ws.Write(context.Background(), websocket.MessageText, m); err != nil {
			_ = cork.Release()
			return err
		}
	}
	return cork.Release()
}
