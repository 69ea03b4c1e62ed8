package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// syncBuffer is a log sink the server writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// send sends one request with optional headers ("Name: value").
func (e *cmdEnv) send(t *testing.T, method, path, token, body string, headers ...string) answer {
	t.Helper()
	var rd *strings.Reader
	if body == "" {
		rd = strings.NewReader("")
	} else {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, header: res.Header}
	_ = json.NewDecoder(res.Body).Decode(&a.body)
	return a
}

func TestUnknownRoutesAndMethodsAreProblems(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	nf := e.send(t, "GET", "/api/v1/nope", admin, "")
	nf.is(t, http.StatusNotFound, "not_found")
	if nf.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("404 without nosniff: %v", nf.header)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"PATCH", "/api/v1/settings", "GET, PUT"},
		{"POST", "/api/v1/users/bob", "GET, PUT, DELETE"},
		{"DELETE", "/api/v1/calls", "GET, POST"},
	} {
		a := e.send(t, tc.method, tc.path, admin, "")
		a.is(t, http.StatusMethodNotAllowed, "method_not_allowed")
		if a.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, a.header.Get("Allow"), tc.allow)
		}
	}
	if ok := e.send(t, "GET", "/api/v1/users", admin, ""); ok.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("200 without nosniff: %v", ok.header)
	}
}

func TestQueryParametersValidated(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	for q, field := range map[string]string{
		"user_id=bad%20id":  "user_id",
		"user_id=":          "user_id",
		"cursor=%%%":        "(query)",
		"cursor=garbage":    "cursor",
		"cursor=a&cursor=b": "cursor",
		"limit=0":           "limit",
		"from=yesterday":    "from",
		"queue=Sales!":      "queue",
		"queue=a&queue=b":   "queue",
		"outcome=maybe":     "outcome",
	} {
		a := e.send(t, "GET", "/api/v1/calls?"+q, admin, "")
		a.is(t, http.StatusBadRequest, "invalid_message")
		errs, _ := a.body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v, want field %s", q, a.body["errors"], field)
		}
	}
	e.send(t, "GET", "/api/v1/calls?user_id=bob&limit=5", admin, "").is(t, http.StatusOK, "")
	e.send(t, "GET", "/api/v1/calls?queue=sales&outcome=unanswered", admin, "").is(t, http.StatusOK, "")
	e.send(t, "GET", "/api/v1/events?since=%zz", admin, "").is(t, http.StatusBadRequest, "invalid_message")
}

