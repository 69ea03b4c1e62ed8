package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// conn is one bridge connection: at most one agent login (a core desktop session) at a time.
//
// Goroutines: the transport's reader (always; it decodes and handles requests one at a time),
// the writer (conns.Outbox.Run: every write, in whole flushes, then the close), and one
// goroutine per senddtmf in flight. Events are rendered by the account's feed goroutine under mu. The bridge's token
// sweeper ends a login whose token was revoked or expired (tokenEnded).
type conn struct {
	b         *Bridge
	t         transport
	release   func()
	ctx       context.Context // cancelled when the connection ends
	cancel    context.CancelFunc
	urlClaims *auth.Claims // WebSocket token of the upgrade request, nil if none
	hdr       [4]byte      // TCP length prefix buffer
	wg        sync.WaitGroup
	login     *time.Timer
	frames    conns.Frames // reader-owned

	out *conns.Outbox // every message to the peer, in order; its writer is the only one that writes

	mu     sync.Mutex // guards everything below
	closed bool       // ended: nothing more is queued or started
	ending bool       // teardown is waiting for the connection's goroutines: none may start

	feed          *feed
	sess          *core.Session
	actor         core.Actor
	name, ext     string
	controlInited bool
	mode          string      // the mode last reported on the control destination
	provisional   bool        // that report was the not-logged-in one (see provisionalBody)
	watch         *tokenWatch // the current login's watch on its token
	session       dest
	group         dest
	channel       *channel
	chat          *chatChannel            // nil unless the mode gives chat controls (chat.go)
	inter         map[string]*interaction // by interaction id
	byCall        map[string]*interaction // the newest interaction of each call
	released      []string                // released interaction ids, oldest first
}

func (b *Bridge) newConn(t transport, release func()) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{b: b, t: t, release: release, ctx: ctx, cancel: cancel, frames: conns.NewFrames(FrameRate, FrameBurst, time.Now())}
	// Messages are queued with c.mu held (send, the feed's rendering), so the overflow callback,
	// which runs on the sender's goroutine, may read the login.
	c.out = conns.NewSinkOutbox(sink{t}, conns.Bounds{Messages: math.MaxInt, Bytes: b.MaxQueued}, func() {
		b.log.Warn("bridge connection cannot keep up; closing it", "transport", t.kind(), "user_id", c.actor.UserID, "queued_bytes", b.MaxQueued)
		if b.Metrics != nil {
			b.Metrics.SubscribersDropped.Inc()
		}
	}).SlowClose(conns.CloseTryLater, "too slow: reconnect")
	c.wg.Add(1)
	go c.write()
	b.addLive(c)
	c.login = time.AfterFunc(b.LoginTimeout, func() {
		c.mu.Lock()
		in := c.sess != nil
		c.mu.Unlock()
		if !in {
			b.log.Info("bridge connection closed: no login", "transport", t.kind(), "after", b.LoginTimeout)
			c.closeAfterFlush(websocket.StatusPolicyViolation, "no login within "+b.LoginTimeout.String())
		}
	})
	return c
}

func (c *conn) serveTCP(nc net.Conn) {
	defer c.teardown()
	for {
		msg, n, err := readFrameWithin(nc, &c.hdr, c.b.FrameTimeout)
		switch {
		case errors.Is(err, errFrameTooLong):
			c.b.log.Warn("bridge tcp protocol error: length prefix far beyond 64 KiB; closing the connection",
				"remote", nc.RemoteAddr().String(), "length", n)
			c.send(encodeResponse(c.b.echoHeader(nil), tooBig(int64(n))+"; the connection is closed", nil))
			c.closeAfterFlush(websocket.StatusMessageTooBig, "")
			c.drainUntilClosed(nc)
			return
		case err != nil:
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				c.b.log.Debug("bridge tcp read", "err", err)
			}
			return
		case msg == nil && n > MaxMessage:
			c.send(encodeResponse(c.b.echoHeader(nil), tooBig(int64(n)), nil))
		default:
			c.handle(msg)
		}
	}
}

// drainUntilClosed reads and discards until the writer has closed the transport.
func (c *conn) drainUntilClosed(r io.Reader) {
	_, _ = io.Copy(io.Discard, r)
}

