package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserDirectoryPresenceLive: with the directory's safety-net poll set to an hour
// (?dir_poll=3600), agent1's directory still shows agent2 going ready and then not ready
// (lunch) at once, from the presence frames, without reloading GET /api/v1/directory; a caller
// entering agent1's queue updates "calls waiting" through a directory_changed hint.
func TestBrowserDirectoryPresenceLive(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	tok := s.token(t, auth.RoleAgent, "agent1")
	p1 := b.newTab("softphone agent1", s.URL+"/softphone?dir_poll=3600#token="+tok)
	p1.waitFor("signed in", `window.CTI && window.CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	p2.waitPhone()

	entry := `document.querySelector('#dir-list li[data-kind="agent"][data-id="agent2"] .status')`
	p1.waitFor("agent2 online in the directory", entry+` && `+entry+`.dataset.status === 'online'`, browserStep)
	// Count the directory reads the page starts from now on (fetch is the page's only way).
	p1.eval(`(() => { window.dirReads = 0; const f = window.fetch;
		window.fetch = function (u) { if (String(u).includes('/api/v1/directory')) window.dirReads++; return f.apply(this, arguments); };
		return 0; })()`, nil)
	reads := `window.dirReads`
	before := 0

	p2.click("#btn-ready")
	p1.waitFor("agent2 ready, live", entry+`.dataset.status === 'ready'`, browserStep)
	p2.eval(`(() => { document.getElementById('reason').value = 'lunch'; return 0; })()`, nil)
	p2.click("#btn-notready")
	p1.waitFor("agent2 not ready: lunch, live", entry+`.dataset.status === 'dnd' && `+entry+`.textContent.includes('lunch')`, browserStep)
	var after int
	p1.eval(reads, &after)
	if after != before {
		t.Fatalf("the directory was read %d times while presence changed (%d before, %d after): the change came by a poll, not live", after-before, before, after)
	}

	// A caller waits in support (agent1 is not ready, so it is not alerted): the hint reloads.
	cust := s.startWebCall(b, "Ida", "+15550188")
	cust.click(`.ctiw [data-digit="2"]`)
	p1.waitFor("a caller waiting in my queues", `document.getElementById('n-waiting').textContent === '1'`, browserStep)
	p1.eval(reads, &after)
	if after <= before {
		t.Fatalf("calls waiting changed without a directory read (%d, %d)", before, after)
	}
	for _, tb := range []*tab{p1, p2, cust} {
		tb.noCSPViolations()
	}
}
