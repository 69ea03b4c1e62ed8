package bridge_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// world is a real server (store, hub, core) and a bridge over it, with account acme (full
// mode) and agent a1.
type world struct {
	srv *server.Server
	b   *bridge.Bridge
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	cfg := config.Default()
	cfg.DataDir = tb.TempDir()
	cfg.JWTSecret = "bridge-unit-secret-bridge-unit-secret-42"
	cfg.RTCLoopback = true
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	base, err := server.OpenBase(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(ctx, cfg, log, base)
	if err != nil {
		tb.Fatal(err)
	}
	bg, cancel := context.WithCancel(ctx)
	hubDone := srv.Background(bg)
	b := bridge.New(bridge.Deps{Auth: srv.Auth, Hub: srv.Hub, Core: srv.Core, Users: srv.Store, Schemas: srv.Schemas,
		LoginTimeout: time.Hour})
	tb.Cleanup(func() {
		sctx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		if err := b.Shutdown(sctx); err != nil {
			tb.Errorf("bridge shutdown: %v", err)
		}
		cancel()
		<-hubDone
		_ = srv.Media.Close()
		_ = srv.Store.Close()
	})
	if _, err := srv.Accounts.Create(ctx, "acme", "full"); err != nil {
		tb.Fatal(err)
	}
	if _, err := srv.Store.PutUser(ctx, store.User{Account: "acme", ID: "a1", Name: "Agent a1", Extension: "101"}); err != nil {
		tb.Fatal(err)
	}
	return &world{srv: srv, b: b}
}

func (w *world) token(tb testing.TB, uid string) string {
	m, err := w.srv.Auth.Mint(context.Background(), auth.MintRequest{Account: "acme", Role: auth.RoleAgent, Subject: uid})
	if err != nil {
		tb.Fatal(err)
	}
	return m.Token
}

// scripted is a net.Conn whose reads are a fixed byte string and whose writes are recorded: a
// whole TCP session without a network, for fuzzing the framing layer.
type scripted struct {
	r  *bytes.Reader
	mu sync.Mutex
	w  bytes.Buffer
}

func (s *scripted) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *scripted) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
func (s *scripted) Close() error                     { return nil }
func (s *scripted) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *scripted) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *scripted) SetDeadline(time.Time) error      { return nil }
func (s *scripted) SetReadDeadline(time.Time) error  { return nil }
func (s *scripted) SetWriteDeadline(time.Time) error { return nil }
func (s *scripted) written() []byte                  { s.mu.Lock(); defer s.mu.Unlock(); return s.w.Bytes() }
func frame(msg string) []byte                        { return appendFrame(nil, []byte(msg)) }
func appendFrame(dst, msg []byte) []byte {
	return append(binary.BigEndian.AppendUint32(dst, uint32(len(msg))), msg...)
}
func header(typ, name, target, id string) string {
	b, _ := json.Marshal(map[string]any{"header": map[string]string{"type": typ, "name": name, "target": target, "requestId": id}})
	return string(b)
}

// expectedReplies is how many responses the framing rules promise for a TCP byte stream: one
// per complete frame (an over-size one included), one for a length beyond 16 MiB (then the
// connection closes), none for an incomplete trailing frame.
func expectedReplies(data []byte) int {
	n := 0
	for len(data) >= 4 {
		l := binary.BigEndian.Uint32(data)
		data = data[4:]
		if l > 16<<20 {
			return n + 1
		}
		if uint32(len(data)) < l {
			return n
		}
		data = data[l:]
		n++
	}
	return n
}

type reply struct {
	Header bridge.Header  `json:"header"`
	Body   map[string]any `json:"body"`
}

func splitFrames(tb testing.TB, out []byte) [][]byte {
	var msgs [][]byte
	for len(out) > 0 {
		if len(out) < 4 {
			tb.Fatalf("truncated frame in the output: % x", out)
		}
		l := binary.BigEndian.Uint32(out)
		if uint32(len(out)-4) < l {
			tb.Fatalf("truncated frame in the output")
		}
		msgs = append(msgs, out[4:4+l])
		out = out[4+l:]
	}
	return msgs
}

// FuzzTCPFrame feeds arbitrary byte streams to a TCP bridge connection: every complete frame is
// answered exactly once with a valid response, whatever it holds.
func FuzzTCPFrame(f *testing.F) {
	w := newWorld(f)
	f.Add(frame(header("cti.query", "control.query.init", "CTI.CONTROL", "1")))
	f.Add(frame(`{"header":`))
	f.Add(frame(``))
	f.Add(append(frame(`[]`), frame(header("cti.request", "channel.request.ready", "s.voice.phone", "2"))...))
	f.Add(frame(`{"header":{"type":"cti.request","name":"control.request.login","target":"CTI.CONTROL","requestId":"3"},"body":{"token":"a.b.c"}}`))
	f.Add(append(binary.BigEndian.AppendUint32(nil, 70<<10), make([]byte, 70<<10)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2})
	f.Add([]byte{0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &scripted{r: bytes.NewReader(data)}
		served := make(chan struct{})
		go func() { defer close(served); w.b.ServeConn(nc) }()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("ServeConn hangs on %q:\n%s", data, buf[:runtime.Stack(buf, true)])
		}
		msgs := splitFrames(t, nc.written())
		if want := expectedReplies(data); len(msgs) != want {
			t.Fatalf("%d replies to %d frames", len(msgs), want)
		}
		for _, m := range msgs {
			if err := w.srv.Schemas.Validate("bridge/message", m); err != nil {
				t.Fatalf("invalid reply %s: %v", m, err)
			}
			var r reply
			_ = json.Unmarshal(m, &r)
			if r.Header.Type != bridge.TypeResponse || r.Header.Result == bridge.Failure && r.Header.ErrorMessage == "" {
				t.Fatalf("reply %s", m)
			}
		}
	})
}

