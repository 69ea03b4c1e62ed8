package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
)

// pausedFramer holds its reader while paused: the client stops reading, its socket fills.
type pausedFramer struct {
	bframer
	paused sync.Mutex // held while paused; read takes it before each message
}

func (f *pausedFramer) read() ([]byte, error) {
	f.paused.Lock()
	f.paused.Unlock() //nolint:staticcheck // a gate, not a critical section
	return f.bframer.read()
}

// Small socket buffers on both ends make a stalled connection's server-side queue fill after a
// few kilobytes instead of the kernel's megabytes (loopback buffers grow to 4-6 MB); the
// server's code path is the same.
const slowBuffer = 4096

var smallReceiveBuffer = &net.Dialer{Timeout: bwait, Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, slowBuffer)
	})
	if err != nil {
		return err
	}
	return serr
}}

// smallSendBuffer shrinks the send buffer of every connection the server hijacks (WebSockets).
func smallSendBuffer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(sndbufWriter{w}, r) })
}

type sndbufWriter struct{ http.ResponseWriter }

func (w sndbufWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(slowBuffer)
	}
	return nc, rw, err
}

// TestBridgeSlowConsumer: a bridge desktop that stops reading while its agent's channel changes
// state receives whole messages, in order, then the slow-consumer close (WebSocket 1013, TCP
// closed) after what was written, never a cut message; another desktop of the same agent,
// reading, receives every change and stays connected. Over both transports, since both write
// through the connection's conns.Outbox.
func TestBridgeSlowConsumer(t *testing.T) {
	for _, transport := range []string{"ws", "tcp"} {
		t.Run(transport, func(t *testing.T) { testBridgeSlow(t, transport) })
	}
}

func testBridgeSlow(t *testing.T, transport string) {
	e := newBridgeEnvWith(t, "full", harnessOptions{wrap: smallSendBuffer})
	e.srv.Bridge.MaxQueued = 16 << 10 // read when a connection starts: set before any
	tok := e.token(auth.RoleAgent, "a1")
	slow, pf := dialSlowBridge(t, e, transport)
	login(t, slow, "a1", tok)
	normal := login(t, e.ws(""), "a1", tok)
	pf.paused.Lock() // the slow desktop stops reading (after at most one more message)

	// The agent's status changes, paced as a busy agent's would be (the reading desktop keeps
	// up); each change is a channel.statechanged for both desktops.
	from := normal.mark()
	ctx := context.Background()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	pad := strings.Repeat("p", 56) // the longest reason the schema allows is 64
	set := func(n int) {
		<-tick.C
		if _, err := e.srv.Core.SetStatus(ctx, e.phoneActor("a1"), "a1", agent.DND, fmt.Sprintf("r%d-%s", n, pad)); err != nil {
			t.Fatal(err)
		}
	}
	dropped := func() float64 {
		var m dto.Metric
		if err := e.srv.Metrics.SubscribersDropped.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	before := dropped()
	n := 0
	for ; dropped() == before; n++ {
		if n > 20000 {
			t.Fatal("the slow bridge desktop was never closed for falling behind")
		}
		set(n)
	}
	for i := 0; i < 20; i++ { // a few more after the close: the reading desktop gets them too
		set(n)
		n++
	}
	last := fmt.Sprintf("r%d-", n-1)
	normal.waitFor(from, "the reading desktop to see every change", func(m bmsg) bool {
		return m.Header.Name == "channel.statechanged" && strings.HasPrefix(m.str("reason"), last)
	})
	inOrder(t, "reading desktop", changes(normal.bclient, from))
	select {
	case <-normal.done:
		t.Fatalf("the reading desktop was closed (%d) instead of the slow one", normal.closeSt)
	default:
	}

	// The slow desktop reads again: whole messages (bclient fails the test on a message that is
	// not valid JSON or not a valid bridge message), the changes in order, then the close.
	pf.paused.Unlock()
	code := slow.waitClosed()
	got := changes(slow, 0)
	if len(got) == 0 {
		t.Fatal("the slow desktop received no change before its close")
	}
	inOrder(t, "slow desktop", got)
	if transport == "ws" && code != conns.CloseTryLater {
		t.Fatalf("slow desktop closed with %d, want %d (a cut connection is -1)", code, conns.CloseTryLater)
	}
	t.Logf("%s: %d changes, the slow desktop received %d before its close (code %d)", transport, n, len(got), code)
}

// dialSlowBridge connects a bridge desktop with small socket buffers on both ends, reading
// until its pausedFramer is paused.
func dialSlowBridge(t *testing.T, e *bridgeEnv, transport string) (*bclient, *pausedFramer) {
	pf := &pausedFramer{}
	if transport == "ws" {
		hc := &http.Client{Transport: &http.Transport{DialContext: smallReceiveBuffer.DialContext}}
		ctx, cancel := context.WithTimeout(context.Background(), bwait)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, strings.Replace(e.url, "http", "ws", 1)+"/bridge", &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		ws.SetReadLimit(1 << 20)
		pf.bframer = &wsFramer{ws: ws}
		return newBClient(t, "slow ws", pf, e.srv.Schemas), pf
	}
	// TCP: the test accepts the connection itself to shrink the server side's send buffer,
	// then hands it to the bridge as its listener would.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		_ = nc.(*net.TCPConn).SetWriteBuffer(slowBuffer)
		accepted <- nc
	}()
	cc, err := smallReceiveBuffer.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	served := make(chan struct{})
	go func() { defer close(served); e.srv.Bridge.ServeConn(sc) }()
	t.Cleanup(func() { <-served }) // after the client's cleanup closed its end
	pf.bframer = &tcpFramer{nc: cc}
	return newBClient(t, "slow tcp", pf, e.srv.Schemas), pf
}

// changes are the channel.statechanged events c received from log position from on, for the
// test's status changes (reasons r0-..., r1-..., ...).
func changes(c *bclient, from int) []bmsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bmsg
	for _, m := range c.log[from:] {
		if m.Header.Type == "cti.event" && m.Header.Name == "channel.statechanged" && strings.HasPrefix(m.str("reason"), "r") {
			out = append(out, m)
		}
	}
	return out
}

// inOrder checks that the changes are r0, r1, ... with none missing.
func inOrder(t *testing.T, who string, ms []bmsg) {
	t.Helper()
	for i, m := range ms {
		if want := fmt.Sprintf("r%d-", i); !strings.HasPrefix(m.str("reason"), want) {
			t.Fatalf("%s: change %d has reason %.12q..., want %q...", who, i, m.str("reason"), want)
		}
	}
}
