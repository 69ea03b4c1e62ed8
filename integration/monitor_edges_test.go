package integration

// Supervision through the real server's edges: a supervisor token's /rtc phone, the REST monitor
// routes, who is told, and each bad request's specific error (docs/supervision.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// rest sends a request with token and returns the status and decoded body.
func (s *rtcServer) rest(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, _ := http.NewRequest(method, s.URL+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// connectedCall starts a web call answered by agent1's phone and returns both connections.
func connectedCall(t *testing.T, s *rtcServer) (phone, cust *sig, callID string) {
	t.Helper()
	return connectedCallAs(t, s, s.token(t, auth.RoleAgent, "agent1"))
}

// connectedCallAs is connectedCall with agent1's token given (a server in another process).
func connectedCallAs(t *testing.T, s *rtcServer, agentTok string) (phone, cust *sig, callID string) {
	t.Helper()
	phone, _, err := s.dial(t, agentTok, "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("snapshot", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)
	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err = s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.negotiate(map[string]any{"display_name": "Ada"})
	callID = cust.expect("call", nil)["call_id"].(string)
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	phone.expect("event", eventNamed("incoming_call"))
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "connected" })
	return phone, cust, callID
}

func TestMonitorEdges(t *testing.T) {
	s := newRTCServer(t)
	ctx := context.Background()
	if _, err := s.Store.PutUser(ctx, store.User{Account: "demo", ID: "sup1", Name: "Sue"}); err != nil {
		t.Fatal(err)
	}
	supTok := s.token(t, auth.RoleSupervisor, "sup1")
	sup, _, err := s.dial(t, supTok, "")
	if err != nil {
		t.Fatal(err)
	}
	if w := sup.expect("welcome", nil); w["role"] != "supervisor" || w["user_id"] != "sup1" || w["client"] != "phone" {
		t.Fatalf("supervisor welcome: %v", w)
	}
	sup.expect("snapshot", func(m map[string]any) bool { return m["supervisor_id"] == "sup1" })
	sup.negotiate(map[string]any{"mic": true})
	sup.send(map[string]any{"type": "mic", "granted": true})
	phone, cust, callID := connectedCall(t, s)
	sup.expect("event", eventNamed("call_connected"))

	// the REST read routes and the monitor route are open to supervisors; commands are not
	if code, _ := s.rest(t, supTok, "GET", "/calls", ""); code != 200 {
		t.Fatalf("GET /calls as a supervisor: %d", code)
	}
	if code, _ := s.rest(t, supTok, "POST", "/calls", `{"user_id":"agent1","phone":"agent2"}`); code != 403 {
		t.Fatalf("POST /calls as a supervisor: %d", code)
	}
	agentTok := s.token(t, auth.RoleAgent, "agent2")
	adminTok := s.token(t, auth.RoleAdmin, "boss")
	for _, c := range []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"an agent token", agentTok, "POST", "/calls/" + callID + "/monitor", `{"mode":"listen"}`, 403, "forbidden"},
		{"an admin token", adminTok, "POST", "/calls/" + callID + "/monitor", `{"mode":"listen"}`, 403, "forbidden"},
		{"a bad mode", supTok, "POST", "/calls/" + callID + "/monitor", `{"mode":"spy"}`, 422, "invalid_message"},
		{"an unknown call", supTok, "POST", "/calls/cnothere/monitor", `{"mode":"listen"}`, 404, "not_found"},
		{"a malformed call id", supTok, "POST", "/calls/a%20b/monitor", `{"mode":"listen"}`, 422, "invalid_message"},
		{"stopping no monitor", supTok, "DELETE", "/calls/" + callID + "/monitor", "", 404, "not_found"},
	} {
		if code, body := s.rest(t, c.token, c.method, c.path, c.body); code != c.status || body["code"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, body, c.status, c.code)
		}
	}
	// admins mint supervisor tokens for users of the account only
	if code, body := s.rest(t, adminTok, "POST", "/tokens", `{"role":"supervisor","sub":"sup1"}`); code != 201 || body["token"] == nil {
		t.Fatalf("minting a supervisor token: %d %v", code, body)
	}
	if code, body := s.rest(t, adminTok, "POST", "/tokens", `{"role":"supervisor","sub":"ghost"}`); code != 422 {
		t.Fatalf("minting a supervisor token for no user: %d %v", code, body)
	}
	// a supervisor of another account cannot see or monitor this account's call
	if _, err := s.Accounts.Create(ctx, "other", "full"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.PutUser(ctx, store.User{Account: "other", ID: "sup1", Name: "Other Sue"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Auth.Mint(ctx, auth.MintRequest{Account: "other", Role: auth.RoleSupervisor, Subject: "sup1"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.rest(t, m.Token, "POST", "/calls/"+callID+"/monitor", `{"mode":"listen"}`); code != 404 || body["code"] != "not_found" {
		t.Fatalf("monitoring another account's call: %d %v", code, body)
	}

	code, body := s.rest(t, supTok, "POST", "/calls/"+callID+"/monitor", `{"mode":"whisper"}`)
	if code != 200 || body["call_id"] != callID || body["mode"] != "whisper" {
		t.Fatalf("POST monitor: %d %v", code, body)
	}
	started := sup.expect("event", eventNamed("monitor_started"))["event"].(map[string]any)
	if d := started["data"].(map[string]any); d["supervisor_id"] != "sup1" || d["mode"] != "whisper" {
		t.Fatalf("monitor_started: %v", d)
	}
	// the agent is not told (notify_monitored is off): the next event it sees is the later one
	if code, _ := s.rest(t, supTok, "POST", "/calls/"+callID+"/monitor", `{"mode":"barge"}`); code != 200 {
		t.Fatalf("mode change: %d", code)
	}
	sup.expect("event", eventNamed("monitor_started"))
	if code, body := s.rest(t, adminTok, "PUT", "/settings", `{"notify_monitored":true}`); code != 200 { // settings_changed on the log
		t.Fatalf("PUT settings: %d %v", code, body)
	}
	if code, _ := s.rest(t, supTok, "POST", "/calls/"+callID+"/monitor", `{"mode":"listen"}`); code != 200 {
		t.Fatal("mode change to listen")
	}
	told := phone.expect("event", eventNamed("monitor_started"))["event"].(map[string]any)
	if d := told["data"].(map[string]any); d["mode"] != "listen" || d["previous_mode"] != "barge" {
		t.Fatalf("the agent was told of an earlier monitor event (notify_monitored off then): %v", d)
	}
	if code, _ := s.rest(t, supTok, "DELETE", "/calls/"+callID+"/monitor", ""); code != 204 {
		t.Fatalf("DELETE monitor: %d", code)
	}
	phone.expect("event", eventNamed("monitor_ended"))
	// the same over the supervisor's own /rtc connection
	if r := sup.result("m1", "monitor", map[string]any{"call_id": callID, "arg": "listen"}); r["data"].(map[string]any)["mode"] != "listen" {
		t.Fatalf("monitor over /rtc: %v", r)
	}
	sup.result("m2", "unmonitor", map[string]any{"call_id": callID})
	sup.send(map[string]any{"type": "command", "request_id": "m3", "command": "unmonitor", "call_id": callID})
	if e := sup.errorFrame(); e["code"] != "not_found" {
		t.Fatalf("unmonitor twice over /rtc: %v", e)
	}
	// integrators read them on the account's log (the CTI WebSocket forwards the same log)
	var log struct {
		Events []struct {
			Event string
			Data  map[string]any
		}
	}
	s.apiJSON(t, "GET", "/events?limit=1000", s.token(t, auth.RoleIntegrator, "crm"), "", &log)
	var seen []string
	for _, e := range log.Events {
		if e.Event == "monitor_started" || e.Event == "monitor_ended" {
			seen = append(seen, fmt.Sprintf("%s:%v/%v", e.Event, e.Data["mode"], e.Data["reason"]))
		}
	}
	if want := "monitor_started:whisper/<nil> monitor_started:barge/<nil> monitor_started:listen/<nil> monitor_ended:<nil>/stopped " +
		"monitor_started:listen/<nil> monitor_ended:<nil>/stopped"; strings.Join(seen, " ") != want {
		t.Fatalf("monitor events on the log: %v, want %s", seen, want)
	}
	// the customer's socket carries only its call's state, never a monitor event
	cust.send(map[string]any{"type": "hangup"})
	for {
		f := cust.expect("state", nil)
		if f["state"] == "ended" {
			break
		}
	}
	// a supervisor's /rtc takes only the supervisor commands
	sup.send(map[string]any{"type": "command", "request_id": "x1", "command": "ready"})
	if e := sup.errorFrame(); e["code"] != "forbidden" {
		t.Fatalf("agent command on a supervisor connection: %v", e)
	}
}
