package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserAdminPage: the admin page signs in with an admin token, shows the agents' live
// status and the active calls (from the event log), sets the account's mode, and mints and
// revokes tokens.
func TestBrowserAdminPage(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	page := b.newTab("admin", s.URL+"/admin#token="+admin)
	row := func(user string) string {
		return `(document.querySelector('#agents tr[data-user="` + user + `"] .status') || {}).textContent`
	}
	page.waitFor("agents listed", row("agent1")+` === 'offline' && `+row("agent2")+` === 'offline'`, browserStep)

	phone := s.agentTab(b, "softphone", "/softphone", "agent1")
	phone.waitPhone()
	page.waitFor("agent1 online", row("agent1")+` === 'online'`, browserStep)
	phone.click("#btn-ready")
	page.waitFor("agent1 ready", row("agent1")+` === 'ready'`, browserStep)

	// An active call appears, and goes when it ends.
	cust := s.startWebCall(b, "Alan", "+15550102")
	page.waitFor("the call is listed", `document.querySelectorAll('#calls tr').length === 1 && document.getElementById('no-calls').hidden`, browserStep)
	cust.click(".ctiw-hangup")
	page.waitFor("the call is gone", `document.querySelectorAll('#calls tr').length === 0 && !document.getElementById('no-calls').hidden`, browserStep)

	// The mode.
	page.eval(`(() => { document.getElementById('mode').value = 'agent-state'; return 0; })()`, nil)
	page.click("#mode-save")
	page.waitFor("mode saved", `document.getElementById('mode-saved').textContent === 'saved: agent-state'`, browserStep)
	var st struct{ Mode string }
	s.apiJSON(t, "GET", "/settings", admin, "", &st)
	if st.Mode != "agent-state" {
		t.Fatalf("mode after saving: %q", st.Mode)
	}

	// Mint an agent token, use it, revoke it.
	page.eval(`(() => { document.getElementById('mint-role').value = 'agent'; return 0; })()`, nil)
	page.setValue("#mint-sub", "agent2")
	page.setValue("#mint-ttl", "1h")
	page.click("#mint-btn")
	page.waitFor("token minted", `document.getElementById('minted-token').value.length > 20`, browserStep)
	var minted struct{ Token, ID, WS string }
	page.eval(`({token: document.getElementById('minted-token').value, id: document.getElementById('minted-id').textContent, ws: document.getElementById('minted-ws').textContent})`, &minted)
	if !strings.Contains(minted.WS, "/demo-") || minted.ID == "" {
		t.Fatalf("minted %+v", minted)
	}
	if code := s.apiJSON(t, "GET", "/settings", minted.Token, "", nil); code != 200 {
		t.Fatalf("the minted token: %d", code)
	}
	// The minted token's own row (tokens minted in the same second as the admin's may list in
	// either order).
	tokRow := `#token-list li[data-token-id="` + minted.ID + `"]`
	page.waitFor("minted token listed", `!!document.querySelector('`+tokRow+`')`, browserStep)
	page.click(tokRow + " button")
	page.waitFor("revoked", `document.querySelector('`+tokRow+` span').textContent.includes('(revoked)')`, browserStep)
	deadline := time.Now().Add(3 * time.Second)
	for s.apiJSON(t, "GET", "/settings", minted.Token, "", nil) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("the revoked token still works")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tb := range []*tab{page, phone, cust} {
		tb.noCSPViolations()
	}
}
