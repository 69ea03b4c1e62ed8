package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserSoftphoneDirectory: the softphone's desk panels. The reason picker offers the
// account's not-ready reasons; the directory shows the other agent's presence as it changes, the
// queues with their waiting callers and the admin's quick connects, and is searchable; "My
// numbers" counts a caller waiting in my queue; during a call the directory's Transfer hands the
// caller to the other agent; the quality badge grades the call's audio; the calls today count
// the call.
func TestBrowserSoftphoneDirectory(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"not_ready_reasons":["lunch","coaching"],"quick_connects":[{"name":"Front desk","destination":"+15550100"}]}`, nil); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	b := newBrowser(t)
	p1 := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	for _, p := range []*tab{p1, p2} {
		p.waitPhone()
		p.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	}
	p1.waitFor("the account's reasons", `Array.from(document.getElementById('reason').options).map(o => o.value).join() === 'lunch,coaching'`, browserStep)

	entry := func(kind, id string) string {
		return `document.querySelector('#dir-list li[data-kind="` + kind + `"][data-id="` + id + `"]')`
	}
	p1.waitFor("agent2 online in the directory", entry("agent", "agent2")+` && `+entry("agent", "agent2")+`.querySelector('.status').dataset.status === 'online'`, browserStep)
	p1.waitFor("quick connect listed", `!!`+entry("quick", "Front desk"), browserStep)
	p2.click("#btn-ready")
	p1.waitFor("agent2 ready in the directory", entry("agent", "agent2")+`.querySelector('.status').dataset.status === 'ready'`, browserStep)
	p1.setValue("#dir-search", "front")
	p1.waitFor("search narrows", `document.querySelectorAll('#dir-list li').length === 1 && !!`+entry("quick", "Front desk"), browserStep)
	p1.setValue("#dir-search", "")
	p1.eval(`(() => { document.getElementById('dir-search').dispatchEvent(new Event('input')); return 0; })()`, nil)

	// agent2 goes not ready: a caller waits in support, and agent1 (serving every queue) sees it.
	p2.eval(`(() => { document.getElementById('reason').value = 'coaching'; return 0; })()`, nil)
	p2.click("#btn-notready")
	p1.waitFor("agent2 not ready: coaching", entry("agent", "agent2")+`.textContent.includes('coaching')`, browserStep)
	cust := s.startWebCall(b, "Ida", "+15550188")
	cust.click(`.ctiw [data-digit="2"]`)
	p1.waitFor("a caller waiting in my queues", `document.getElementById('n-waiting').textContent === '1'`, browserStep)

	// agent1 takes the call; the directory now offers Transfer; the quality badge grades it.
	p1.click("#btn-ready")
	p1.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	p1.click("#btn-answer")
	p1.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p1.waitFor("quality graded", `['good','fair','poor'].includes(document.getElementById('quality').dataset.quality) && Number(document.getElementById('quality').dataset.packets) > 0`, browserStep)
	p2.click("#btn-ready")
	p1.waitFor("Transfer offered", entry("agent", "agent2")+` && `+entry("agent", "agent2")+`.querySelector('button').textContent === 'Transfer'`, browserStep)
	p1.click(`#dir-list li[data-kind="agent"][data-id="agent2"] button`)
	p2.waitFor("agent2 rings", `!document.getElementById('incoming').hidden`, browserStep)
	p2.click("#btn-answer")
	p2.waitFor("agent2 connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p2.click("#btn-hangup")
	p1.waitFor("agent1's calls today", `document.getElementById('n-today').textContent === '1'`, browserStep)
	p1.waitFor("quality back to no call", `document.getElementById('quality').textContent === 'no call'`, browserStep)

	var grades []string
	p1.eval(`[CTIDeskPanels.grade(0.05, 0.01, 0), CTIDeskPanels.grade(0.4, 0.01, 0), CTIDeskPanels.grade(0.05, 0.01, 0.05)]`, &grades)
	if len(grades) != 3 || grades[0] != "good" || grades[1] != "fair" || grades[2] != "poor" {
		t.Errorf("grades %v", grades)
	}
	for _, tb := range []*tab{p1, p2, cust} {
		tb.noCSPViolations()
	}
}
