package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// cmdEnv is the REST API over a real store, hub and core (no media engine).
type cmdEnv struct {
	api     *API
	metrics *metrics.Metrics
	logs    *syncBuffer
	url     string
	auth    *auth.Service
	core    *core.Core
	hub     *hub.Hub
	store   *store.Store
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCmdEnv(t testing.TB) *cmdEnv {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cti.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.HS256([]byte("commands-test-secret-commands-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := auth.New(ctx, keys, st, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, st, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	go h.Run(run)
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewDirectory(st)
	for _, a := range []string{"acme", "globex"} {
		if _, err := accounts.Create(ctx, a, account.ModeFull); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutUser(ctx, store.User{Account: a, ID: "bob", Name: "Bob"}); err != nil {
			t.Fatal(err)
		}
	}
	c := core.New(h, st, accounts, core.Options{Log: log})
	r := chi.NewRouter()
	m := metrics.New()
	a := New(Deps{Log: log, Store: st, Auth: as, Accounts: accounts, Hub: h, Core: c, Schemas: reg, Metrics: m})
	r.Mount("/api/v1", a.Routes())
	hs := httptest.NewServer(r)
	t.Cleanup(func() {
		hs.Close()
		stop()
		<-h.Done()
		st.Close()
	})
	return &cmdEnv{api: a, metrics: m, logs: logs, url: hs.URL, auth: as, core: c, hub: h, store: st}
}

func (e *cmdEnv) token(t testing.TB, acct string, role auth.Role, sub string) string {
	t.Helper()
	m, err := e.auth.Mint(context.Background(), auth.MintRequest{Account: acct, Role: role, Subject: sub})
	if err != nil {
		t.Fatal(err)
	}
	return m.Token
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *cmdEnv) post(t *testing.T, path, token, body string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(body))
	if body != "" {
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
	a := answer{status: res.StatusCode, header: res.Header}
	_ = json.NewDecoder(res.Body).Decode(&a.body)
	return a
}

func (a answer) is(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %v", a.status, status, a.body)
	}
	if code != "" && (a.body["code"] != code || a.header.Get("Content-Type") != "application/problem+json") {
		t.Fatalf("problem %v (%s), want code %s", a.body, a.header.Get("Content-Type"), code)
	}
}

func TestCommandTwinsRolesAndTenants(t *testing.T) {
	e := newCmdEnv(t)
	agent := e.token(t, "acme", auth.RoleAgent, "bob")
	for _, path := range []string{"/api/v1/calls", "/api/v1/calls/c1/variables", "/api/v1/users/bob/logout"} {
		e.post(t, path, "", `{}`).is(t, 401, "unauthorized")
		e.post(t, path, "garbage", `{}`).is(t, 401, "unauthorized")
		e.post(t, path, agent, `{}`).is(t, 403, "forbidden")
	}
	// An integrator of globex cannot reach acme's agent: the command runs in the token's account.
	e.login(t, "acme", "bob")
	e.post(t, "/api/v1/users/bob/logout", e.token(t, "globex", auth.RoleIntegrator, "crm"), "").is(t, 409, "conflict")
	if v := e.core.Agent("acme", "bob"); v.Status != "online" {
		t.Fatalf("acme's bob was touched by globex: %v", v.Status)
	}
}

func (e *cmdEnv) login(t *testing.T, acct, user string) *core.Session {
	t.Helper()
	s, err := e.core.Login(context.Background(), core.Actor{Account: acct, Role: auth.RoleAgent, UserID: user, Via: core.ViaDesktop}, core.KindDesktop)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMakeCallTwin(t *testing.T) {
	e := newCmdEnv(t)
	tok := e.token(t, "acme", auth.RoleIntegrator, "crm")
	admin := e.token(t, "acme", auth.RoleAdmin, "ops")
	e.post(t, "/api/v1/calls", tok, `{"user_id":"nobody","phone":"+15550100"}`).is(t, 404, "not_found")
	e.post(t, "/api/v1/calls", admin, `{"user_id":"bob","phone":"+15550100"}`).is(t, 409, "conflict") // offline
	e.login(t, "acme", "bob")
	a := e.post(t, "/api/v1/calls", tok, `{"user_id":"bob","phone":"+15550100"}`) // online, but no phone
	a.is(t, 409, "conflict")
	if !strings.Contains(a.body["detail"].(string), "phone") {
		t.Fatalf("detail does not say why: %v", a.body)
	}
	a = e.post(t, "/api/v1/calls", tok, `{"user_id":"bad id","phone":"","x":1}`)
	a.is(t, 422, "invalid_message")
	var fields []string
	for _, f := range a.body["errors"].([]any) {
		fields = append(fields, f.(map[string]any)["field"].(string))
	}
	if strings.Join(fields, ",") != "phone,user_id,x" {
		t.Fatalf("errors %v", a.body["errors"])
	}
	e.post(t, "/api/v1/calls", tok, `{"user_id":`).is(t, 400, "invalid_json")
	e.post(t, "/api/v1/calls", tok, `{"user_id":"bob","phone":"1","variables":{"k":"`+strings.Repeat("v", 70<<10)+`"}}`).is(t, 413, "payload_too_large")
}

func TestSetVariablesTwin(t *testing.T) {
	e := newCmdEnv(t)
	tok := e.token(t, "acme", auth.RoleIntegrator, "crm")
	e.post(t, "/api/v1/calls/c404/variables", tok, `{"variables":{"a":"b"}}`).is(t, 404, "not_found")
	e.post(t, "/api/v1/calls/c1/variables", tok, `{}`).is(t, 422, "invalid_message")
	e.post(t, "/api/v1/calls/c1/variables", tok, `{"variables":{"a":1}}`).is(t, 422, "invalid_message")
	e.post(t, "/api/v1/calls/bad%20id/variables", tok, `{"variables":{}}`).is(t, 422, "invalid_message")
}

func TestLogoutTwin(t *testing.T) {
	e := newCmdEnv(t)
	tok := e.token(t, "acme", auth.RoleIntegrator, "crm")
	e.post(t, "/api/v1/users/nobody/logout", tok, "").is(t, 404, "not_found")
	e.post(t, "/api/v1/users/bob/logout", tok, "").is(t, 409, "conflict")
	e.post(t, "/api/v1/users/bad%20id/logout", tok, "").is(t, 422, "invalid_message")
	s := e.login(t, "acme", "bob")
	a := e.post(t, "/api/v1/users/bob/logout", tok, "")
	a.is(t, 200, "")
	if a.body["user_id"] != "bob" || len(a.body) != 1 {
		t.Fatalf("logout answered %v", a.body)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the agent's session did not end")
	}
	evs, err := e.hub.Events(context.Background(), "acme", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var data map[string]any
	_ = json.Unmarshal(last.Data, &data)
	if last.Name != event.StatusChanged || data["user_id"] != "bob" || data["status"] != "offline" || data["previous"] != "online" {
		t.Fatalf("last event %s", last.Wire())
	}
}
