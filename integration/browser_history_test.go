package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserHistoryDetail: a recorded call with a disposition, looked up in the admin's call
// history: the detail shows the disposition and notes, lists the recording, and plays it in the
// page (fetched with the admin token, decoded by the browser: its duration is known); the CSV
// carries the disposition.
func TestBrowserHistoryDetail(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"recording":"all","disposition_codes":[{"code":"sale","label":"Sale made"}]}`, nil); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	b := newBrowser(t)
	phone := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	phone.waitPhone()
	phone.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	phone.click("#btn-ready")
	cust := s.startWebCall(b, "Noor", "+15550166")
	cust.click(`.ctiw [data-digit="2"]`)
	phone.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	phone.click("#btn-answer")
	phone.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	phone.audioFlows("agent hears the customer", ctiPC)
	var callID string
	phone.eval(`CTI.getCalls()[0].callId`, &callID)
	phone.click("#btn-hangup")
	phone.waitFor("wrap-up", `!document.getElementById('wrapup').hidden`, browserStep)
	phone.eval(`(() => { document.getElementById('wrapup-code').value = 'sale'; return 0; })()`, nil)
	phone.setValue("#wrapup-notes", "renewal, =2 years")
	phone.click("#wrapup-save")
	phone.waitFor("saved", `document.getElementById('wrapup-saved').textContent === 'saved: Sale made'`, browserStep)

	page := b.newTab("admin", s.URL+"/admin#token="+admin)
	page.waitFor("history row", `!!document.querySelector('#history tr[data-call="`+callID+`"]')`, browserStep)
	page.click(`#history tr[data-call="` + callID + `"] button`)
	page.waitFor("detail with disposition", `document.getElementById('h-detail-kv').textContent.includes('Sale made (by agent1)') && document.getElementById('h-detail-kv').textContent.includes('renewal, =2 years')`, browserStep)
	page.waitFor("recording listed", `!document.getElementById('h-recordings').hidden && document.querySelectorAll('#h-recordings li').length === 1`, browserStep)
	page.click("#h-recordings li button")
	page.waitFor("recording decoded", `(a => !a.hidden && a.readyState >= 1 && a.duration > 0)(document.getElementById('h-player'))`, browserStep)
	var row string
	page.eval(`(() => { const c = {call_id: 'x', disposition: {code: 'sale', notes: '=2 years'}}; return CTIAdminHistory.csvRow(c); })()`, &row)
	if !strings.Contains(row, ",sale,'=2 years,") {
		t.Errorf("csv row %s", row)
	}
	for _, tb := range []*tab{page, phone, cust} {
		tb.noCSPViolations()
	}
}
