package vox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/command"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
)

// conn is one CTI WebSocket connection. Two goroutines run it: the reader (the HTTP handler's
// goroutine: reads frames, answers them, subscribes on connected) and the writer (owns every
// write after connection_accepted: events, replies, keepalive, closing). They talk over out and
// kick; the subscription belongs to the writer once handed over.
type conn struct {
	h        *Handler
	acct     string
	actor    core.Actor
	claims   *auth.Claims
	senderID string

	ws     *websocket.Conn
	cork   *conns.Cork     // under ws: batches the writer's flushes into one write
	ctx    context.Context // ends when the reader has returned
	cancel context.CancelFunc

	lastHeard atomic.Int64 // unix nanos of the last frame or pong from the peer
	pinging   atomic.Bool  // a ping is waiting for its pong
	pings     sync.WaitGroup

	out        chan outMsg   // reader -> writer: replies and the subscription
	kicks      chan closeMsg // anyone -> writer: close with this code (buffer 1)
	writerDone chan struct{}
	stalled    atomic.Bool // a flush did not complete within WriteTimeout

	// Writer-owned.
	sub       *hub.Subscription
	batch     [][]byte
	batchSize int

	// Reader-owned.
	connected bool
	limiter   conns.Frames
}

// outMsg is handed from the reader to the writer: a frame to send, or (once) the subscription
// with the resync_required frame to send before its events, if any.
type outMsg struct {
	frame []byte
	sub   *hub.Subscription
}

type closeMsg struct {
	code   websocket.StatusCode
	reason string
}

func newConn(h *Handler, claims *auth.Claims) *conn {
	c := &conn{
		h: h, acct: claims.Account, claims: claims, senderID: newSenderID(),
		actor:      core.ActorFrom(claims, core.ViaIntegrator),
		out:        make(chan outMsg, 4),
		kicks:      make(chan closeMsg, 1),
		writerDone: make(chan struct{}),
	}
	c.heard()
	return c
}

// logger is the connection's logger, built when something is logged: a logger kept per idle
// connection costs about half a KiB.
func (c *conn) logger() *slog.Logger {
	return c.h.Log.With("account", c.acct, "sender_id", c.senderID, "jti", c.claims.ID)
}

func (c *conn) heard() { c.lastHeard.Store(time.Now().UnixNano()) }

// kick asks the writer to close the connection with code; the first request wins.
func (c *conn) kick(code websocket.StatusCode, reason string) {
	select {
	case c.kicks <- closeMsg{code, reason}:
	default:
	}
}

// serve runs an upgraded connection until it ends.
func (c *conn) serve(ws *websocket.Conn, cork *conns.Cork) {
	c.ws, c.cork = ws, cork
	ws.SetReadLimit(c.h.opts.HardReadLimit)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.limiter = conns.NewFrames(c.h.opts.CommandRate, c.h.opts.CommandBurst, time.Now())
	c.logger().Debug("vox: connection opened")

	if c.write(encodeAccepted(c.senderID)) {
		go c.writeLoop()
		c.readLoop()
		c.cancel()
		<-c.writerDone
	} else {
		c.cancel()
	}
	// The reader has returned: nothing sends on out any more. Close a subscription the writer
	// never took.
	for {
		select {
		case m := <-c.out:
			if m.sub != nil {
				m.sub.Close()
			}
			continue
		default:
		}
		break
	}
	_ = c.ws.CloseNow()
	c.pings.Wait()
	c.logger().Debug("vox: connection closed", "stalled", c.stalled.Load())
}

// readLoop reads and answers client frames until the connection fails or closes.
func (c *conn) readLoop() {
	for {
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			return
		}
		raw, size, err := conns.ReadMessage(r, c.h.opts.ReadLimit)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// beyond HardReadLimit: the library sent 1009; finish the close handshake (it
				// skips the rest of the frame) so that the client reads the code
				c.close(websocket.StatusMessageTooBig, "")
			}
			return
		}
		c.heard()
		if !c.handle(typ, raw, size) {
			return
		}
	}
}