func TestEventsSinceBeyondHeadIsResync(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	for range 3 {
		if a := e.send(t, "PUT", "/api/v1/settings", admin, `{"wrap_up_seconds":1}`); a.status != 200 {
			t.Fatalf("put settings: %d %v", a.status, a.body)
		}
	}
	head := e.hub.Head("acme")
	if head < 3 {
		t.Fatalf("head %d after three settings changes", head)
	}
	at := e.send(t, "GET", "/api/v1/events?since="+itoa(head), admin, "")
	at.is(t, http.StatusOK, "")
	if evs := at.body["events"].([]any); len(evs) != 0 || at.body["next_since"].(float64) != float64(head) {
		t.Errorf("since=head: %v", at.body)
	}
	beyond := e.send(t, "GET", "/api/v1/events?since="+itoa(head+1), admin, "")
	beyond.is(t, http.StatusGone, "resync_required")
	if beyond.body["oldest_seq"] == nil {
		t.Errorf("resync without oldest_seq: %v", beyond.body)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestIntegralNumbersAccepted(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	for body, want := range map[string][2]any{
		`{"wrap_up_seconds":5.0}`:   {"wrap_up_seconds", 5.0},
		`{"wrap_up_seconds":7e0}`:   {"wrap_up_seconds", 7.0},
		`{"max_connections":1e2}`:   {"max_connections", 100.0},
		`{"max_connections":2.5e2}`: {"max_connections", 250.0},
	} {
		a := e.send(t, "PUT", "/api/v1/settings", admin, body)
		a.is(t, http.StatusOK, "")
		if got := a.body[want[0].(string)]; got != want[1] {
			t.Errorf("%s: %s = %v, want %v", body, want[0], got, want[1])
		}
	}
	e.send(t, "PUT", "/api/v1/settings", admin, `{"wrap_up_seconds":5.5}`).is(t, http.StatusUnprocessableEntity, "invalid_message")
}

func TestInvalidTextRefused(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	for _, body := range []string{"{\"name\":\"\xff\xfe\"}", `{"name":"a\u0000b"}`, `{"name":"\ud800"}`} {
		e.send(t, "PUT", "/api/v1/users/x", admin, body).is(t, http.StatusBadRequest, "invalid_json")
	}
	e.send(t, "GET", "/api/v1/users/x", admin, "").is(t, http.StatusNotFound, "not_found") // nothing stored
	integ := e.token(t, "acme", auth.RoleIntegrator, "crm")
	e.send(t, "POST", "/api/v1/calls", integ, "{\"user_id\":\"bob\",\"phone\":\"1002\",\"variables\":{\"k\":\"\xc3\"}}").is(t, http.StatusBadRequest, "invalid_json")
}

func TestTokenAnswerNotCached(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	a := e.send(t, "POST", "/api/v1/tokens", admin, `{"role":"integrator","sub":"crm"}`)
	a.is(t, http.StatusCreated, "")
	if a.header.Get("Cache-Control") != "no-store" || a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("token answer headers: %v", a.header)
	}
	// The list gives each admin and integrator token the path of its CTI WebSocket (the one
	// in the minted ws_url), never for agents.
	e.send(t, "POST", "/api/v1/tokens", admin, `{"role":"agent","sub":"bob"}`).is(t, http.StatusCreated, "")
	l := e.send(t, "GET", "/api/v1/tokens", admin, "")
	l.is(t, http.StatusOK, "")
	paths, used := map[string]any{}, map[string]any{}
	for _, x := range l.body["tokens"].([]any) {
		m := x.(map[string]any)
		paths[m["role"].(string)] = m["ws_path"]
		used[m["role"].(string)] = m["last_used_at"]
		if m["token_id"] == a.body["token_id"] && !strings.Contains(a.body["ws_url"].(string), m["ws_path"].(string)+"?access_token=") {
			t.Errorf("ws_path %v is not the path of ws_url %v", m["ws_path"], a.body["ws_url"])
		}
	}
	if paths["agent"] != nil || paths["integrator"] == nil {
		t.Errorf("ws_path by role: %v", paths)
	}
	// The admin token was just used (this very list); the minted ones never were.
	if used["admin"] == nil || used["agent"] != nil || used["integrator"] != nil {
		t.Errorf("last_used_at by role: %v", used)
	}
}

// A client that goes away mid-request is a client close (499, INFO), not a server error.
func TestClientCloseIsNotServerError(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	e.send(t, "GET", "/api/v1/users", admin, "").is(t, http.StatusOK, "") // the account is known now
	h := e.api.Routes()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/users", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	cancel() // the client is gone before the store is read
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != StatusClientClosed {
		t.Fatalf("status %d, want %d", rec.Code, StatusClientClosed)
	}
	if n := counter(e.metrics.HTTPRequests.WithLabelValues("/users", "4xx")); n != 1 {
		t.Errorf("4xx count %v, want 1", n)
	}
	if n := counter(e.metrics.HTTPRequests.WithLabelValues("/users", "5xx")); n != 0 {
		t.Errorf("5xx count %v, want 0", n)
	}
	logs := e.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "client closed request") {
		t.Errorf("logs:\n%s", logs)
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func TestAPICORS(t *testing.T) {
	e := newCmdEnv(t)
	acme := e.token(t, "acme", auth.RoleAdmin, "root")
	globex := e.token(t, "globex", auth.RoleAdmin, "root")
	e.send(t, "PUT", "/api/v1/settings", acme, `{"allowed_origins":["https://crm.acme.test"]}`).is(t, http.StatusOK, "")
	e.send(t, "PUT", "/api/v1/settings", globex, `{"allowed_origins":["https://crm.globex.test"]}`).is(t, http.StatusOK, "")
	preflight := func(origin string) answer {
		return e.send(t, "OPTIONS", "/api/v1/calls", "", "", "Origin: "+origin,
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type")
	}
	for _, o := range []string{"https://crm.acme.test", "https://crm.globex.test"} {
		a := preflight(o)
		if a.status != http.StatusOK || a.header.Get("Access-Control-Allow-Origin") != o ||
			!strings.Contains(strings.ToLower(a.header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight from %s: %d %v", o, a.status, a.header)
		}
		if a.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight allows credentials: %v", a.header)
		}
	}
	if a := preflight("https://evil.test"); a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unlisted origin allowed: %v", a.header)
	}
	// Actual responses: only the token's own account's origins.
	for _, tc := range []struct {
		token, origin string
		allowed       bool
	}{
		{acme, "https://crm.acme.test", true},
		{acme, "https://crm.globex.test", false},
		{globex, "https://crm.globex.test", true},
		{acme, "https://evil.test", false},
	} {
		a := e.send(t, "GET", "/api/v1/users", tc.token, "", "Origin: "+tc.origin)
		if got := a.header.Get("Access-Control-Allow-Origin"); (got == tc.origin) != tc.allowed || (!tc.allowed && got != "") {
			t.Errorf("GET /users from %s: Access-Control-Allow-Origin %q, want allowed=%v", tc.origin, got, tc.allowed)
		}
	}
	if a := e.send(t, "POST", "/api/v1/calls", acme, `{"user_id":"nobody","phone":"1"}`, "Origin: https://crm.acme.test"); a.header.Get("Access-Control-Allow-Origin") != "https://crm.acme.test" {
		t.Errorf("an error answer is unreadable cross-origin: %d %v", a.status, a.header)
	}
}

// FuzzRESTBodies sends arbitrary bodies to every REST route that takes one: never a 500, always
// JSON or problem+json, and a success only for a body its schema accepts.
func FuzzRESTBodies(f *testing.F) {
	routes := []struct{ method, path, schema string }{
		{"PUT", "/users/fuzz", "rest/put_user"},
		{"PUT", "/settings", "rest/put_settings"},
		{"POST", "/tokens", "rest/post_token"},
		{"POST", "/calls", "commands/make_call"},
		{"POST", "/calls/c1/variables", "rest/set_variables"},
	}
	for i, seed := range []string{`{"name":"Ann","queues":["sales"]}`, `{"wrap_up_seconds":5.0}`, `{"role":"integrator","sub":"x"}`,
		`{"user_id":"bob","phone":"1002"}`, `{"variables":{"k":"v"}}`, "{\"name\":\"\xff\"}", `{"name":"a\u0000"}`, `[]`, `{`, `{"max_connections":1e400}`} {
		f.Add(uint8(i), []byte(seed))
	}
	e := newCmdEnv(f)
	admin := e.token(f, "acme", auth.RoleAdmin, "root")
	h := e.api.Routes()
	reg := e.api.Schemas
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ct := rec.Header().Get("Content-Type")
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		case ct != "application/json" && ct != "application/problem+json":
			t.Fatalf("%s %s %q: Content-Type %q", rt.method, rt.path, body, ct)
		case rec.Code < 300 && reg.Validate(rt.schema, body) != nil:
			t.Fatalf("%s %s accepted %q, which %s refuses", rt.method, rt.path, body, rt.schema)
		}
	})
}

// TestProblemErrorsCapped: a body with thousands of bad fields gets a bounded answer: the first
// 20 field errors and the count of the rest.
func TestProblemErrorsCapped(t *testing.T) {
	e := newCmdEnv(t)
	integ := e.token(t, "acme", auth.RoleIntegrator, "crm")
	var b strings.Builder
	b.WriteString(`{"variables":{`)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	b.WriteString(`}}`)
	a := e.send(t, "POST", "/api/v1/calls/c1/variables", integ, b.String())
	a.is(t, http.StatusUnprocessableEntity, "invalid_message")
	errs, _ := a.body["errors"].([]any)
	omitted, _ := a.body["errors_omitted"].(float64)
	if len(errs) != 20 || len(errs)+int(omitted) < 3000 {
		t.Fatalf("%d errors listed, %v omitted", len(errs), omitted)
	}
}
