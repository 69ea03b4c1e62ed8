package api

import (
	"context"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// TestDirectoryAndQueues: an agent reads the directory (every agent with live presence, the
// queues, the admin's quick connects) and the queues' numbers of its own account only; a
// customer token may not.
func TestDirectoryAndQueues(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "boss")
	e.send(t, "PUT", "/api/v1/settings", admin, `{"quick_connects":[{"name":"Front desk","destination":"+15550100"}]}`).is(t, 200, "")
	e.login(t, "acme", "bob")
	agent := e.token(t, "acme", auth.RoleAgent, "bob")
	d := e.send(t, "GET", "/api/v1/directory", agent, "")
	d.is(t, 200, "")
	agents, _ := d.body["agents"].([]any)
	if len(agents) != 1 || agents[0].(map[string]any)["user_id"] != "bob" || agents[0].(map[string]any)["status"] != "online" {
		t.Fatalf("agents: %v", d.body["agents"])
	}
	qc, _ := d.body["quick_connects"].([]any)
	if len(qc) != 1 || qc[0].(map[string]any)["destination"] != "+15550100" {
		t.Fatalf("quick connects: %v", d.body["quick_connects"])
	}
	q := e.send(t, "GET", "/api/v1/queues", agent, "")
	q.is(t, 200, "")
	queues, _ := q.body["queues"].([]any)
	if len(queues) != 2 || queues[0].(map[string]any)["name"] != "sales" || queues[1].(map[string]any)["agents_logged_in"] != 1.0 {
		t.Fatalf("queues: %v", q.body["queues"])
	}
	// globex's directory shows globex's bob offline: acme's login is not seen across accounts.
	g := e.send(t, "GET", "/api/v1/directory", e.token(t, "globex", auth.RoleAgent, "bob"), "")
	if a, _ := g.body["agents"].([]any); len(a) != 1 || a[0].(map[string]any)["status"] != "offline" {
		t.Fatalf("globex directory: %v", g.body)
	}
	if s, _ := g.body["quick_connects"].([]any); len(s) != 0 {
		t.Fatalf("globex sees acme's quick connects: %v", s)
	}
	e.send(t, "GET", "/api/v1/directory", e.token(t, "acme", auth.RoleCustomer, "c1"), "").is(t, 403, "forbidden")
}

// TestAgentListsOwnCalls: an agent token reads its own call records only.
func TestAgentListsOwnCalls(t *testing.T) {
	e := newCmdEnv(t)
	agent := e.token(t, "acme", auth.RoleAgent, "bob")
	now := time.Now()
	for _, c := range []store.Call{{Account: "acme", ID: "cb", UserID: "bob", CreatedAt: now}, {Account: "acme", ID: "ca", UserID: "alice", CreatedAt: now}} {
		if err := e.store.SaveCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	l := e.send(t, "GET", "/api/v1/calls", agent, "")
	l.is(t, 200, "")
	if calls, _ := l.body["calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["call_id"] != "cb" {
		t.Fatalf("bob's list: %v", l.body["calls"])
	}
	e.send(t, "GET", "/api/v1/calls?user_id=bob&outcome=answered", agent, "").is(t, 200, "")
	e.send(t, "GET", "/api/v1/calls?user_id=alice", agent, "").is(t, 403, "forbidden")
	e.send(t, "GET", "/api/v1/calls/c1", agent, "").is(t, 403, "forbidden")
}

// TestDispositionTwin: an agent gives its ended call a disposition; the record shows it; another
// agent's call, an unknown code, an unknown call and an empty body are refused.
func TestDispositionTwin(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "boss")
	e.send(t, "PUT", "/api/v1/settings", admin, `{"disposition_codes":[{"code":"sale","label":"Sale made"}]}`).is(t, 200, "")
	now := time.Now()
	for _, c := range []store.Call{{Account: "acme", ID: "cb", UserID: "bob", CreatedAt: now, State: "ended", EndedAt: &now},
		{Account: "acme", ID: "ca", UserID: "alice", CreatedAt: now, State: "ended", EndedAt: &now}} {
		if err := e.store.SaveCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	bob := e.token(t, "acme", auth.RoleAgent, "bob")
	ok := e.send(t, "POST", "/api/v1/calls/cb/disposition", bob, `{"code":"sale","notes":"two units"}`)
	ok.is(t, 200, "")
	if d, _ := ok.body["disposition"].(map[string]any); d["label"] != "Sale made" || d["user_id"] != "bob" {
		t.Fatalf("answer %v", ok.body)
	}
	rec := e.send(t, "GET", "/api/v1/calls/cb", admin, "")
	if d, _ := rec.body["disposition"].(map[string]any); d["code"] != "sale" || d["notes"] != "two units" {
		t.Fatalf("record %v", rec.body)
	}
	e.send(t, "POST", "/api/v1/calls/ca/disposition", bob, `{"code":"sale"}`).is(t, 403, "forbidden")
	e.send(t, "POST", "/api/v1/calls/cb/disposition", bob, `{"code":"refund"}`).is(t, 422, "invalid_message")
	e.send(t, "POST", "/api/v1/calls/nope/disposition", bob, `{"code":"sale"}`).is(t, 404, "not_found")
	e.send(t, "POST", "/api/v1/calls/cb/disposition", bob, `{}`).is(t, 422, "invalid_message")
	e.send(t, "POST", "/api/v1/calls/cb/disposition", e.token(t, "globex", auth.RoleAgent, "bob"), `{"notes":"x"}`).is(t, 404, "not_found")
	if rec := e.send(t, "GET", "/api/v1/calls/cb", admin, ""); rec.body["disposition"].(map[string]any)["code"] != "sale" {
		t.Fatalf("a refused request changed the record: %v", rec.body["disposition"])
	}
}