// handle applies the frame limit on the reader, then answers the frame (size bytes; raw is nil
// when it was larger than ReadLimit) on a goroutine of its own, waiting for it: decoding,
// validating and running a command need a deep stack, and the reader's would keep that depth
// for the life of the connection (an idle connection's largest cost). Frames that pass the
// limit are at most 20 a second, so the spawn costs nothing that matters. It returns false when
// the connection is over.
func (c *conn) handle(typ websocket.MessageType, raw []byte, size int64) bool {
	now := time.Now()
	switch c.limiter.Check(now) {
	case conns.Refuse:
		return c.reply(encodeError(&protoError{RequestID: peekRequestID(raw), Code: CodeRateLimited,
			Message: "too many frames: at most " + rateText(c.h.opts) + "; this frame was not processed"}))
	case conns.Pace: // flooding: stop reading until a token is there, then handle the frame
		if !c.limiter.Pace(c.ctx, time.Now) {
			return false
		}
	case conns.Close:
		// Close from here and stop reading: a reader that went on would read the flood unpaced
		// until the close handshake ended. The library serialises this close frame with the
		// writer's frames, and reads the peer's answer itself since nobody else reads.
		c.close(conns.ClosePolicy, "frame flood: more than twice the frame budget for three seconds")
		return false
	}
	done := make(chan bool, 1)
	go func() { done <- c.answer(typ, raw, size, now) }()
	return <-done
}

// answer answers one frame that passed the limit.
func (c *conn) answer(typ websocket.MessageType, raw []byte, size int64, now time.Time) bool {
	if raw == nil {
		return c.reply(encodeError(&protoError{Code: CodeInvalidMessage,
			Message: fmt.Sprintf("frame of %d bytes exceeds the %d-byte (%d KiB) limit; it was not processed",
				size, c.h.opts.ReadLimit, c.h.opts.ReadLimit>>10)}))
	}
	if typ != websocket.MessageText {
		return c.reply(encodeError(&protoError{Code: CodeInvalidMessage,
			Message: "binary frames are not accepted: send each JSON message as a text frame"}))
	}
	f, perr := decodeFrame(c.h.Schemas, raw, session{connected: c.connected, senderID: c.senderID})
	if perr != nil {
		return c.reply(encodeError(perr))
	}
	switch f.kind {
	case kindConnected:
		return c.connect(f.resumeFrom)
	case kindCommand:
		if ok, wait := c.h.Budget.Take(c.acct, 1); !ok {
			return c.reply(encodeError(&protoError{RequestID: f.requestID, Code: CodeRateLimited,
				Message: "the account is over its share of the server; " + conns.RetryIn(wait)}))
		}
		return c.command(f, now)
	}
	return true
}

// connect subscribes to the account's events. resume_from 0 replays everything retained; N > 0
// replays seq > N, or answers resync_required when N is older than retention or ahead of the log.
func (c *conn) connect(resumeFrom int64) bool {
	from := resumeFrom
	if resumeFrom == 0 {
		oldest, err := c.h.Hub.OldestSeq(c.ctx, c.acct)
		if err != nil {
			return c.internal("", "read oldest seq", err)
		}
		from = max(oldest-1, 0)
	}
	sub, err := c.h.Hub.Subscribe(c.ctx, c.acct, from)
	var resync []byte
	if oldest, ok := hub.IsResync(err); ok {
		resync = encodeResync(oldest)
	} else if err != nil {
		return c.internal("", "subscribe", err)
	}
	c.connected = true
	m := outMsg{frame: resync, sub: sub}
	select {
	case c.out <- m:
		return true
	case <-c.writerDone:
		sub.Close()
		return false
	}
}

// command runs a command through the core and answers command_result or error.
func (c *conn) command(f frame, start time.Time) bool {
	name := f.cmd.Name()
	var runner command.Runner = command.Local{Core: c.h.Core}
	if c.h.Commands != nil {
		runner = c.h.Commands
	}
	res, err := runner.RunCommand(c.ctx, f.cmd, c.actor)
	if o := c.h.latency[name]; o != nil {
		o.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		code := Code(err)
		if code == CodeInternal {
			return c.internal(f.requestID, name, err)
		}
		return c.reply(encodeError(&protoError{RequestID: f.requestID, Code: code, Message: err.Error()}))
	}
	b, err := encodeResult(f.requestID, res)
	if err != nil {
		return c.internal(f.requestID, name, err)
	}
	return c.reply(b)
}

