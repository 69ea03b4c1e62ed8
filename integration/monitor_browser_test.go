package integration

import (
	"context"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// TestBrowserSupervisorPage: the supervisor page (real Chromium) lists the live agents and the
// call, its phone connects, and its Whisper, Barge and Stop buttons monitor the call: the server
// reports each mode and the page's phone receives the call's audio while monitoring.
func TestBrowserSupervisorPage(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	if _, err := s.Store.PutUser(context.Background(), store.User{Account: "demo", ID: "sup1", Name: "Sue"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	sup := b.newTab("supervisor", s.URL+"/supervisor#token="+s.token(t, auth.RoleSupervisor, "sup1"))
	sup.waitFor("signed in", `document.getElementById('link').textContent === 'signed in as sup1'`, browserStep)
	sup.waitFor("supervisor phone", `CTISupervisor.peerConnection() && CTISupervisor.peerConnection().connectionState === 'connected'`, browserStep)

	phone := s.agentTab(b, "softphone", "/softphone", "agent1")
	phone.waitPhone()
	phone.click("#btn-ready")
	sup.waitFor("agent1 listed ready", `(document.querySelector('#agents tr[data-user="agent1"]') || {}).textContent.includes('ready')`, browserStep)
	cust := s.startWebCall(b, "Ada", "+15550100")
	cust.click(`.ctiw [data-digit="2"]`)
	phone.waitFor("ringing", `!document.getElementById('incoming').hidden`, browserStep)
	phone.click("#btn-answer")
	row := `document.querySelector('#calls tr[data-call]')`
	sup.waitFor("the call listed connected", row+` && `+row+`.textContent.includes('connected') && `+row+`.textContent.includes('agent1')`, browserStep)
	var callID string
	sup.eval(row+`.dataset.call`, &callID)

	if code := s.apiJSON(t, "PUT", "/settings", s.token(t, auth.RoleAdmin, "boss"), `{"notify_monitored":true}`, nil); code != 200 {
		t.Fatalf("PUT settings: %d", code)
	}
	const pcJS = `CTISupervisor.peerConnection()`
	for _, mode := range []string{"whisper", "barge"} {
		sup.click(`#calls tr[data-call] button[data-mode="` + mode + `"]`)
		sup.waitFor(mode+" shown", `(CTISupervisor.watching() || {}).mode === '`+mode+`' && document.getElementById('monitoring').textContent.includes('`+mode+`')`, browserStep)
		var events struct {
			Events []struct {
				Event string
				Data  map[string]any
			}
		}
		s.apiJSON(t, "GET", "/events?limit=1000", s.token(t, auth.RoleSupervisor, "sup1"), "", &events)
		last := ""
		for _, e := range events.Events {
			if e.Event == "monitor_started" && e.Data["call_id"] == callID {
				last, _ = e.Data["mode"].(string)
			}
		}
		if last != mode {
			t.Fatalf("the server's last monitor_started mode is %q, want %q", last, mode)
		}
		sup.audioFlows("the call's audio at the supervisor ("+mode+")", pcJS)
		phone.waitFor("the agent is told ("+mode+")", `!document.getElementById('monitored').hidden && document.getElementById('monitored').textContent === 'supervisor sup1 (`+mode+`)'`, browserStep)
	}
	sup.click(`#calls tr[data-call] button[data-mode="stop"]`)
	sup.waitFor("stopped", `CTISupervisor.watching() === null && document.getElementById('monitoring').textContent === 'nothing'`, browserStep)
	phone.waitFor("the agent's badge goes", `document.getElementById('monitored').hidden`, browserStep)
	sup.noCSPViolations()
	cust.click(".ctiw-hangup")
	sup.waitFor("the call is gone", `document.querySelectorAll('#calls tr').length === 0`, browserStep)
}
