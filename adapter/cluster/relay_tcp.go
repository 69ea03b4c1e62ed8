package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Bridge TCP connections carry no token until their login frame, and a bridge sends
// control.query.init before it logs in (waiting for the answer), so the node a connection
// reached serves it until the login: the connection is wrapped (WrapBridgeTCP, the bridge's
// WrapTCP) so that the relay sees each frame before the bridge does. A login whose account
// another node owns is not given to the local bridge (it reads the end of the connection): the
// relay dials the owner's /bridge WebSocket as a member, replays the frames sent before the
// login, drops the owner's answers to them (the client had them from this node; the answers
// are the same, no account being known before login), sends the login, and from then on copies
// each frame to a WebSocket message and back. Relaying to the owner's HTTP listener rather than
// to its bridge TCP port needs one advertised address, carries the relay headers, and needs no
// second TLS set-up; TLS, if any, ends at the node the client reached.

// TCPRelay configures the bridge TCP relay.
type TCPRelay struct {
	AccountOf    func(frame []byte) string                     // the account of a login frame's valid token ("" for any other frame)
	RequestID    func(frame []byte) (id string, response bool) // a frame's requestId, and whether it is a response
	Conns        Tracker
	FrameTimeout time.Duration // the rest of a frame must arrive within it once its first byte came
	MaxFrame     int           // frames up to it are inspected; a longer one ends the inspection (served here)
}

// maxReplay bounds the frames kept before a login; a connection that sends more is served here.
const maxReplay = 16

// WrapBridgeTCP wraps an accepted bridge TCP connection (bridge.Deps.WrapTCP).
func (n *Node) WrapBridgeTCP(nc net.Conn, o TCPRelay) net.Conn {
	return &relayConn{Conn: nc, n: n, o: o}
}

// relayConn is a bridge TCP connection as the local bridge reads it until its login.
type relayConn struct {
	net.Conn
	n *Node
	o TCPRelay

	pending []byte   // the rest of the inspected frame, for the bridge (reader-owned)
	local   bool     // decided: served here to the end (reader-owned)
	replay  [][]byte // frames before the login (reader-owned)

	wmu   sync.Mutex // guards taken; held across the bridge's writes
	taken bool       // the relay owns the connection: the bridge's writes and close are dropped
}

func (c *relayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		k := copy(p, c.pending)
		c.pending = c.pending[k:]
		return k, nil
	}
	if c.local {
		return c.Conn.Read(p)
	}
	frame, raw, err := c.readFrame()
	if err != nil || frame == nil { // an error, or a frame too long to inspect: served here
		c.local, c.pending = true, raw
		if len(raw) > 0 {
			return c.Read(p)
		}
		return 0, err
	}
	if acct := c.o.AccountOf(frame); acct != "" {
		owner, addr, rerr := c.n.relayTarget(acct)
		if rerr == nil && owner != "" && c.take() {
			go c.n.relayBridgeTCP(c.Conn, c.replay, frame, wsRoute{kind: "bridge_tcp", acct: acct, owner: owner, addr: addr, conns: c.o.Conns}, c.o)
			return 0, io.EOF
		}
		c.local = rerr == nil // owned here; else the login is refused here (unavailable) and may be retried
	} else if len(c.replay) < maxReplay {
		c.replay = append(c.replay, frame)
	} else {
		c.local = true
	}
	c.pending = raw
	return c.Read(p)
}

// readFrame reads one whole frame: its payload (nil when longer than MaxFrame) and its bytes.
func (c *relayConn) readFrame() (frame, raw []byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.Conn, hdr[:1]); err != nil {
		return nil, nil, err
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.o.FrameTimeout))
	defer c.Conn.SetReadDeadline(time.Time{}) //nolint:errcheck
	if _, err := io.ReadFull(c.Conn, hdr[1:]); err != nil {
		return nil, nil, err // a trickled frame: the bridge closes the connection, as it would
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if int64(size) > int64(c.o.MaxFrame) {
		return nil, hdr[:], nil
	}
	raw = make([]byte, 4+int(size))
	copy(raw, hdr[:])
	if _, err := io.ReadFull(c.Conn, raw[4:]); err != nil {
		return nil, nil, err
	}
	return raw[4:], raw, nil
}

