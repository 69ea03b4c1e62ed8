package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

// transport writes whole messages and closes the connection.
type transport interface {
	// write writes msgs in order, in one system write where the transport allows, within the
	// write timeout.
	write(msgs [][]byte) error
	// close ends the connection; code is a WebSocket close code (TCP just closes).
	close(code websocket.StatusCode, reason string)
	kind() string
}

// sink lets a transport be written by a conns.Outbox.
type sink struct{ t transport }

func (s sink) WriteBatch(msgs [][]byte) error { return s.t.write(msgs) }

func (s sink) Close(code websocket.StatusCode, reason string) error {
	s.t.close(code, reason)
	return nil
}

// WS is what the bridge uses of an accepted WebSocket: a *websocket.Conn, or what Deps.WrapWS
// made of one.
type WS interface {
	Reader(ctx context.Context) (websocket.MessageType, io.Reader, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

// wsTransport is one JSON message per WebSocket text frame.
type wsTransport struct {
	ws      WS
	cork    *conns.Cork   // under ws (nil in tests): paces the close handshake's reads
	timeout time.Duration // a peer that takes nothing for this long is disconnected
}

// write writes each message as its own frame, within the write timeout. The bridge does not
// cork its flushes as vox and /rtc do: with conns.WriteBatch, about one run in 30 of the bridge
// tests under -race delivered an empty text message to the client (never queued empty: checked
// in the Outbox), and with plain writes none in 30 did (docs/performance.md). A desktop gets a
// few messages per call, so one write per message costs nothing that matters.
func (t *wsTransport) write(msgs [][]byte) error {
	for _, m := range msgs {
		ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
		err := t.ws.Write(ctx, websocket.MessageText, m)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *wsTransport) close(code websocket.StatusCode, reason string) {
	if code == 0 {
		_ = t.ws.CloseNow()
		return
	}
	if t.cork != nil {
		t.cork.Drain() // the handshake reads what the peer still sends, paced (Cork.Drain)
	}
	_ = t.ws.Close(code, reason)
}

func (t *wsTransport) kind() string { return "ws" }

// tcpTransport is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
type tcpTransport struct {
	nc      net.Conn
	timeout time.Duration
}

func (t *tcpTransport) write(msgs [][]byte) error {
	hdrs := make([]byte, 4*len(msgs))
	bufs := make(net.Buffers, 0, 2*len(msgs))
	for i, m := range msgs {
		h := hdrs[4*i : 4*i+4]
		binary.BigEndian.PutUint32(h, uint32(len(m)))
		bufs = append(bufs, h, m)
	}
	_ = t.nc.SetWriteDeadline(time.Now().Add(t.timeout))
	_, err := bufs.WriteTo(t.nc) // one writev for the whole batch
	return err
}

func (t *tcpTransport) close(websocket.StatusCode, string) { _ = t.nc.Close() }

func (t *tcpTransport) kind() string { return "tcp" }

// errFrameTooLong is returned by readFrame for a length prefix beyond maxSkip: the stream cannot
// be resynchronised cheaply, so the connection is closed.
var errFrameTooLong = errors.New("frame length beyond the skip limit")

// readFrame reads one length-prefixed frame. A frame longer than MaxMessage is read and thrown
// away: it returns (nil, n, nil) with n the announced length, so that the caller answers FAILURE
// and goes on. A length beyond maxSkip returns errFrameTooLong without reading the payload.
func readFrame(r io.Reader, hdr *[4]byte) ([]byte, uint32, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, err
	}
	return readPayload(r, hdr)
}

// readFrameWithin is readFrame on a connection: the first byte may take any time (an idle
// connection), the rest of the frame must arrive within timeout, so that a peer trickling a
// partial frame cannot hold the connection (and its goroutine) indefinitely.
func readFrameWithin(nc net.Conn, hdr *[4]byte, timeout time.Duration) ([]byte, uint32, error) {
	if _, err := io.ReadFull(nc, hdr[:1]); err != nil {
		return nil, 0, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	defer nc.SetReadDeadline(time.Time{}) //nolint:errcheck // the connection may be gone
	if _, err := io.ReadFull(nc, hdr[1:]); err != nil {
		return nil, 0, err
	}
	return readPayload(nc, hdr)
}

func readPayload(r io.Reader, hdr *[4]byte) ([]byte, uint32, error) {
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxSkip {
		return nil, n, errFrameTooLong
	}
	if n > MaxMessage {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, n, err
		}
		return nil, n, nil
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, n, err
	}
	return buf, n, nil
}

// readWSMessage reads one WebSocket message of at most MaxMessage bytes. A longer one is read to
// its end and thrown away: it returns (nil, total, nil) so that the caller answers FAILURE.
func readWSMessage(r io.Reader) ([]byte, int64, error) { return conns.ReadMessage(r, MaxMessage) }

// readWSMessageWithin is readWSMessage with the rest of the message due within timeout (the
// header has arrived): a peer trickling a partial frame is disconnected.
func readWSMessageWithin(ws WS, r io.Reader, timeout time.Duration) ([]byte, int64, error) {
	t := time.AfterFunc(timeout, func() { _ = ws.CloseNow() })
	defer t.Stop()
	return readWSMessage(r)
}

func tooBig(n int64) string {
	return fmt.Sprintf("message of %d bytes exceeds the %d-byte (64 KiB) limit", n, MaxMessage)
}