// internal logs err and answers internal without its details.
func (c *conn) internal(requestID, what string, err error) bool {
	if c.ctx.Err() != nil {
		return false
	}
	c.logger().Error("vox: "+what, "err", err)
	return c.reply(encodeError(&protoError{RequestID: requestID, Code: CodeInternal,
		Message: "the server could not complete this request; try again"}))
}

// reply hands a frame to the writer. It returns false once the writer has stopped.
func (c *conn) reply(frame []byte) bool {
	select {
	case c.out <- outMsg{frame: frame}:
		return true
	case <-c.writerDone:
		return false
	}
}

// alwaysReady is a closed channel: a select case on it is always ready.
var alwaysReady = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Batch bounds: one flush carries at most this many messages or (about) this many bytes.
const (
	batchMessages = 256
	batchBytes    = 256 << 10
)

// writeLoop owns the connection's writes: replayed then live events, replies, pings, and the
// close frame. Everything queued when it wakes goes out in one flush (one write(2)). It returns
// when the connection is closed or the reader has returned.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.ws.CloseNow() //nolint:errcheck // unblocks the reader when the writer gives up
	defer func() {
		if c.sub != nil {
			c.sub.Close()
		}
	}()
	ping := time.NewTicker(c.h.opts.PingInterval)
	defer ping.Stop()
	tokenDone, stopWatch := c.h.Auth.Watch(c.claims)
	defer stopWatch()
	closing := c.h.Conns.Closing()
	for {
		var replay, live <-chan struct{}
		if c.sub != nil {
			if c.sub.CatchingUp() {
				replay = alwaysReady
			} else {
				live = c.sub.Ready()
			}
		}
		select {
		case <-c.ctx.Done():
			return
		case <-closing:
			c.close(conns.CloseGoingAway, "server shutting down: reconnect with resume_from")
			return
		case <-tokenDone:
			c.closeForToken()
			return
		case k := <-c.kicks:
			c.close(k.code, k.reason)
			return
		case <-ping.C:
			if !c.keepalive() {
				return
			}
		case m := <-c.out:
			if !c.take(m) || !c.gather() || !c.flush() {
				return
			}
		case <-replay:
			if !c.replay() || !c.flush() {
				return
			}
		case <-live:
			if !c.gatherLive() || !c.gather() || !c.flush() {
				return
			}
		}
	}
}

// take adds a reply to the batch, or takes over the subscription. The events already queued go
// first: the command being answered waited for its own events to be fanned out, so they
// precede its command_result.
func (c *conn) take(m outMsg) bool {
	if m.sub != nil {
		c.sub = m.sub
	} else if c.sub != nil && !c.sub.CatchingUp() && !c.gatherLive() {
		return false
	}
	if m.frame != nil {
		c.add(m.frame)
	}
	return true
}

// gather adds to the batch whatever else is queued (live events and replies, in order) until
// the batch is full.
func (c *conn) gather() bool {
	for !c.full() {
		if c.sub != nil && !c.sub.CatchingUp() && !c.gatherLive() {
			return false
		}
		select {
		case m := <-c.out:
			if !c.take(m) {
				return false
			}
			continue
		default:
		}
		return true
	}
	return true
}

// gatherLive adds the live events already queued, up to a full batch.
func (c *conn) gatherLive() bool {
	if c.sub == nil {
		return true
	}
	if errors.Is(c.sub.Err(), hub.ErrSlowConsumer) {
		// dropped: close at once rather than write the queue to a peer that cannot keep up
		return c.ended()
	}
	var buf [64]*event.Event
	for !c.full() {
		evs, ended := c.sub.Live(buf[:0], min(len(buf), batchMessages-len(c.batch)))
		for _, ev := range evs {
			c.add(ev.Wire())
		}
		if ended {
			return c.ended()
		}
		if len(evs) < len(buf) {
			break
		}
	}
	return true
}

