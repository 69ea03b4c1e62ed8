package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserWrapUp: wrap-up on the softphone with dispositions required. During the call the
// agent picks where to go after it; after the call the wrap-up panel offers the account's codes,
// after-call work lasts until one is saved (Ready is refused meanwhile), and saving it puts the
// disposition on the call record and the agent in the status it picked.
func TestBrowserWrapUp(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"disposition_required":true,"wrap_up_seconds":0,`+
		`"disposition_codes":[{"code":"sale","label":"Sale made"},{"code":"nosale","label":"No sale"}],"not_ready_reasons":["lunch","coaching"]}`, nil); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	b := newBrowser(t)
	p1 := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	for _, p := range []*tab{p1, p2} {
		p.waitPhone()
		p.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	}
	p2.waitFor("codes loaded", `document.getElementById('wrapup-code').options.length === 3`, browserStep)
	p1.setValue("#number", "1002")
	p1.click("#btn-dial")
	p2.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	p2.click("#btn-answer")
	p2.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	var callID string
	p2.eval(`CTI.getCalls()[0].callId`, &callID)

	p2.eval(`(() => { const s = document.getElementById('next-status'); s.value = 'dnd:lunch'; s.dispatchEvent(new Event('change')); return 0; })()`, nil)
	p2.waitFor("next status noted", `document.getElementById('next-status-note').textContent.includes('lunch')`, browserStep)
	p2.click("#btn-hangup")
	p2.waitFor("wrap-up panel", `!document.getElementById('wrapup').hidden && !document.getElementById('wrapup-required').hidden`, browserStep)
	p2.waitFor("after-call work", `CTI.getState().status === 'after_call_work'`, browserStep)
	var refused string
	p2.eval(`CTI.agentReady().then(() => 'accepted', e => e.errCode)`, &refused)
	if refused == "accepted" || refused == "" {
		t.Fatalf("ready before the disposition: %q", refused)
	}

	p2.eval(`(() => { document.getElementById('wrapup-code').value = 'sale'; return 0; })()`, nil)
	p2.setValue("#wrapup-notes", "two units <b>rush</b>")
	p2.click("#wrapup-save")
	p2.waitFor("saved", `document.getElementById('wrapup-saved').textContent === 'saved: Sale made'`, browserStep)
	p2.waitFor("back to the chosen status", `CTI.getState().status === 'dnd' && CTI.getState().reason === 'lunch'`, browserStep)
	var rec struct {
		Disposition struct{ Code, Label, Notes, UserID string } `json:"disposition"`
	}
	if code := s.apiJSON(t, "GET", "/calls/"+callID, admin, "", &rec); code != 200 || rec.Disposition.Code != "sale" ||
		rec.Disposition.Notes != "two units <b>rush</b>" {
		t.Fatalf("record %d %+v", code, rec)
	}
	for _, tb := range []*tab{p1, p2} {
		tb.noCSPViolations()
	}
}
