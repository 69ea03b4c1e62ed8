package integration

import (
	"strings"
	"testing"
)

// TestBrowserConferenceParties: the softphone lists who joined a conference, by name, with a
// Remove button that drops that party (its call ends) and leaves the caller with the agent.
func TestBrowserConferenceParties(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	p1 := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	for _, p := range []*tab{p1, p2} {
		p.waitPhone()
		p.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	}
	p1.click("#btn-ready")
	cust := s.startWebCall(b, "Lin", "+15550199")
	cust.click(`.ctiw [data-digit="2"]`)
	p1.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	p1.click("#btn-answer")
	p1.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p1.waitFor("parties hidden alone", `document.getElementById('parties').hidden`, browserStep)

	p1.waitFor("Conference offered", `!!document.querySelector('#dir-list li[data-id="agent2"] button:nth-child(2)')`, browserStep)
	p1.click(`#dir-list li[data-id="agent2"] button:nth-child(2)`)
	p2.waitFor("agent2 invited", `!document.getElementById('incoming').hidden`, browserStep)
	p2.click("#btn-answer")
	p1.waitFor("agent2 listed", `!document.getElementById('parties').hidden && !!document.querySelector('#parties li[data-party="agent2"]')`, browserStep)
	if who := p1.text(`#parties li[data-party="agent2"] span`); who == "agent2" || !strings.Contains(who, "ext. ") {
		t.Errorf("party shown as %q, want the agent's name and extension", who)
	}
	p1.click(`#parties li[data-party="agent2"] button`)
	p2.waitFor("agent2's call ended", `document.getElementById('call').hidden`, browserStep)
	p1.waitFor("list empty again", `document.getElementById('parties').hidden`, browserStep)
	p1.waitFor("agent1 still with the caller", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	for _, tb := range []*tab{p1, p2, cust} {
		tb.noCSPViolations()
	}
}
