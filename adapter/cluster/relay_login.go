package cluster

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// A bridge connection that carries no token before its login (TCP, and a WebSocket opened
// without a URL token) is served by the node it reached until the login: a bridge sends
// control.query.init before it logs in, and the provisional answer needs no account. The relay
// sees each frame (TCP) or message (WebSocket) before the local bridge does (the bridge's
// WrapTCP and WrapWS). A login whose account another node owns is not given to the local bridge
// (it reads the end of the connection): the relay opens the owner's /bridge WebSocket as a
// member, replays the frames sent before the login, sends the login, and from then on carries
// the connection both ways, dropping the owner's answers to the replayed frames (the client had
// them from this node; the answers are the same, no account being known before login). The
// owner's messages go to the client only once the local bridge has let the connection go (its
// close, which comes after its last write), so what it answered before the login still reaches
// the client first and nothing is written by both at once. Relaying TCP to the owner's HTTP
// listener rather than to its bridge TCP port needs one advertised address, carries the relay
// headers, and needs no second TLS set-up; TLS, if any, ends at the node the client reached.

// BridgeRelay configures the relay of bridge connections at their login (TCP and WebSocket).
type BridgeRelay struct {
	AccountOf    func(frame []byte) string                     // the account of a login frame's valid token ("" for any other frame)
	RequestID    func(frame []byte) (id string, response bool) // a frame's requestId, and whether it is a response
	Conns        Tracker
	FrameTimeout time.Duration // the rest of a frame must arrive within it once its first byte came
	MaxFrame     int           // frames up to it are inspected; a longer one ends the inspection (served here)
}

// maxReplay bounds the frames kept before a login; a connection that sends more is served here.
const maxReplay = 16

// loginGate is the state shared by a bridge connection's wrapper and its relay: what was seen
// before the login, and who owns the connection.
type loginGate struct {
	n    *Node
	o    BridgeRelay
	kind string // metrics label: bridge_tcp, bridge_ws

	local  bool     // decided: served here to the end (reader-owned)
	gone   bool     // the relay took the connection: the local bridge reads its end (reader-owned)
	replay [][]byte // frames before the login (reader-owned)

	mu     sync.Mutex // guards taken, closed
	taken  bool       // the relay owns the connection
	closed bool       // the local bridge closed it first: it is not relayed
	done   chan struct{}
}

func newLoginGate(n *Node, o BridgeRelay, kind string) *loginGate {
	return &loginGate{n: n, o: o, kind: kind, done: make(chan struct{})}
}

// inspect decides on one whole frame before the local bridge reads it: true when the frame is a
// login of an account another node owns and the relay took the connection, with its route.
// Otherwise the frame goes to the local bridge: a login of an account this node owns (served
// here to the end), a login while the account has no owner (refused here, and may be retried),
// or a frame before the login (kept for the replay).
func (g *loginGate) inspect(frame []byte) (wsRoute, bool) {
	acct := g.o.AccountOf(frame)
	if acct == "" {
		if len(g.replay) < maxReplay {
			g.replay = append(g.replay, frame)
		} else {
			g.local = true
		}
		return wsRoute{}, false
	}
	owner, addr, err := g.n.relayTarget(acct)
	if err == nil && owner != "" && g.take() {
		g.gone = true
		return wsRoute{kind: g.kind, acct: acct, owner: owner, addr: addr, conns: g.o.Conns}, true
	}
	g.local = err == nil
	return wsRoute{}, false
}

// take hands the connection to the relay (false if the local bridge closed it).
func (g *loginGate) take() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.taken = true
	return true
}

// bridgeClose is the local bridge's close: true when the bridge is to close the connection
// itself; false when the relay took it (the relay is told that the bridge wrote its last).
func (g *loginGate) bridgeClose() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.taken {
		g.closed = true
		return true
	}
	if !g.closed {
		g.closed = true
		close(g.done)
	}
	return false
}

// answered counts, by requestId, the owner's answers the client is not to see (the answers to
// the replayed frames).
type answered struct {
	left      map[string]int
	requestID func([]byte) (string, bool)
}

func newAnswered(replay [][]byte, requestID func([]byte) (string, bool)) *answered {
	a := &answered{left: map[string]int{}, requestID: requestID}
	for _, f := range replay {
		id, _ := requestID(f)
		a.left[id]++
	}
	return a
}

// pending reports whether answers are still to be dropped.
func (a *answered) pending() bool { return a != nil && len(a.left) > 0 }

