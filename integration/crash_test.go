package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestKill9MidCallRecovery: the real binary is killed (SIGKILL) while a web call is connected to
// an agent. The restarted server closes what the crash left open before it serves: the call's
// record is complete (end_reason system_restart, ended_by system), the log has its
// call_disconnected (ended_by system) and the agent's status_changed to offline (previous: the
// status the log last had), and the log and the records agree.
func TestKill9MidCallRecovery(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir)
	admin := mintCLI(t, dir, "--role", "admin")
	callID := connectWebCall(t, p.base, admin, mintCLI(t, dir, "--role", "agent", "--user", "agent1"))
	before := allEvents(t, p.base, admin)

	p.kill() // mid-call: nothing got a chance to end it

	p2 := startServer(t, dir)
	after := allEvents(t, p2.base, admin)
	if len(after) < len(before) {
		t.Fatalf("%d events before the crash, %d after", len(before), len(after))
	}
	checkRecoveryEvents(t, after[len(before):], callID, lastStatus(before, "agent1"))
	var rec struct {
		State     string  `json:"state"`
		EndReason string  `json:"end_reason"`
		EndedBy   string  `json:"ended_by"`
		EndedAt   *string `json:"ended_at"`
	}
	code, body := get(t, p2.base+"/api/v1/calls/"+callID, admin)
	_ = json.Unmarshal(body, &rec)
	if code != 200 || rec.EndReason != "system_restart" || rec.EndedBy != "system" || rec.EndedAt == nil || rec.State != "ended" {
		t.Fatalf("call record after the restart: %d %s", code, body)
	}
	// The log and the records agree: every call the log disconnected has an ended record.
	for _, ev := range after {
		var d struct {
			CallID string `json:"call_id"`
		}
		if ev.Event != "call_disconnected" || json.Unmarshal(ev.Data, &d) != nil {
			continue
		}
		if code, body := get(t, p2.base+"/api/v1/calls/"+d.CallID, admin); code != 200 || !strings.Contains(string(body), `"ended_at":"`) {
			t.Fatalf("call_disconnected %s without an ended record: %d %s", d.CallID, code, body)
		}
	}

	// A clean stop leaves nothing open: the next start adds nothing.
	p2.stop(t)
	p3 := startServer(t, dir)
	if again := allEvents(t, p3.base, admin); len(again) != len(after) {
		t.Fatalf("a start after a clean stop added %d events", len(again)-len(after))
	}
	p3.stop(t)
}

// mintCLI mints a demo-account token with the CLI.
func mintCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, append(append([]string{"token", "--account", "demo"}, args...), "--data-dir", dir)...)
	if code != 0 {
		t.Fatalf("token %v: %s", args, errOut)
	}
	return strings.TrimSpace(out)
}

// connectWebCall logs agent1 in on /rtc with media, makes it ready, places a customer web call
// through the IVR to it, answers, and returns the call id once the customer is connected.
func connectWebCall(t *testing.T, base, admin, agentTok string) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/api/v1/settings", strings.NewReader(`{"allowed_origins":["https://shop.example"]}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT settings: %v %v", res, err)
	}
	s := &rtcServer{URL: base}
	phone, _, err := s.dial(t, agentTok, "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)
	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada", "phone": "+15550100"})
	callID := cust.expect("call", nil)["call_id"].(string)
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["user_id"] == "agent1"
	})
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "connected" })
	return callID
}

// checkRecoveryEvents: what the restart added is exactly the call's call_disconnected (ended_by
// system) and agent1's status_changed to offline from its last logged status.
func checkRecoveryEvents(t *testing.T, added []wireEvent, callID, lastLogged string) {
	t.Helper()
	var disconnected, offline int
	for _, ev := range added {
		var d struct {
			CallID   string `json:"call_id"`
			UserID   string `json:"user_id"`
			EndedBy  string `json:"ended_by"`
			Status   string `json:"status"`
			Previous string `json:"previous"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		switch {
		case ev.Event == "call_disconnected" && d.CallID == callID && d.EndedBy == "system":
			disconnected++
		case ev.Event == "status_changed" && d.UserID == "agent1" && d.Status == "offline":
			if d.Previous != lastLogged || d.Previous == "offline" {
				t.Fatalf("recovery status_changed previous %q, want the last logged %q", d.Previous, lastLogged)
			}
			offline++
		default:
			t.Errorf("unexpected event after the restart: %s %s", ev.Event, ev.Data)
		}
	}
	if disconnected != 1 || offline != 1 {
		t.Fatalf("after the restart: %d call_disconnected for %s and %d status_changed offline for agent1, want 1 and 1",
			disconnected, callID, offline)
	}
}

// allEvents reads the whole retained log of the token's account.
func allEvents(t *testing.T, base, token string) []wireEvent {
	t.Helper()
	var all []wireEvent
	deadline := time.Now().Add(30 * time.Second)
	for since := int64(0); time.Now().Before(deadline); {
		evs, err := readEvents(t, base, token, since)
		if err != nil && strings.Contains(err.Error(), "events: 429") {
			time.Sleep(100 * time.Millisecond) // over the account's /events budget: as told, retry
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
		since = evs[len(evs)-1].Seq
	}
	t.Fatal("the log did not end within 30 s")
	return nil
}

// lastStatus is the status of user's last status_changed in evs.
func lastStatus(evs []wireEvent, user string) string {
	last := ""
	for _, ev := range evs {
		var d struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		}
		if ev.Event == "status_changed" && json.Unmarshal(ev.Data, &d) == nil && d.UserID == user {
			last = d.Status
		}
	}
	return last
}
