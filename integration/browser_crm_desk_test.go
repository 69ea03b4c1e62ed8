package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserCRMDeskPanels: the demo CRM carries the same desk panels as the softphone: the
// directory with presence and the wrap-up with the account's codes; in simple mode the directory
// offers no call controls and "After this call" is gone, as the mode allows neither.
func TestBrowserCRMDeskPanels(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"disposition_codes":[{"code":"sale","label":"Sale made"}]}`, nil); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	b := newBrowser(t)
	crm := s.agentTab(b, "crm agent1", "/demo/crm", "agent1")
	crm.waitPhone()
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	p2.waitPhone()
	p2.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	crm.waitFor("agent2 in the directory with a Call button", `!!document.querySelector('#dir-list li[data-id="agent2"] button')`, browserStep)

	p2.setValue("#number", "1001")
	p2.click("#btn-dial")
	crm.waitFor("ringing", `CTI.getCalls().some(c => c.state === 'alerting')`, browserStep)
	crm.click("#btn-answer")
	crm.waitFor("connected", `CTI.getCalls().some(c => c.state === 'connected')`, browserStep)
	var callID string
	crm.eval(`CTI.getCalls()[0].callId`, &callID)
	crm.click("#btn-hangup")
	crm.waitFor("wrap-up panel", `!document.getElementById('wrapup').hidden && document.getElementById('wrapup-code').options.length === 2`, browserStep)
	crm.eval(`(() => { document.getElementById('wrapup-code').value = 'sale'; return 0; })()`, nil)
	crm.click("#wrapup-save")
	crm.waitFor("saved", `document.getElementById('wrapup-saved').textContent === 'saved: Sale made'`, browserStep)
	var rec struct {
		Disposition struct{ Code string } `json:"disposition"`
	}
	if s.apiJSON(t, "GET", "/calls/"+callID, admin, "", &rec); rec.Disposition.Code != "sale" {
		t.Fatalf("record disposition %+v", rec)
	}

	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"mode":"simple"}`, nil); code != 200 {
		t.Fatalf("mode: %d", code)
	}
	crm.waitFor("simple mode", `CTI.getState().mode === 'simple'`, browserStep)
	crm.waitFor("no call controls in the directory", `!!document.querySelector('#dir-list li[data-id="agent2"]') && !document.querySelector('#dir-list button')`, browserStep)
	crm.waitFor("no next status", `document.getElementById('next-status').parentNode.hidden`, browserStep)
	crm.noCSPViolations()
	p2.noCSPViolations()
}
