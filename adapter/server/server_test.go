package server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is a real server (store on disk, hub running) behind httptest.
type testServer struct {
	*Server
	URL    string
	secret string
}

const testSecret = "test-secret-test-secret-test-secret-42"

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerLog(t, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// newTestServerLog is newTestServer logging to log.
func newTestServerLog(t *testing.T, log *slog.Logger) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = testSecret
	ctx := context.Background()
	base, err := OpenBase(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, cfg, log, base)
	if err != nil {
		t.Fatal(err)
	}
	bg, cancel := context.WithCancel(ctx)
	hubDone := srv.Background(bg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-hubDone
		srv.Media.Close()
		srv.Store.Close()
	})
	for _, a := range []string{"acme", "globex"} {
		if _, err := srv.Accounts.Create(ctx, a, "full"); err != nil {
			t.Fatal(err)
		}
	}
	return &testServer{Server: srv, URL: hs.URL, secret: testSecret}
}

func (ts *testServer) token(t *testing.T, acct string, role auth.Role, sub string) string {
	t.Helper()
	m, err := ts.Auth.Mint(context.Background(), auth.MintRequest{Account: acct, Role: role, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return m.Token
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (ts *testServer) do(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r reply) expect(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code != "" {
		if r.header.Get("Content-Type") != "application/problem+json" || r.body["code"] != code {
			t.Fatalf("want problem %q, got %s %s", code, r.header.Get("Content-Type"), r.raw)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.do(t, "GET", "/healthz", "", nil).expect(t, 200, "")
	ts.do(t, "GET", "/readyz", "", nil).expect(t, 200, "")
	m := ts.do(t, "GET", "/metrics", "", nil)
	for _, name := range []string{"cti_events_appended_total", "cti_subscribers_dropped_total", "cti_events_delivered_total", "cti_active_calls"} {
		if !bytes.Contains(m.raw, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestBadTokensAre401(t *testing.T) {
	ts := newTestServer(t)
	now := time.Now()
	mk := func(mutate func(jwt.MapClaims), method jwt.SigningMethod, key any) string {
		c := jwt.MapClaims{"iss": "cti-adapter", "aud": "cti-adapter", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"jti": "x1", "acct": "acme", "role": "admin", "sub": "ops"}
		mutate(c)
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := jwt.SigningMethodHS256
	key := []byte(ts.secret)
	revoked := ts.do(t, "POST", "/api/v1/tokens", ts.token(t, "acme", auth.RoleAdmin, "ops"), map[string]string{"role": "integrator", "sub": "crm"})
	revoked.expect(t, 201, "")
	ts.do(t, "DELETE", "/api/v1/tokens/"+revoked.body["token_id"].(string), ts.token(t, "acme", auth.RoleAdmin, "ops"), nil).expect(t, 204, "")
	cases := map[string]string{
		"none":           "",
		"garbage":        "abc.def.ghi",
		"bad signature":  mk(func(jwt.MapClaims) {}, hs, []byte("another-secret-another-secret-another-secret")),
		"expired":        mk(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }, hs, key),
		"alg none":       mk(func(jwt.MapClaims) {}, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		"wrong audience": mk(func(c jwt.MapClaims) { c["aud"] = "other" }, hs, key),
		"unknown acct":   mk(func(c jwt.MapClaims) { c["acct"] = "initech" }, hs, key),
		"revoked":        revoked.body["token"].(string),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := ts.do(t, "GET", "/api/v1/users", tok, nil)
			r.expect(t, 401, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if tok := mk(func(jwt.MapClaims) {}, hs, key); ts.do(t, "GET", "/api/v1/users", tok, nil).status != 200 {
		t.Fatal("the same claims, well signed, are refused: the cases above prove nothing")
	}
}

func TestRolesAndTenants(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	integ := ts.token(t, "acme", auth.RoleIntegrator, "crm")
	agent := ts.token(t, "acme", auth.RoleAgent, "agent1")
	other := ts.token(t, "globex", auth.RoleAdmin, "ops")
	ts.do(t, "PUT", "/api/v1/users/agent1", admin, map[string]any{"name": "Ann", "extension": "101"}).expect(t, 201, "")

	ts.do(t, "PUT", "/api/v1/settings", integ, map[string]any{"mode": "simple"}).expect(t, 403, "forbidden")
	ts.do(t, "GET", "/api/v1/users", agent, nil).expect(t, 403, "forbidden")
	ts.do(t, "POST", "/api/v1/tokens", integ, map[string]any{"role": "admin", "sub": "me"}).expect(t, 403, "forbidden")
	ts.do(t, "GET", "/api/v1/settings", agent, nil).expect(t, 200, "")

	// globex sees none of acme's data and cannot touch it
	if r := ts.do(t, "GET", "/api/v1/users", other, nil); len(r.body["users"].([]any)) != 0 {
		t.Fatalf("globex sees acme's users: %s", r.raw)
	}
	ts.do(t, "GET", "/api/v1/users/agent1", other, nil).expect(t, 404, "not_found")
	ts.do(t, "DELETE", "/api/v1/users/agent1", other, nil).expect(t, 404, "not_found")
	minted := ts.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"role": "integrator", "sub": "crm"})
	ts.do(t, "DELETE", "/api/v1/tokens/"+minted.body["token_id"].(string), other, nil).expect(t, 404, "not_found")
	ts.do(t, "GET", "/api/v1/users", minted.body["token"].(string), nil).expect(t, 200, "")
	ts.do(t, "GET", "/api/v1/users/agent1", admin, nil).expect(t, 200, "")
}

func TestBadBodiesChangeNothing(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	before := ts.do(t, "GET", "/api/v1/settings", admin, nil).raw
	huge := `{"mode":"simple","queues":["` + strings.Repeat("a", 70<<10) + `"]}`
	cases := []struct {
		name, body, ctype string
		status            int
		code, field       string
	}{
		{"malformed", `{"mode":`, "application/json", 400, "invalid_json", ""},
		{"not an object", `[]`, "application/json", 422, "invalid_message", ""},
		{"bad enum", `{"mode":"turbo"}`, "application/json", 422, "invalid_message", "mode"},
		{"unknown field", `{"mode":"simple","colour":"red"}`, "application/json", 422, "invalid_message", "colour"},
		{"empty patch", `{}`, "application/json", 422, "invalid_message", ""},
		{"out of range", `{"ring_timeout_seconds":1}`, "application/json", 422, "invalid_message", "ring_timeout_seconds"},
		{"oversized", huge, "application/json", 413, "payload_too_large", ""},
		{"not json", `mode=simple`, "application/x-www-form-urlencoded", 415, "unsupported_media", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("PUT", ts.URL+"/api/v1/settings", strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", c.ctype)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var p struct {
				Code   string `json:"code"`
				Errors []struct{ Field, Message string }
			}
			json.Unmarshal(raw, &p)
			if res.StatusCode != c.status || p.Code != c.code {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, raw, c.status, c.code)
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Message == "") {
				t.Fatalf("field errors %+v, want one naming %q", p.Errors, c.field)
			}
		})
	}
	if after := ts.do(t, "GET", "/api/v1/settings", admin, nil).raw; !bytes.Equal(before, after) {
		t.Fatalf("refused updates changed settings:\n%s\n%s", before, after)
	}
	if r := ts.do(t, "GET", "/api/v1/events", admin, nil); len(r.body["events"].([]any)) != 0 {
		t.Fatalf("refused updates emitted events: %s", r.raw)
	}
}

func TestUsersLifecycle(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	ts.do(t, "PUT", "/api/v1/users/ann", admin, map[string]any{"name": "Ann", "extension": "101", "queues": []string{"sales"}}).expect(t, 201, "")
	r := ts.do(t, "PUT", "/api/v1/users/ann", admin, map[string]any{"name": "Ann B"})
	r.expect(t, 200, "")
	if r.body["name"] != "Ann B" || r.body["extension"] != nil {
		t.Fatalf("replace kept old fields: %s", r.raw)
	}
	ts.do(t, "PUT", "/api/v1/users/bob", admin, map[string]any{"name": "Bob", "extension": "102"}).expect(t, 201, "")
	ts.do(t, "PUT", "/api/v1/users/cy", admin, map[string]any{"name": "Cy", "extension": "102"}).expect(t, 409, "conflict")
	ts.do(t, "PUT", "/api/v1/users/bad%20id", admin, map[string]any{"name": "X"}).expect(t, 422, "invalid_message")
	ts.do(t, "PUT", "/api/v1/users/dee", admin, map[string]any{"name": "Dee", "queues": []string{"Bad Queue"}}).expect(t, 422, "invalid_message")
	if r := ts.do(t, "GET", "/api/v1/users", admin, nil); len(r.body["users"].([]any)) != 2 {
		t.Fatalf("users: %s", r.raw)
	}
	ts.do(t, "DELETE", "/api/v1/users/ann", admin, nil).expect(t, 204, "")
	ts.do(t, "DELETE", "/api/v1/users/ann", admin, nil).expect(t, 404, "not_found")
}

func TestTokensOverREST(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	ts.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"role": "agent", "sub": "ghost"}).expect(t, 422, "invalid_message")
	ts.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"role": "customer", "sub": "x"}).expect(t, 422, "invalid_message")
	ts.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"role": "integrator", "sub": "crm", "ttl": "0s"}).expect(t, 422, "invalid_message")
	r := ts.do(t, "POST", "/api/v1/tokens", admin, map[string]any{"role": "integrator", "sub": "crm", "ttl": "2h"})
	r.expect(t, 201, "")
	u, err := url.Parse(r.body["ws_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(r.body["token_id"].(string)))
	if u.Scheme != "ws" || u.Path != "/acme-"+hex.EncodeToString(sum[:]) || u.Query().Get("access_token") != r.body["token"] {
		t.Fatalf("ws_url %s", u)
	}
	exp, _ := time.Parse(time.RFC3339, r.body["expires_at"].(string))
	if d := time.Until(exp); d < 119*time.Minute || d > 121*time.Minute {
		t.Fatalf("ttl not honoured: expires in %s", d)
	}
}

func TestSettingsUpdateEmitsEvent(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	sub, err := ts.Hub.Subscribe(context.Background(), "acme", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	r := ts.do(t, "PUT", "/api/v1/settings", admin, map[string]any{"mode": "agent-state", "wrap_up_seconds": 15})
	r.expect(t, 200, "")
	if r.body["mode"] != "agent-state" || r.body["ring_timeout_seconds"] != 20.0 {
		t.Fatalf("settings after patch: %s", r.raw)
	}
	ev, err := sub.Next(context.Background())
	if err != nil || ev.Name != "settings_changed" || ev.Seq != 1 {
		t.Fatalf("event %+v %v", ev, err)
	}
	if err := ts.Schemas.Validate("events/settings_changed", ev.Data); err != nil {
		t.Fatalf("emitted event fails its schema: %v", err)
	}
	// same view through the REST log, and globex's log is empty
	evs := ts.do(t, "GET", "/api/v1/events?since=0", admin, nil)
	list := evs.body["events"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["seq"] != 1.0 || evs.body["next_since"] != 1.0 {
		t.Fatalf("events: %s", evs.raw)
	}
	if r := ts.do(t, "GET", "/api/v1/events", ts.token(t, "globex", auth.RoleAdmin, "ops"), nil); len(r.body["events"].([]any)) != 0 {
		t.Fatalf("globex sees acme's events: %s", r.raw)
	}
	ts.do(t, "GET", "/api/v1/events?limit=0", admin, nil).expect(t, 400, "invalid_message") // query parameters: 400
	ts.do(t, "GET", "/api/v1/events?since=-1", admin, nil).expect(t, 400, "invalid_message")
	ts.do(t, "PUT", "/api/v1/settings", admin, map[string]any{"mode": "full"}).expect(t, 200, "")
	if _, err := ts.Store.PruneEvents(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	gone := ts.do(t, "GET", "/api/v1/events?since=1", admin, nil)
	gone.expect(t, 410, "resync_required")
	if gone.body["oldest_seq"] != 3.0 {
		t.Fatalf("410 without oldest_seq: %s", gone.raw)
	}
	// since=0 means "from the oldest retained", like resume_from 0 on the WebSocket
	fromStart := ts.do(t, "GET", "/api/v1/events?since=0", admin, nil)
	fromStart.expect(t, 200, "")
	if fromStart.body["oldest_seq"] != 3.0 || len(fromStart.body["events"].([]any)) != 0 {
		t.Fatalf("since=0 after pruning: %s", fromStart.raw)
	}
}

func TestCallRecords(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.token(t, "acme", auth.RoleAdmin, "ops")
	ts.do(t, "PUT", "/api/v1/users/ann", admin, map[string]any{"name": "Ann"}).expect(t, 201, "")
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		ans, end := t0.Add(time.Duration(i)*time.Hour+5*time.Second), t0.Add(time.Duration(i)*time.Hour+65*time.Second)
		user := "ann"
		if i%2 == 1 {
			user = ""
		}
		c := store.Call{Account: "acme", ID: "c" + string(rune('0'+i)), Direction: "inbound", Source: "webrtc", Phone: "+1555",
			UserID: user, State: "ended", Media: []string{"audio"}, Variables: map[string]string{"n": "1"},
			CreatedAt: t0.Add(time.Duration(i) * time.Hour), AnsweredAt: &ans, EndedAt: &end, EndReason: "hangup", EndedBy: "remote",
			Legs:    []store.Leg{{ID: "l1", Kind: "customer", Media: []string{"audio"}, State: "ended", StartedAt: t0}},
			Parties: []store.Party{{Phone: "+1555", Role: "caller", JoinedAt: t0}}}
		if err := ts.Store.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		r := ts.do(t, "GET", "/api/v1/calls?limit=2&cursor="+url.QueryEscape(cursor), admin, nil)
		r.expect(t, 200, "")
		for _, c := range r.body["calls"].([]any) {
			id := c.(map[string]any)["call_id"].(string)
			if seen[id] {
				t.Fatalf("call %s twice", id)
			}
			seen[id] = true
		}
		cursor, _ = r.body["next_cursor"].(string)
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged %d calls, want 5", len(seen))
	}
	r := ts.do(t, "GET", "/api/v1/calls?user_id=ann&from="+url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339)), admin, nil)
	if n := len(r.body["calls"].([]any)); n != 2 {
		t.Fatalf("filter user+from: %d calls: %s", n, r.raw)
	}
	one := ts.do(t, "GET", "/api/v1/calls/c0", admin, nil)
	one.expect(t, 200, "")
	if one.body["duration_ms"] != 60000.0 || len(one.body["legs"].([]any)) != 1 || one.body["end_reason"] != "hangup" {
		t.Fatalf("call record: %s", one.raw)
	}
	ts.do(t, "GET", "/api/v1/calls/c0", ts.token(t, "globex", auth.RoleAdmin, "ops"), nil).expect(t, 404, "not_found")
	ts.do(t, "GET", "/api/v1/calls?from=yesterday", admin, nil).expect(t, 400, "invalid_message")
	ts.do(t, "GET", "/api/v1/calls?cursor=!!!", admin, nil).expect(t, 400, "")
}
