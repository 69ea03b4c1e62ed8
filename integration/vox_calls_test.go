package integration

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// until reads frames until one satisfies match, validating every account event on the way
// (events without a vox/event schema entry are listed in unknown).
func (c *voxClient) until(s *voxServer, what string, unknown map[string]bool, match func(frame) bool) frame {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		f := c.next(time.Until(deadline))
		if f.Seq != 0 {
			if s.reg.Validate("vox/event", f.raw) != nil {
				unknown[f.Event] = true
			} else if err := s.reg.Validate("events/"+f.Event, f.Data); err != nil {
				c.t.Errorf("%s data %s: %v", f.Event, f.Data, err) // keep going: report every violation
			}
		}
		if match(f) {
			return f
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s", what)
		}
	}
}

// TestVoxCallsWithPhones: calls placed through the CTI WebSocket by agents whose phones are real
// pion peers (webrtc/rtctest over the /rtc signalling): make_call to an outside number fails with
// call_failed 404 (no outbound route); make_call to another agent rings it (incoming_call),
// set_variables updates it (data_updated), the callee answers (call_connected), and logout of the
// caller ends it (call_disconnected, status_changed offline).
func TestVoxCallsWithPhones(t *testing.T) {
	rs := newRTCServer(t)
	s := &voxServer{Server: rs.Server, URL: rs.URL, client: &http.Client{Transport: &http.Transport{}}, reg: rs.Schemas}
	t.Cleanup(s.client.CloseIdleConnections)
	tok, jti := s.mint(t, "demo", auth.RoleIntegrator, "crm")
	c := s.connect(t, "demo", jti, tok, -1)
	c.sync()
	unknown := map[string]bool{}

	phones := map[string]*sig{}
	for _, user := range []string{"agent1", "agent2"} {
		p, _, err := rs.dial(t, rs.token(t, auth.RoleAgent, user), "")
		if err != nil {
			t.Fatal(err)
		}
		p.expect("welcome", nil)
		p.expect("snapshot", nil)
		p.negotiate(map[string]any{"mic": true})
		p.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
		phones[user] = p
		c.until(s, user+" online", unknown, func(f frame) bool {
			return f.Event == "status_changed" && f.field("user_id") == user && f.field("status") == "online"
		})
	}

	// An outside number: no outbound route.
	var seen []frame
	record := func(match func(frame) bool) func(frame) bool {
		return func(f frame) bool {
			if f.Seq != 0 {
				seen = append(seen, f)
			}
			return match(f)
		}
	}
	find := func(name, callID string) frame {
		t.Helper()
		is := func(f frame) bool { return f.Event == name && f.field("call_id") == callID }
		for _, f := range seen {
			if is(f) {
				return f
			}
		}
		return c.until(s, name, unknown, record(is))
	}
	c.command("make_call", "m1", map[string]any{"user_id": "agent1", "phone": "+15550100", "variables": map[string]string{"crm_id": "7"}})
	res := c.until(s, "make_call result", unknown, record(func(f frame) bool { return f.RequestID != nil && *f.RequestID == "m1" }))
	if res.Event != "command_result" {
		t.Fatalf("make_call: %s", res)
	}
	if err := s.reg.Validate("vox/command_result", res.raw); err != nil {
		t.Fatal(err)
	}
	callID := res.field("call_id").(string)
	out := find("outgoing_call", callID)
	if out.field("phone") != "+15550100" || out.field("user_id") != "agent1" || out.field("variables").(map[string]any)["crm_id"] != "7" {
		t.Fatalf("outgoing_call %s", out)
	}
	failed := find("call_failed", callID)
	if failed.field("code") != 404.0 || failed.field("reason") != "no outbound route" || failed.field("user_id") != "agent1" {
		t.Fatalf("call_failed %s", failed)
	}
	if out.Seq > res.Seq && res.Seq != 0 || failed.Seq < out.Seq {
		t.Fatalf("order: outgoing_call %d, call_failed %d", out.Seq, failed.Seq)
	}

	// Agent to agent: rings agent2; set_variables; answer; logout ends it.
	reply := func(rid string) frame {
		t.Helper()
		f := c.until(s, "reply "+rid, unknown, record(func(f frame) bool { return f.RequestID != nil && *f.RequestID == rid }))
		if f.Event != "command_result" {
			t.Fatalf("%s: %s", rid, f)
		}
		return f
	}
	c.command("make_call", "m2", map[string]any{"user_id": "agent1", "phone": "agent2"})
	callID = reply("m2").field("call_id").(string)
	if in := find("incoming_call", callID); in.field("user_id") != "agent2" {
		t.Fatalf("incoming_call %s", in)
	}
	c.command("set_variables", "v1", map[string]any{"call_id": callID, "variables": map[string]string{"ticket": "T-1"}})
	res = reply("v1")
	if res.field("call_id") != callID || res.field("variables").(map[string]any)["ticket"] != "T-1" {
		t.Fatalf("set_variables: %s", res)
	}
	if upd := find("data_updated", callID); upd.field("variables").(map[string]any)["ticket"] != "T-1" {
		t.Fatalf("data_updated %s", upd)
	}
	phones["agent2"].result("a1", "answer", map[string]any{"call_id": callID})
	find("call_connected", callID)
	c.command("logout", "l1", map[string]any{"user_id": "agent1"})
	if res := reply("l1"); res.field("user_id") != "agent1" {
		t.Fatalf("logout: %s", res)
	}
	if d := find("call_disconnected", callID); d.field("duration_ms") == nil || d.field("ended_by") == nil {
		t.Fatalf("call_disconnected %s", d)
	}
	offline := func(f frame) bool {
		return f.Event == "status_changed" && f.field("user_id") == "agent1" && f.field("status") == "offline"
	}
	if !slices.ContainsFunc(seen, offline) {
		c.until(s, "agent1 offline", unknown, offline)
	}
	if len(unknown) > 0 {
		t.Logf("events sent that schemas/vox/event.json does not list: %v", unknown)
	}
}
