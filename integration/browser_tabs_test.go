package integration

import (
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserTwoTabsMediaHandover (seed 000): two demo CRM tabs of one agent in one browser. Both
// are phones (own peer connection and microphone) and see each other over BroadcastChannel; one
// owns the media. A call alerts in both; answering in the other tab stops the alerting in both
// and the audio plays in the media tab. Closing the media tab mid-call moves the media to the
// other tab without dropping the call.
func TestBrowserTwoTabsMediaHandover(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")

	a := s.agentTab(b, "tab A", "/demo/crm", "agent1")
	a.waitPhone()
	a.waitFor("A owns the media", `CTI.getState().mediaOwner`, browserStep)
	bt := s.agentTab(b, "tab B", "/demo/crm", "agent1")
	bt.waitPhone()
	bt.waitFor("B sees A", `CTI.getTabs().length === 2 && CTI.getTabs().some(x => !x.self && x.owner)`, browserStep)
	a.waitFor("A sees B", `CTI.getTabs().length === 2`, browserStep)
	var bOwner bool
	bt.eval(`CTI.getState().mediaOwner`, &bOwner)
	if bOwner {
		t.Fatal("both tabs own the media")
	}
	bt.click("#btn-ready")
	a.waitFor("ready in A", `CTI.getState().status === 'ready'`, browserStep)

	cust := s.startWebCall(b, "Grace", "+15550101")
	cust.click(`.ctiw [data-digit="1"]`)
	for _, tb := range []*tab{a, bt} {
		tb.waitFor("alerting", `document.getElementById('pop').classList.contains('alerting') && CTI.getCalls().some(c => c.state === 'alerting')`, browserStep)
	}
	callID := bt.ctiCall("alerting")
	bt.click("#btn-answer")
	for _, tb := range []*tab{a, bt} {
		tb.waitFor("alerting stopped", `!document.getElementById('pop').classList.contains('alerting') && CTI.getCalls().every(c => c.state === 'connected')`, browserStep)
	}
	cust.waitFor("connected", `document.querySelector('.ctiw').dataset.state === 'connected'`, browserStep)
	a.audioFlows("media tab A hears the customer", ctiPC)
	cust.audioFlows("customer hears A", customerPC)

	a.close() // the media tab goes away mid-call
	bt.waitFor("B owns the media", `CTI.getState().mediaOwner && CTI.getTabs().length === 1`, browserStep)
	bt.audioFlows("tab B hears the customer after the handover", ctiPC)
	cust.audioFlows("customer still hears the agent", customerPC)
	var state string
	cust.eval(`document.querySelector('.ctiw').dataset.state`, &state)
	if state != "connected" {
		t.Fatalf("customer call state after the handover: %s", state)
	}
	if v, err := s.Core.Call("demo", callID); err != nil || v.State != "connected" {
		t.Fatalf("call after the handover: %+v %v", v, err)
	}

	bt.click("#btn-hangup")
	cust.waitFor("ended", `document.querySelector('.ctiw').dataset.state === 'ended'`, browserStep)
	var rec struct {
		EndedBy   string  `json:"ended_by"`
		EndReason string  `json:"end_reason"`
		EndedAt   *string `json:"ended_at"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.apiJSON(t, "GET", "/calls/"+callID, admin, "", &rec); rec.EndedAt == nil && time.Now().Before(deadline); s.apiJSON(t, "GET", "/calls/"+callID, admin, "", &rec) {
		time.Sleep(100 * time.Millisecond)
	}
	if rec.EndedBy != "agent" {
		t.Errorf("call ended by %q (%s), want agent", rec.EndedBy, rec.EndReason)
	}
	bt.noCSPViolations()
}
