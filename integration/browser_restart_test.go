package integration

import (
	"strings"
	"testing"
)

// TestBrowserSoftphoneAfterRestart: the server is killed (kill -9) during a call and started
// again on the same address; the softphone reconnects on its own and ends in a clear state: the
// call card for the call the restart cut off is gone, the page is signed in (no sign-in form
// under a "connected" badge), and the record says why the call ended.
func TestBrowserSoftphoneAfterRestart(t *testing.T) {
	browserTest(t)
	dir := t.TempDir()
	p := startServer(t, dir)
	addr := strings.TrimPrefix(p.base, "http://")
	agentTok := mintCLI(t, dir, "--role", "agent", "--user", "agent1", "--ttl", "1h")
	b := newBrowser(t)
	phone := b.newTab("softphone agent1", p.base+"/softphone#token="+agentTok)
	phone.waitFor("signed in", `window.CTI && CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	phone.waitPhone()
	phone.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	phone.click("#btn-ready")
	s := &rtcServer{URL: p.base}
	cust := s.startWebCall(b, "Rae", "+15550142")
	cust.click(`.ctiw [data-digit="2"]`)
	phone.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	phone.click("#btn-answer")
	phone.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	var callID string
	phone.eval(`CTI.getCalls()[0].callId`, &callID)

	p.kill()
	p2 := startServer(t, dir, "--addr", addr)
	phone.waitFor("reconnected, call card gone", `CTI.getState().pyLinkState === 'CONNECTED' && document.getElementById('call').hidden && document.getElementById('incoming').hidden && CTI.getCalls().length === 0`, browserStep)
	phone.waitFor("signed in, not the sign-in form", `document.getElementById('signin').hidden && !document.getElementById('agent').hidden && document.getElementById('link').textContent === 'connected'`, browserStep)
	admin := mintCLI(t, dir, "--role", "admin")
	code, body := get(t, p2.base+"/api/v1/calls/"+callID, admin)
	if code != 200 || !strings.Contains(string(body), `"end_reason":"system_restart"`) {
		t.Fatalf("record of the cut-off call: %d %s", code, body)
	}
	phone.noCSPViolations()
}
