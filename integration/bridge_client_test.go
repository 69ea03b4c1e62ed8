package integration

// A processor-bridge client written from PROTOCOLS.md section 4 and seed 002 alone: it speaks
// WebSocket (one JSON message per text frame) or TCP (4-byte big-endian length + JSON), sends
// queries and requests with fresh requestIds, and records every message it receives, in order,
// checking each against the published schemas (bridge/message, then bridge/<name> for events and
// bridge/<name>.response for SUCCESS responses where such a schema exists).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/schemas"
)

const bwait = 10 * time.Second

type bheader struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	Target       string `json:"target"`
	RequestID    string `json:"requestId,omitempty"`
	Result       string `json:"result,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

type bmsg struct {
	Header bheader        `json:"header"`
	Body   map[string]any `json:"body,omitempty"`
	raw    []byte
	idx    int // position in the client's log
}

func (m bmsg) str(key string) string { s, _ := m.Body[key].(string); return s }

func (m bmsg) String() string { return string(m.raw) }

// bframer moves whole messages.
type bframer interface {
	write(b []byte) error
	read() ([]byte, error)
	close()
}

type wsFramer struct{ ws *websocket.Conn }

func (f *wsFramer) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), bwait)
	defer cancel()
	return f.ws.Write(ctx, websocket.MessageText, b)
}

func (f *wsFramer) read() ([]byte, error) {
	_, b, err := f.ws.Read(context.Background())
	return b, err
}

func (f *wsFramer) close() { _ = f.ws.Close(websocket.StatusNormalClosure, "bye") }

type tcpFramer struct {
	nc net.Conn
	mu sync.Mutex
}

func (f *tcpFramer) write(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	hdr := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(hdr, uint32(len(b)))
	_, err := f.nc.Write(append(hdr, b...))
	return err
}

// writeRaw sends bytes as they are (a hand-made length prefix, a partial frame).
func (f *tcpFramer) writeRaw(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.nc.Write(b)
	return err
}

func (f *tcpFramer) read() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(f.nc, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(f.nc, b)
	return b, err
}

func (f *tcpFramer) close() { _ = f.nc.Close() }

// bclient is one bridge connection.
type bclient struct {
	t    testing.TB
	name string
	f    bframer
	reg  *schemas.Registry

	mu      sync.Mutex
	log     []bmsg
	cursor  int // messages before it were consumed by an expectation
	changed chan struct{}
	err     error // why reading stopped
	done    chan struct{}
	nextID  int
	closeSt websocket.StatusCode
}

func newBClient(t testing.TB, name string, f bframer, reg *schemas.Registry) *bclient {
	c := &bclient{t: t, name: name, f: f, reg: reg, changed: make(chan struct{}), done: make(chan struct{}), closeSt: -1}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func dialBridgeWS(t testing.TB, baseURL, token string, reg *schemas.Registry) *bclient {
	t.Helper()
	u := strings.Replace(baseURL, "http", "ws", 1) + "/bridge"
	if token != "" {
		u += "?access_token=" + token
	}
	ctx, cancel := context.WithTimeout(context.Background(), bwait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial bridge ws: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	return newBClient(t, "ws", &wsFramer{ws: ws}, reg)
}

func dialBridgeTCP(t testing.TB, addr string, reg *schemas.Registry) *bclient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, bwait)
	if err != nil {
		t.Fatalf("dial bridge tcp: %v", err)
	}
	return newBClient(t, "tcp", &tcpFramer{nc: nc}, reg)
}

func (c *bclient) close() {
	c.f.close()
	<-c.done
}

func (c *bclient) readLoop() {
	defer close(c.done)
	for {
		b, err := c.f.read()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.closeSt = websocket.CloseStatus(err)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return
		}
		var m bmsg
		if jerr := json.Unmarshal(b, &m); jerr != nil {
			c.t.Errorf("%s: server sent undecodable message %q: %v", c.name, b, jerr)
		}
		m.raw = b
		c.check(m)
		c.mu.Lock()
		m.idx = len(c.log)
		c.log = append(c.log, m)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// check validates a received message against the schemas.
func (c *bclient) check(m bmsg) {
	if err := c.reg.Validate("bridge/message", m.raw); err != nil {
		c.t.Errorf("%s: invalid envelope %s: %v", c.name, m.raw, err)
		return
	}
	name := ""
	switch {
	case m.Header.Type == "cti.event":
		name = "bridge/" + m.Header.Name
	case m.Header.Type == "cti.response" && m.Header.Result == "SUCCESS":
		name = "bridge/" + m.Header.Name + ".response"
	}
	body, _ := json.Marshal(m.Body)
	if m.Body == nil {
		body = []byte("{}")
	}
	if name != "" && has(c.reg, name) {
		if err := c.reg.Validate(name, body); err != nil {
			c.t.Errorf("%s: body of %s fails %s: %v", c.name, m.raw, name, err)
		}
	} else if len(m.Body) > 0 && m.Header.Type == "cti.event" {
		c.t.Errorf("%s: event %s has a body but no schema", c.name, m.raw)
	}
}

func has(reg *schemas.Registry, name string) bool {
	for _, n := range reg.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// send writes one message and returns its requestId.
func (c *bclient) send(typ, name, target string, body any) string {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.name + "-" + strconv.Itoa(c.nextID)
	c.mu.Unlock()
	msg := map[string]any{"header": map[string]string{"type": typ, "name": name, "target": target, "requestId": id}}
	if body != nil {
		msg["body"] = body
	}
	b, _ := json.Marshal(msg)
	if err := c.f.write(b); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.name, name, err)
	}
	return id
}

// sendRaw writes one message as given.
func (c *bclient) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.f.write(b); err != nil {
		c.t.Fatalf("%s: send raw: %v", c.name, err)
	}
}

// waitFor returns the first message at or after from matching pred, waiting up to bwait.
func (c *bclient) waitFor(from int, what string, pred func(bmsg) bool) bmsg {
	c.t.Helper()
	deadline := time.NewTimer(bwait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i := from; i < len(c.log); i++ {
			if pred(c.log[i]) {
				m := c.log[i]
				c.mu.Unlock()
				return m
			}
		}
		ch, err := c.changed, c.err
		c.mu.Unlock()
		if err != nil {
			c.t.Fatalf("%s: connection ended (%v) while waiting for %s; got:\n%s", c.name, err, what, c.dump(from))
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("%s: no %s within %s; got:\n%s", c.name, what, bwait, c.dump(from))
		}
	}
}

func (c *bclient) dump(from int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for i := from; i < len(c.log); i++ {
		fmt.Fprintf(&b, "  %d %s\n", i, c.log[i].raw)
	}
	return b.String()
}

func (c *bclient) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.log)
}

// response waits for the response to requestId and checks its header echoes the request.
func (c *bclient) response(id, name, target string) bmsg {
	c.t.Helper()
	m := c.waitFor(0, "response to "+id+" ("+name+")", func(m bmsg) bool {
		return m.Header.Type == "cti.response" && m.Header.RequestID == id
	})
	if m.Header.Name != name || m.Header.Target != target {
		c.t.Fatalf("%s: response %s does not echo name %q and target %q", c.name, m.raw, name, target)
	}
	c.mu.Lock()
	for _, o := range c.log {
		if o.idx != m.idx && o.Header.Type == "cti.response" && o.Header.RequestID == id {
			c.mu.Unlock()
			c.t.Fatalf("%s: two responses to %s: %s and %s", c.name, id, o.raw, m.raw)
		}
	}
	c.mu.Unlock()
	return m
}

// do sends a query or request and returns its response, which must have the given result.
func (c *bclient) do(typ, name, target string, body any, result string) bmsg {
	c.t.Helper()
	id := c.send(typ, name, target, body)
	m := c.response(id, name, target)
	if m.Header.Result != result {
		c.t.Fatalf("%s: %s on %s: want %s, got %s", c.name, name, target, result, m.raw)
	}
	if result == "FAILURE" && m.Header.ErrorMessage == "" {
		c.t.Fatalf("%s: FAILURE without errorMessage: %s", c.name, m.raw)
	}
	return m
}

func (c *bclient) query(name, target string) bmsg {
	c.t.Helper()
	return c.do("cti.query", name, target, nil, "SUCCESS")
}

func (c *bclient) request(name, target string, body any) bmsg {
	c.t.Helper()
	return c.do("cti.request", name, target, body, "SUCCESS")
}

// refused sends a request that must fail with an errorMessage containing every one of want.
func (c *bclient) refused(name, target string, body any, want ...string) bmsg {
	c.t.Helper()
	m := c.do("cti.request", name, target, body, "FAILURE")
	for _, w := range want {
		if !strings.Contains(m.Header.ErrorMessage, w) {
			c.t.Fatalf("%s: errorMessage of %s lacks %q: %s", c.name, name, w, m.raw)
		}
	}
	return m
}

// event waits for the next event name on target at or after from.
func (c *bclient) event(from int, name, target string) bmsg {
	c.t.Helper()
	return c.waitFor(from, "event "+name+" on "+target, func(m bmsg) bool {
		return m.Header.Type == "cti.event" && m.Header.Name == name && m.Header.Target == target
	})
}

// events returns the events received in [from, to) on targets with the given prefix.
func (c *bclient) events(from, to int, prefix string) []bmsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []bmsg
	for i := from; i < to && i < len(c.log); i++ {
		if m := c.log[i]; m.Header.Type == "cti.event" && strings.HasPrefix(m.Header.Target, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// names lists the header names of ms.
func names(ms []bmsg) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Header.Name
	}
	return out
}

// waitClosed waits until the server ends the connection and returns the WebSocket close code
// (-1 for TCP or no close frame).
func (c *bclient) waitClosed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(bwait):
		c.t.Fatalf("%s: connection not closed by the server", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil && !errors.Is(c.err, io.EOF) && c.closeSt == -1 {
		return -1
	}
	return c.closeSt
}