// FuzzWSMessage sends arbitrary messages on one WebSocket: each is answered exactly once with a
// valid response, and the connection stays open.
func FuzzWSMessage(f *testing.F) {
	w := newWorld(f)
	c := dialWS(f, w, "")
	f.Add([]byte(header("cti.query", "control.query.init", "CTI.CONTROL", "1")))
	f.Add([]byte(`{"header":{"type":"cti.request","name":"conversation.request.hold","target":"a.b.c.d.e","requestId":"x"}}`))
	f.Add([]byte(`{"header":{"type":"cti.event","name":"x","target":"y"},"body":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte("\xff\xfe"))
	f.Add(bytes.Repeat([]byte{'['}, 70<<10))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := c.write(data); err != nil {
			t.Fatal(err)
		}
		m, err := c.read()
		if err != nil {
			t.Fatalf("connection lost after %q: %v", data, err)
		}
		if err := w.srv.Schemas.Validate("bridge/message", m); err != nil {
			t.Fatalf("invalid reply %s: %v", m, err)
		}
		var r reply
		_ = json.Unmarshal(m, &r)
		// before login only control.query.init succeeds (with the provisional body)
		okInit := r.Header.Result == bridge.Success && r.Header.Name == "control.query.init" && r.Header.Target == "CTI.CONTROL"
		if r.Header.Type != bridge.TypeResponse || r.Header.Result != bridge.Failure && !okInit {
			t.Fatalf("reply %s to an unauthenticated connection", m)
		}
	})
}

func TestServeConnAnswersEveryFrame(t *testing.T) {
	w := newWorld(t)
	var in []byte
	in = append(in, frame(header("cti.query", "control.query.init", "CTI.CONTROL", "1"))...)
	in = append(in, frame(`{"header":{"type":"cti.request","name":"control.request.login","target":"CTI.CONTROL","requestId":"2"},"body":{"token":"`+w.token(t, "a1")+`"}}`)...)
	in = append(in, frame(header("cti.query", "control.query.init", "CTI.CONTROL", "3"))...)
	in = append(in, binary.BigEndian.AppendUint32(nil, 65<<10)...)
	in = append(in, make([]byte, 65<<10)...)
	in = append(in, frame(header("cti.query", "control.query.init", "CTI.CONTROL", "4"))...)
	nc := &scripted{r: bytes.NewReader(in)}
	w.b.ServeConn(nc)
	msgs := splitFrames(t, nc.written())
	var got []string
	for _, m := range msgs {
		var r reply
		if err := json.Unmarshal(m, &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Header.Type == bridge.TypeEvent:
			// the login brings the provisional init answer to the account's mode
			if r.Header.Name != "control.statechanged" || r.Body["mode"] != "full" {
				t.Fatalf("unexpected event %s", m)
			}
			got = append(got, "statechanged")
		case r.Header.RequestID == "1":
			// init before login: SUCCESS with a provisional body (PROTOCOLS section 4 start-up order)
			if err := w.srv.Schemas.Validate("bridge/control.query.init.response", mustBody(t, r)); err != nil || r.Body["status"] != "ACTIVE" || r.Body["mode"] != "simple" {
				t.Fatalf("init before login: %s (%v)", m, err)
			}
			fallthrough
		default:
			got = append(got, r.Header.RequestID+":"+r.Header.Result)
		}
	}
	want := []string{"1:SUCCESS", "2:SUCCESS", "statechanged", "3:SUCCESS", "unknown:FAILURE", "4:SUCCESS"}
	if len(got) != len(want) {
		t.Fatalf("replies %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replies %v, want %v", got, want)
		}
	}
}

var _ io.Reader = (*scripted)(nil)

func mustBody(tb testing.TB, r reply) []byte {
	b, err := json.Marshal(r.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// wsClient is a bare WebSocket bridge client.
type wsClient struct{ ws *websocket.Conn }

func dialWS(tb testing.TB, w *world, token string) *wsClient {
	tb.Helper()
	hs := httptest.NewServer(w.b)
	u := "ws" + hs.URL[len("http"):] + "/bridge"
	if token != "" {
		u += "?access_token=" + token
	}
	ws, _, err := websocket.Dial(context.Background(), u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	tb.Cleanup(func() {
		_ = ws.CloseNow()
		hs.Close()
	})
	return &wsClient{ws: ws}
}

func (c *wsClient) write(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *wsClient) read() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	return b, err
}
