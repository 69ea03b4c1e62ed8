package integration

// A CTI WebSocket client written from docs/PROTOCOLS.md section 2 alone (URL, frames, error
// codes, resume), and the harness the vox_* tests share: a real server (store on disk, hub, core)
// behind httptest.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/server"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
	"github.com/cti-adapter/cti-adapter/schemas"
)

const voxSecret = "vox-integration-secret-vox-integration-secret"

// voxServer is a real server behind httptest with accounts acme and globex, each with users
// bob and alice.
type voxServer struct {
	*server.Server
	URL    string
	client *http.Client // for REST calls and WebSocket handshakes (closed at cleanup)
	reg    *schemas.Registry
	vox    *vox.Handler // set when the test mounted its own handler (custom options)
}

type voxSetup struct {
	queue   int          // subscriber queue (default: config default)
	options *vox.Options // mount a vox handler with these options in front of the server's
}

func newVoxServer(t *testing.T, setup voxSetup) *voxServer {
	t.Helper()
	s := &voxServer{client: &http.Client{Transport: &http.Transport{}}}
	o := harnessOptions{secret: voxSecret, queue: setup.queue}
	if setup.options != nil {
		o.wrap = func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Get("/{room:[a-z0-9][a-z0-9_-]{0,62}-[0-9a-fA-F]{32}}", func(w http.ResponseWriter, r *http.Request) { s.vox.ServeHTTP(w, r) })
			r.Mount("/", h)
			return r
		}
	}
	hs := startHarness(t, o)
	srv := hs.Server
	s.Server, s.URL, s.reg = srv, hs.URL, srv.Schemas
	if setup.options != nil {
		s.vox = vox.New(vox.Deps{Log: srv.Log, Auth: srv.Auth, Hub: srv.Hub, Core: srv.Core, Accounts: srv.Accounts,
			Schemas: srv.Schemas, Metrics: srv.Metrics, Conns: srv.Conns}, *setup.options)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	ctx := context.Background()
	for _, a := range []string{"acme", "globex"} {
		if _, err := srv.Accounts.Create(ctx, a, "full"); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"bob", "alice"} {
			if _, err := srv.Store.PutUser(ctx, store.User{Account: a, ID: u, Name: u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// mint returns a token and its id.
func (s *voxServer) mint(t testing.TB, acct string, role auth.Role, sub string) (token, id string) {
	t.Helper()
	m, err := s.Auth.Mint(context.Background(), auth.MintRequest{Account: acct, Role: role, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return m.Token, m.ID
}

// forge signs arbitrary claims with the server's secret (expired tokens, unknown accounts).
func forge(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(voxSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// roomURL is the account's CTI WebSocket URL for a token id (PROTOCOLS.md section 2).
func (s *voxServer) roomURL(acct, jti, token string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/" + acct + "-" + md5Hex(jti) + "?access_token=" + token
}

// dialRaw opens a WebSocket to url; res is the handshake response (the refusal when err != nil).
func (s *voxServer) dialRaw(ctx context.Context, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.client, HTTPHeader: header})
}

// frame is any server frame.
type frame struct {
	Event     string          `json:"event"`
	Seq       int64           `json:"seq"`
	TS        string          `json:"ts"`
	RequestID *string         `json:"request_id"`
	Data      json.RawMessage `json:"data"`
	raw       []byte
	at        time.Time // when the client read it
}

func (f frame) String() string { return string(f.raw) }

func (f frame) field(name string) any {
	var m map[string]any
	_ = json.Unmarshal(f.Data, &m)
	return m[name]
}

// errorData is the data of an error frame.
type errorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func (f frame) errorData() errorData {
	var d errorData
	_ = json.Unmarshal(f.Data, &d)
	return d
}

// voxClient is one integrator connection.
type voxClient struct {
	t        testing.TB
	ws       *websocket.Conn
	senderID string
	in       chan frame
	done     chan struct{} // closed when the reader stopped; then closeErr says why
	closeErr error
}

// dialVox opens a connection and reads connection_accepted, without sending connected and
// without starting the reader (see start).
func (s *voxServer) dialVox(t testing.TB, acct, jti, token string) *voxClient {
	t.Helper()
	ws, res, err := s.dialRaw(context.Background(), s.roomURL(acct, jti, token), nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", acct, err, status)
	}
	ws.SetReadLimit(1 << 20)
	c := &voxClient{t: t, ws: ws, in: make(chan frame, 1<<14), done: make(chan struct{})}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("no connection_accepted: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil || f.Event != "connection_accepted" {
		t.Fatalf("first frame %s", b)
	}
	if err := s.reg.Validate("vox/connection_accepted", b); err != nil {
		t.Fatalf("connection_accepted %s: %v", b, err)
	}
	c.senderID, _ = f.field("sender_id").(string)
	return c
}

// connect dials, sends connected (resume_from when resume >= 0) and starts reading.
func (s *voxServer) connect(t testing.TB, acct, jti, token string, resume int64) *voxClient {
	t.Helper()
	c := s.dialVox(t, acct, jti, token)
	c.sendConnected(resume)
	c.start()
	return c
}

func (c *voxClient) sendConnected(resume int64) {
	c.t.Helper()
	m := map[string]any{"event": "connected", "sender_id": c.senderID}
	if resume >= 0 {
		m["data"] = map[string]any{"resume_from": resume}
	}
	c.send(m)
}

// start reads frames into in until the connection ends.
func (c *voxClient) start() {
	go func() {
		defer close(c.done)
		for {
			_, b, err := c.ws.Read(context.Background())
			if err != nil {
				c.closeErr = err
				return
			}
			f := frame{raw: b, at: time.Now()}
			if err := json.Unmarshal(b, &f); err != nil {
				c.closeErr = fmt.Errorf("server sent non-JSON %q", b)
				return
			}
			c.in <- f
		}
	}()
}

func (c *voxClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

func (c *voxClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *voxClient) command(name, requestID string, data any) {
	c.t.Helper()
	c.send(map[string]any{"command": name, "sender_id": c.senderID, "request_id": requestID, "data": data})
}

// next returns the next frame, failing after d.
func (c *voxClient) next(d time.Duration) frame {
	c.t.Helper()
	select {
	case f := <-c.in:
		return f
	case <-c.done:
		select {
		case f := <-c.in:
			return f
		default:
		}
		c.t.Fatalf("connection ended (%v) while waiting for a frame", c.closeErr)
	case <-time.After(d):
		c.t.Fatalf("no frame within %s", d)
	}
	return frame{}
}

// reply returns the frame answering requestID (command_result or error), checking that only
// events come before it.
func (c *voxClient) reply(requestID string) frame {
	c.t.Helper()
	for {
		f := c.next(10 * time.Second)
		if f.RequestID != nil && *f.RequestID == requestID {
			return f
		}
		if f.Seq == 0 {
			c.t.Fatalf("waiting for the reply to %s, got %s", requestID, f)
		}
	}
}

// expectError reads the next frame, which must be an error with code (and request_id if not "").
func (c *voxClient) expectError(code, requestID string) errorData {
	c.t.Helper()
	f := c.next(10 * time.Second)
	d := f.errorData()
	if f.Event != "error" || d.Code != code {
		c.t.Fatalf("want error %s, got %s", code, f)
	}
	got := ""
	if f.RequestID != nil {
		got = *f.RequestID
	}
	if got != requestID {
		c.t.Fatalf("error %s: request_id %q, want %q", code, got, requestID)
	}
	return d
}

// closeStatus waits for the connection to end and returns its close code.
func (c *voxClient) closeStatus(d time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
		return websocket.CloseStatus(c.closeErr)
	case <-time.After(d):
		c.t.Fatalf("connection still open after %s", d)
	}
	return 0
}

func (c *voxClient) close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// checkEvent validates an event frame against vox/event and its data against events/<name>.
func (s *voxServer) checkEvent(t testing.TB, f frame) {
	t.Helper()
	if err := s.reg.Validate("vox/event", f.raw); err != nil {
		t.Fatalf("event frame %s: %v", f, err)
	}
	if err := s.reg.Validate("events/"+f.Event, f.Data); err != nil {
		t.Fatalf("%s data %s: %v", f.Event, f.Data, err)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.000Z", f.TS); err != nil || ts.Location() != time.UTC {
		t.Fatalf("ts %q is not RFC 3339 UTC with milliseconds", f.TS)
	}
}

// rest calls the REST API.
func (s *voxServer) rest(t testing.TB, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// isClosedErr reports whether err is the end of a connection rather than a test failure.
func isClosedErr(err error) bool {
	return err != nil && (websocket.CloseStatus(err) != -1 || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "closed"))
}
