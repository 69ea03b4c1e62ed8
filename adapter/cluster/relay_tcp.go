package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Bridge TCP connections are relayed at their login (relay_login.go): the connection is wrapped
// (WrapBridgeTCP, the bridge's WrapTCP) so that the relay sees each length-prefixed frame before
// the bridge does; once relayed, each frame is copied to a WebSocket message of the owner's
// /bridge and back.

// WrapBridgeTCP wraps an accepted bridge TCP connection (bridge.Deps.WrapTCP).
func (n *Node) WrapBridgeTCP(nc net.Conn, o BridgeRelay) net.Conn {
	return &relayConn{Conn: nc, n: n, g: newLoginGate(n, o, "bridge_tcp")}
}

// relayConn is a bridge TCP connection as the local bridge reads it until its login.
type relayConn struct {
	net.Conn
	n *Node
	g *loginGate

	pending []byte // the rest of the inspected frame, for the bridge (reader-owned)
}

func (c *relayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		k := copy(p, c.pending)
		c.pending = c.pending[k:]
		return k, nil
	}
	if c.g.gone {
		return 0, io.EOF
	}
	if c.g.local {
		return c.Conn.Read(p)
	}
	frame, raw, err := c.readFrame()
	if err != nil || frame == nil { // an error, or a frame too long to inspect: served here
		c.g.local, c.pending = true, raw
		if len(raw) > 0 {
			return c.Read(p)
		}
		return 0, err
	}
	if rt, ok := c.g.inspect(frame); ok {
		nc := c.Conn
		go c.n.relayLogin(c.g, frame, rt, handshake{uri: "/bridge", remote: nc.RemoteAddr().String()},
			func(up *websocket.Conn, drop *answered) { c.n.pumpTCP(nc, up, rt, drop, c.g.o.FrameTimeout) },
			func() { _ = nc.Close() })
		return 0, io.EOF
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
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.g.o.FrameTimeout))
	defer c.Conn.SetReadDeadline(time.Time{}) //nolint:errcheck
	if _, err := io.ReadFull(c.Conn, hdr[1:]); err != nil {
		return nil, nil, err // a trickled frame: the bridge closes the connection, as it would
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if int64(size) > int64(c.g.o.MaxFrame) {
		return nil, hdr[:], nil
	}
	raw = make([]byte, 4+int(size))
	copy(raw, hdr[:])
	if _, err := io.ReadFull(c.Conn, raw[4:]); err != nil {
		return nil, nil, err
	}
	return raw[4:], raw, nil
}

// Close is the local bridge's close: dropped once the relay took the connection.
func (c *relayConn) Close() error {
	if !c.g.bridgeClose() {
		return nil
	}
	return c.Conn.Close()
}

// pumpTCP copies frames to messages and back until either side ends or the route changes.
func (n *Node) pumpTCP(nc net.Conn, up *websocket.Conn, rt wsRoute, drop *answered, frameTimeout time.Duration) {
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Time{}) // the local bridge's last one: the owner's writes come later
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := func() { cancel(); _ = nc.Close() }
	wg.Go(func() { defer stop(); tcpToWS(ctx, nc, up, frameTimeout) })
	wg.Go(func() { defer stop(); wsToTCP(ctx, up, nc, drop) })
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
func wsToTCP(ctx context.Context, up *websocket.Conn, nc net.Conn, drop *answered) {
	for {
		_, msg, err := up.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && ctx.Err() == nil {
				_ = nc.Close() // the owner vanished: the bridge reconnects
			}
			return
		}
		if drop.drop(msg) {
			continue
		}
		buf := make([]byte, 4+len(msg))
		binary.BigEndian.PutUint32(buf, uint32(len(msg)))
		copy(buf[4:], msg)
		if _, err := nc.Write(buf); err != nil {
			return
		}
	}
}