// ended closes the connection once its live stream ended: after what is batched, with 4008 for a
// subscriber the hub dropped (its queue overflowed; it resumes from the last seq it received,
// and receives the close frame because no frame is cut for it), else 1001.
func (c *conn) ended() bool {
	c.flush()
	if errors.Is(c.sub.Err(), hub.ErrSlowConsumer) {
		c.close(conns.CloseSlow, "too slow: events were dropped for this connection; reconnect with resume_from")
	} else {
		c.close(CloseGoingAway, "event stream closed: reconnect with resume_from")
	}
	return false
}

// replay adds up to a batch of logged events while catching up.
func (c *conn) replay() bool {
	for c.sub.CatchingUp() && !c.full() {
		ev, err := c.sub.Next(c.ctx)
		if err != nil {
			if oldest, ok := hub.IsResync(err); ok { // pruned while catching up
				c.add(encodeResync(oldest))
				return true
			}
			if c.ctx.Err() == nil {
				c.logger().Error("vox: replay", "err", err)
				c.flush()
				c.close(CloseInternal, "the event log could not be read: reconnect with resume_from")
			}
			return false
		}
		c.add(ev.Wire())
	}
	return true
}

func (c *conn) add(p []byte) {
	c.batch = append(c.batch, p)
	c.batchSize += len(p)
}

func (c *conn) full() bool { return len(c.batch) >= batchMessages || c.batchSize >= batchBytes }

// flush writes the batch in one system write; a batch not taken within WriteTimeout ends the
// connection (the socket is closed under the blocked write).
func (c *conn) flush() bool {
	if len(c.batch) == 0 {
		return true
	}
	err := conns.WriteBatch(c.ws, c.cork, c.batch)
	clear(c.batch)
	if cap(c.batch) > batchMessages {
		c.batch = nil
	}
	c.batch, c.batchSize = c.batch[:0], 0
	if err != nil {
		c.stalled.Store(true)
		return false
	}
	return true
}

// write sends one text frame on its own.
func (c *conn) write(p []byte) bool {
	c.add(p)
	return c.flush()
}

// closeForToken closes with 4001 when the token was revoked or expired.
func (c *conn) closeForToken() {
	why := "token revoked: get a new token, then reconnect with resume_from"
	if c.claims.ExpiresAt != nil && !time.Now().Before(c.claims.ExpiresAt.Time) {
		why = "token expired: get a new token, then reconnect with resume_from"
	}
	c.close(CloseTokenInvalid, why)
}

// keepalive reaps a peer silent for two ping intervals and otherwise sends a ping (its pong
// is awaited on another goroutine so that events keep flowing).
func (c *conn) keepalive() bool {
	silent := time.Since(time.Unix(0, c.lastHeard.Load()))
	if silent > 2*c.h.opts.PingInterval {
		c.close(CloseResume, "no pong within two ping intervals: reconnect with resume_from")
		return false
	}
	if c.pinging.CompareAndSwap(false, true) {
		c.pings.Add(1)
		go func() {
			defer c.pings.Done()
			defer c.pinging.Store(false)
			ctx, cancel := context.WithTimeout(c.ctx, 2*c.h.opts.PingInterval)
			defer cancel()
			_ = c.ws.Ping(ctx) // the pong is recorded by OnPongReceived
		}()
	}
	return true
}

// close sends a close frame with code and waits (bounded by the library: 5s to write it, 5s for
// the peer's answer) for the close handshake.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.logger().Debug("vox: closing", "code", int(code), "reason", reason)
	if c.cork != nil {
		c.cork.Drain() // the handshake reads what the peer still sends, paced (Cork.Drain)
	}
	_ = c.ws.Close(code, conns.ClipReason(reason))
}

func rateText(o Options) string {
	return strconv.FormatFloat(o.CommandRate, 'f', -1, 64) + " frames per second (burst " + strconv.Itoa(o.CommandBurst) + ")"
}