// drop reports whether msg is one of the answers to drop, and counts it.
func (a *answered) drop(msg []byte) bool {
	if !a.pending() {
		return false
	}
	id, resp := a.requestID(msg)
	if !resp || a.left[id] == 0 {
		return false
	}
	if a.left[id]--; a.left[id] == 0 {
		delete(a.left, id)
	}
	return true
}

// relayLogin relays a connection the relay took at its login frame: it opens the owner's
// /bridge WebSocket with hs, replays the frames before the login and the login, waits until the
// local bridge has let the connection go, then runs pump with the answers to drop. fail ends
// the client's connection when the owner cannot be reached or this node shuts down first.
func (n *Node) relayLogin(g *loginGate, login []byte, rt wsRoute, hs handshake, pump func(up *websocket.Conn, drop *answered), fail func()) {
	release, ok := g.o.Conns.Add("relay")
	if !ok {
		<-g.done
		fail()
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	up, _, err := n.dialOwner(ctx, rt, hs)
	cancel()
	if err != nil {
		n.lg.Warn("bridge relay: the owner does not answer", "account", rt.acct, "owner", rt.owner, "err", err)
		n.refreshOwner(context.Background(), rt.acct)
		<-g.done
		fail()
		return
	}
	defer up.CloseNow() //nolint:errcheck
	up.SetReadLimit(-1)
	for _, f := range append(g.replay, login) {
		if err := up.Write(context.Background(), websocket.MessageText, f); err != nil {
			<-g.done
			fail()
			return
		}
	}
	<-g.done // bounded: the local bridge read the end, and its writes have a timeout
	defer n.metrics.relay.track(rt.kind)()
	n.lg.Debug("relaying", "kind", rt.kind, "account", rt.acct, "owner", rt.owner)
	pump(up, newAnswered(g.replay, g.o.RequestID))
}

// WrapBridgeWS wraps an accepted bridge WebSocket opened without a URL token (the bridge's
// WrapWS): its login is relayed to the account's owner. A WebSocket a member relayed here is
// served here whatever its login (a relay never relays again).
func (n *Node) WrapBridgeWS(ws *websocket.Conn, r *http.Request, o BridgeRelay) BridgeWS {
	if relayedIn(r) {
		return ws
	}
	return &bridgeWS{Conn: ws, n: n, g: newLoginGate(n, o, "bridge_ws"), hs: handshakeOf(r)}
}

// BridgeWS is the local bridge's view of a bridge WebSocket (bridge.WS).
type BridgeWS interface {
	Reader(ctx context.Context) (websocket.MessageType, io.Reader, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

// bridgeWS is a bridge WebSocket as the local bridge reads it until its login.
type bridgeWS struct {
	*websocket.Conn
	n  *Node
	g  *loginGate
	hs handshake
}

// Reader gives the local bridge the client's next message, read whole first while the login is
// to come; at a login the relay takes, the bridge gets io.EOF.
func (c *bridgeWS) Reader(ctx context.Context) (websocket.MessageType, io.Reader, error) {
	if c.g.gone {
		return 0, nil, io.EOF
	}
	typ, r, err := c.Conn.Reader(ctx)
	if err != nil || c.g.local {
		return typ, r, err
	}
	t := time.AfterFunc(c.g.o.FrameTimeout, func() { _ = c.Conn.CloseNow() }) // a trickled message
	frame, err := io.ReadAll(io.LimitReader(r, int64(c.g.o.MaxFrame)+1))
	t.Stop()
	if err != nil {
		return 0, nil, err
	}
	if typ != websocket.MessageText || len(frame) > c.g.o.MaxFrame {
		c.g.local = true
		return typ, io.MultiReader(bytes.NewReader(frame), r), nil
	}
	if rt, ok := c.g.inspect(frame); ok {
		go c.n.relayLogin(c.g, frame, rt, c.hs, func(up *websocket.Conn, drop *answered) {
			c.n.pump(context.Background(), c.Conn, up, rt, drop)
		}, func() { _ = c.Conn.Close(CloseServiceRestart, "the account's node does not answer: reconnect") })
		return 0, nil, io.EOF
	}
	return typ, bytes.NewReader(frame), nil
}

// Close is the local bridge's close: dropped once the relay took the connection.
func (c *bridgeWS) Close(code websocket.StatusCode, reason string) error {
	if !c.g.bridgeClose() {
		return nil
	}
	return c.Conn.Close(code, reason)
}

// CloseNow is as Close.
func (c *bridgeWS) CloseNow() error {
	if !c.g.bridgeClose() {
		return nil
	}
	return c.Conn.CloseNow()
}
