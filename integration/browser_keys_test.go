package integration

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// press sends a real key press with Alt held to the tab.
func (tb *tab) pressAlt(key string) {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(key, chromedp.KeyModifiers(chromedp.ModifierAlt))); err != nil {
		tb.t.Fatalf("%s: key alt+%s: %v", tb.name, key, err)
	}
}

// TestBrowserKeyboardShortcuts (issue 14 item 7): on the softphone Alt+A answers, Alt+M mutes,
// Alt+O holds and retrieves, Alt+H hangs up; with the shortcuts switched off Alt+A does nothing.
func TestBrowserKeyboardShortcuts(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	p2.waitPhone()
	p1 := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p1.waitPhone()
	dial := func() {
		p1.setValue("#number", "1002")
		p1.click("#btn-dial")
		p2.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	}
	p2.waitFor("shortcuts on by default", `document.getElementById('shortcuts-on').checked`, browserStep)
	dial()
	p2.pressAlt("a")
	p2.waitFor("answered by Alt+A", `CTI.getCalls().some(c => c.state === 'connected')`, browserStep)
	p2.pressAlt("m")
	p2.waitFor("muted by Alt+M", `document.getElementById('btn-mute').getAttribute('aria-pressed') === 'true'`, browserStep)
	p2.pressAlt("o")
	p2.waitFor("held by Alt+O", `document.getElementById('call-state').textContent === 'held'`, browserStep)
	p2.pressAlt("o")
	p2.waitFor("retrieved by Alt+O", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p2.pressAlt("h")
	p2.waitFor("hung up by Alt+H", `CTI.getCalls().length === 0`, browserStep)

	p2.click("#shortcuts-on") // off
	p2.waitFor("off", `localStorage.getItem('cti-shortcuts') === 'off'`, browserStep)
	dial()
	p2.pressAlt("a")
	p2.click("#btn-reject") // still alerting: Alt+A did nothing
	p2.waitFor("rejected", `CTI.getCalls().length === 0`, browserStep)
	p2.noCSPViolations()
}