func (c *conn) serveWS(ws WS) {
	defer c.teardown()
	if c.urlClaims != nil {
		// the URL token logs the agent in at once: control.query.init then names the session,
		// and control.request.login ({} or the same agent's token) answers the same one
		ctx, cancel := c.cmdCtx()
		msg := c.loginAs(ctx, c.urlClaims, nil)
		cancel()
		if msg != "" {
			c.b.log.Info("bridge websocket login refused", "user_id", c.urlClaims.Subject, "err", msg)
			c.closeAfterFlush(websocket.StatusPolicyViolation, clipReason(msg))
		}
	}
	for {
		typ, r, err := ws.Reader(c.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
				c.b.log.Debug("bridge ws read", "err", err)
			}
			return
		}
		msg, n, err := readWSMessageWithin(ws, r, c.b.FrameTimeout)
		if err != nil {
			return
		}
		switch {
		case typ != websocket.MessageText:
			c.send(encodeResponse(c.b.echoHeader(nil), "binary frames are not accepted: send one JSON message per text frame", nil))
		case msg == nil:
			c.send(encodeResponse(c.b.echoHeader(nil), tooBig(n), nil))
		default:
			c.handle(msg)
		}
	}
}

// tokenEnded ends the login of w, whose token was revoked (in this process at once, from
// another within a second) or expired, on its own goroutine (the sweeper must not wait for it).
func (c *conn) tokenEnded(w *tokenWatch) {
	c.async(func() { c.endForToken(w) }) // false: the connection is ending, and so is the login
}

// endForToken ends w's login: the core session ends, session.ended is raised on an initialised
// session destination, and the connection closes after what is queued was written (WebSocket
// CloseToken, 4003; TCP just closes).
func (c *conn) endForToken(w *tokenWatch) {
	c.mu.Lock()
	current := c.watch == w
	c.mu.Unlock()
	if !current {
		return // that login already ended otherwise
	}
	c.b.log.Info("bridge session ended: token revoked or expired", "transport", c.t.kind(),
		"account", w.s.Account, "user_id", w.s.UserID, "session", w.s.ID)
	c.endSession(w.s, ReasonToken)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c.b.Core.EndSession(ctx, w.s)
	cancel()
	c.closeAfterFlush(CloseToken, ReasonToken)
}

// teardown ends the connection: what is queued is still written (a TCP peer may have only
// half-closed), its desktop session ends (the agent stays logged in for the account's grace
// period if it has no other session), and it leaves its feed.
func (c *conn) teardown() {
	c.mu.Lock()
	sess, f, w := c.sess, c.feed, c.watch
	c.sess, c.feed, c.watch = nil, nil, nil
	stopChat := c.dropChatLocked()
	c.out.Close(0, "") // nothing new is queued; the writer writes the rest, then closes
	c.ending = true    // no goroutine starts after this
	c.mu.Unlock()
	c.cancel()
	c.login.Stop()
	stopChat()
	if w != nil {
		c.b.removeWatch(w)
	}
	c.wg.Wait()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.t.close(0, "")
	if f != nil {
		c.b.leave(f, c)
	}
	if sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.b.Core.EndSession(ctx, sess)
		cancel()
	}
	c.b.removeLive(c)
	c.release()
}

// send queues a message for the writer.
func (c *conn) send(msg []byte) {
	c.mu.Lock()
	c.enqueueLocked(msg)
	c.mu.Unlock()
}

// enqueueLocked queues msg unless the connection is closing; past MaxQueued bytes the queue is
// dropped and the connection closed with 1013 (docs/bridge.md). c.mu is held.
func (c *conn) enqueueLocked(msg []byte) {
	if !c.closed {
		c.out.Send(msg)
	}
}

// write runs the connection's writer until it has closed the transport (after a close was
// asked for) or a write failed (the transport is then closed at once).
func (c *conn) write() {
	defer c.wg.Done()
	if err := c.out.Run(context.Background()); err != nil {
		c.out.Close(0, "")
		c.t.close(0, "")
	}
}

// closeAfterFlush writes what is queued, then closes with code (WebSocket) or closes (TCP).
func (c *conn) closeAfterFlush(code websocket.StatusCode, reason string) { c.out.Close(code, reason) }

// shutdown tells an initialised control destination that the processor is going away, then
// closes with 1001.
func (c *conn) shutdown() {
	c.mu.Lock()
	if c.controlInited {
		c.enqueueLocked(encodeEvent(c.b.controlTarget, "control.shutdown", map[string]string{"reason": "the adapter is shutting down"}))
	}
	c.mu.Unlock()
	c.closeAfterFlush(websocket.StatusGoingAway, "shutting down")
}

// closeSlow drops what is queued and closes with 1013 (try again later).
func (c *conn) closeSlow(reason string) { c.out.Abort(conns.CloseTryLater, reason) }

