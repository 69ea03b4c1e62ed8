package integration

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// nameless lists the page's form controls (shown or not yet shown) that have no accessible
// name: no label, no aria-label or aria-labelledby, and, for a button, no text or title.
const nameless = `Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button')).filter(el => {
	const byLabel = el.labels && Array.from(el.labels).some(l => l.textContent.trim() !== '');
	const by = el.getAttribute('aria-labelledby'), byRef = by && by.split(' ').some(id => document.getElementById(id) && document.getElementById(id).textContent.trim() !== '');
	const own = (el.getAttribute('aria-label') || '').trim() !== '' || el.tagName === 'BUTTON' && (el.textContent.trim() !== '' || (el.title || '') !== '');
	return !(byLabel || byRef || own);
}).map(el => el.tagName.toLowerCase() + '#' + el.id + '.' + el.className)`

// TestBrowserControlsLabelled: on every page, signed in, each control has an accessible name,
// focus is visible (the :focus-visible outline), and the alerting card is an alertdialog.
func TestBrowserControlsLabelled(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	agent := s.token(t, auth.RoleAgent, "agent1")
	pages := map[string]string{
		"start":      "/",
		"softphone":  "/softphone#token=" + agent,
		"crm":        "/demo/crm#token=" + s.token(t, auth.RoleAgent, "agent2"),
		"customer":   "/demo/customer",
		"admin":      "/admin#token=" + s.token(t, auth.RoleAdmin, "a"),
		"supervisor": "/supervisor#token=" + s.token(t, auth.RoleSupervisor, "agent2"),
	}
	for name, path := range pages {
		tb := b.newTab(name, s.URL+path)
		tb.waitFor("loaded", `document.readyState === 'complete'`, browserStep)
		var missing []string
		tb.eval(nameless, &missing)
		if len(missing) != 0 {
			t.Errorf("%s: controls without an accessible name: %v", name, missing)
		}
		var focus bool
		tb.eval(`Array.from(document.styleSheets).some(sh => Array.from(sh.cssRules).some(r => (r.selectorText || '').includes(':focus-visible') && /outline:(?! *none)/.test(r.style.cssText)))`, &focus)
		if !focus {
			t.Errorf("%s: no :focus-visible outline in its styles", name)
		}
		tb.noCSPViolations()
		tb.close()
	}
	phone := b.newTab("softphone", s.URL+pages["softphone"])
	phone.waitFor("signed in", `window.CTI && CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	var role string
	phone.eval(`document.getElementById('incoming').getAttribute('role')`, &role)
	if role != "alertdialog" {
		t.Errorf("the softphone's alerting card has role %q, want alertdialog", role)
	}
}