// take hands the connection to the relay (false if the bridge is closing it).
func (c *relayConn) take() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.taken {
		return false
	}
	c.taken = true
	return true
}

func (c *relayConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.taken {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *relayConn) Close() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.taken {
		return nil
	}
	c.taken = true // nothing more is written after the bridge's close
	return c.Conn.Close()
}

// relayBridgeTCP relays nc, whose login frame is login, to the owner's /bridge WebSocket.
func (n *Node) relayBridgeTCP(nc net.Conn, replay [][]byte, login []byte, rt wsRoute, o TCPRelay) {
	defer nc.Close()
	release, ok := o.Conns.Add("relay")
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	h := http.Header{}
	h.Set(RelayHeader, n.ID+" "+n.relaySecretOf(rt.owner))
	h.Set(RelayedForHeader, nc.RemoteAddr().String())
	up, _, err := websocket.Dial(ctx, "ws://"+rt.addr+"/bridge", &websocket.DialOptions{HTTPHeader: h,
		CompressionMode: websocket.CompressionDisabled})
	cancel()
	if err != nil {
		n.lg.Warn("bridge relay: the owner does not answer", "account", rt.acct, "owner", rt.owner, "err", err)
		n.refreshOwner(context.Background(), rt.acct)
		return
	}
	defer up.CloseNow() //nolint:errcheck
	up.SetReadLimit(-1)
	drop := map[string]int{}
	for _, f := range replay {
		id, _ := o.RequestID(f)
		drop[id]++
	}
	for _, f := range append(replay, login) {
		if err := up.Write(context.Background(), websocket.MessageText, f); err != nil {
			return
		}
	}
	defer n.metrics.relay.track(rt.kind)()
	n.lg.Debug("relaying", "kind", rt.kind, "account", rt.acct, "owner", rt.owner)
	n.pumpTCP(nc, up, rt, drop, o)
}

// pumpTCP copies frames to messages and back until either side ends or the route changes.
func (n *Node) pumpTCP(nc net.Conn, up *websocket.Conn, rt wsRoute, drop map[string]int, o TCPRelay) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := func() { cancel(); _ = nc.Close() }
	wg.Go(func() { defer stop(); tcpToWS(ctx, nc, up, o.FrameTimeout) })
	wg.Go(func() { defer stop(); wsToTCP(ctx, up, nc, drop, o.RequestID) })
	if code, _ := n.watchRoute(ctx, nil, rt); code != 0 {
		stop()
	}
}

// tcpToWS copies each length-prefixed frame of nc to a text message of up.
func tcpToWS(ctx context.Context, nc net.Conn, up *websocket.Conn, timeout time.Duration) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(nc, hdr[:1]); err != nil {
			_ = up.Close(websocket.StatusNormalClosure, "")
			return
		}
		_ = nc.SetReadDeadline(time.Now().Add(timeout))
		if _, err := io.ReadFull(nc, hdr[1:]); err != nil {
			return
		}
		size := int64(binary.BigEndian.Uint32(hdr[:]))
		w, err := up.Writer(ctx, websocket.MessageText)
		if err != nil {
			return
		}
		if _, err := io.CopyN(w, nc, size); err != nil || w.Close() != nil {
			return
		}
		_ = nc.SetReadDeadline(time.Time{})
	}
}

// wsToTCP copies each message of up to a frame of nc, dropping the answers to replayed frames.
func wsToTCP(ctx context.Context, up *websocket.Conn, nc net.Conn, drop map[string]int, requestID func([]byte) (string, bool)) {
	for {
		_, msg, err := up.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && ctx.Err() == nil {
				_ = nc.Close() // the owner vanished: the bridge reconnects
			}
			return
		}
		if len(drop) > 0 {
			if id, resp := requestID(msg); resp && drop[id] > 0 {
				drop[id]--
				if drop[id] == 0 {
					delete(drop, id)
				}
				continue
			}
		}
		buf := make([]byte, 4+len(msg))
		binary.BigEndian.PutUint32(buf, uint32(len(msg)))
		copy(buf[4:], msg)
		if _, err := nc.Write(buf); err != nil {
			return
		}
	}
}