// handle answers one received message. Beyond the connection's frame limit it is refused
// (FAILURE) without being handled, and a connection that floods is closed (WebSocket 1008); a
// logged-in agent's request also takes one unit of its account's budget.
func (c *conn) handle(raw []byte) {
	start := time.Now()
	verdict := c.frames.Check(start)
	if verdict == conns.Close {
		c.b.log.Info("bridge connection closed: frame flood", "transport", c.t.kind(), "user_id", c.actor.UserID)
		c.closeAfterFlush(conns.ClosePolicy, "frame flood: more than twice the frame budget for a second")
		return
	}
	if verdict == conns.Pace && !c.frames.Pace(c.ctx, time.Now) {
		return // flooding: the reader waited for a token; the connection ended meanwhile
	}
	in, fail := c.b.decode(raw)
	if fail != nil {
		c.send(encodeResponse(fail.hdr, fail.msg, nil))
		return
	}
	if verdict == conns.Refuse {
		c.reply(in, fmt.Sprintf("rate limited: more than %d messages per second (burst %d); this request was not processed", FrameRate, FrameBurst), nil)
		return
	}
	c.mu.Lock()
	acct := c.actor.Account
	c.mu.Unlock()
	if acct != "" {
		if ok, wait := c.b.Budget.Take(acct, 1); !ok {
			c.reply(in, "rate limited: the account is over its share of the server; "+conns.RetryIn(wait), nil)
			return
		}
	}
	c.dispatch(in)
	if m := c.b.Metrics; m != nil {
		m.CommandLatency.WithLabelValues("bridge", in.Name).Observe(time.Since(start).Seconds())
	}
}

// req is a query or request with its resolved destination.
type req struct {
	*inbound
	ia   *interaction
	conv *conversation
	chat bool             // the target is under <sid>.messaging (chat_handlers.go)
	ci   *chatInteraction // a chat interaction target
}

func (c *conn) dispatch(in *inbound) {
	r := &req{inbound: in}
	if in.Type == TypeQuery && in.spec.kind != kControl {
		// read-your-writes across desktops: the answer reflects every change the adapter had
		// confirmed (to any client) when the query arrived
		c.sync()
	}
	if in.spec.kind != kControl {
		if msg := c.resolve(r); msg != "" {
			c.reply(in, msg, nil)
			return
		}
		if r.chat {
			c.dispatchChat(r)
			return
		}
	} else if in.Target != c.b.controlTarget {
		c.reply(in, "unknown target "+quote(in.Target)+": control messages go to "+c.b.controlTarget, nil)
		return
	}
	in.spec.handle(c, r)
}

// resolve finds r's destination; it returns the errorMessage when there is none.
func (c *conn) resolve(r *req) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return "not logged in: send control.request.login to " + c.b.controlTarget + " first"
	}
	parts := strings.Split(r.Target, ".")
	want := int(r.spec.kind) // kSession = 1 part ... kConversation = 5 parts
	kindName := kindNames[r.spec.kind]
	if len(parts) >= 2 && parts[0] == c.sess.ID && parts[1] == ChatGroupID {
		return c.resolveChatLocked(r, parts)
	}
	if len(parts) != want || parts[0] != c.sess.ID || want >= 2 && parts[1] != GroupID || want >= 3 && parts[2] != ChannelID {
		return "unknown " + kindName + " target " + quote(r.Target)
	}
	if want >= 4 {
		ia := c.inter[parts[3]]
		if ia == nil {
			return "unknown " + kindName + " target " + quote(r.Target) + ": no such interaction (it completed or never existed)"
		}
		r.ia = ia
		if want == 5 {
			if r.conv = ia.conversation(r.Target); r.conv == nil { // consult.go
				return "unknown " + kindName + " target " + quote(r.Target) + ": no such conversation (it was disposed or never existed)"
			}
		}
	}
	return ""
}

// clipReason fits a WebSocket close reason (at most 123 bytes).
func clipReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "\"" + s + "\""
}

// reply answers r: SUCCESS with body, or FAILURE with errMsg.
func (c *conn) reply(in *inbound, errMsg string, body any) {
	c.send(encodeResponse(in.Header, errMsg, body))
}

// sync waits until the events the hub delivered so far are rendered for this connection.
func (c *conn) sync() {
	c.mu.Lock()
	f := c.feed
	c.mu.Unlock()
	if f != nil {
		f.sync()
	}
}

// async runs a slow request (senddtmf) on its own goroutine so that the connection goes on
// reading; it reports false when the connection is ending.
func (c *conn) async(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asyncLocked(f)
}

func (c *conn) asyncLocked(f func()) bool {
	if c.closed || c.ending || c.out.Closing() {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}
