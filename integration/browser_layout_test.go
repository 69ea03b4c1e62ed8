package integration

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// inView is true when the element's box lies inside the viewport without scrolling.
func inView(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || e.offsetParent === null) return false;
	  const r = e.getBoundingClientRect(); return window.scrollY === 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth; })()`, sel)
}

// TestBrowserLayout400 (issue 14 item 8): on a 400 x 700 px screen the softphone's and the CRM's
// Answer button, and then Hang up, are visible without scrolling when a call arrives.
func TestBrowserLayout400(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	phone := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	phone.waitPhone()
	crm := s.agentTab(b, "crm agent2", "/demo/crm", "agent2")
	for _, tb := range []*tab{phone, crm} {
		ctx, cancel := tb.step()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(400, 700)); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	caller := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	caller.waitPhone()
	caller.setValue("#number", "1002")
	caller.click("#btn-dial")
	phone.waitFor("Answer in view", inView("#btn-answer"), browserStep)
	crm.waitFor("Answer in view", inView("#btn-answer"), browserStep)
	phone.click("#btn-answer")
	phone.waitFor("Hang up in view", inView("#btn-hangup"), browserStep)
	crm.waitFor("Hang up in view", inView("#btn-hangup"), browserStep)
}

// TestBrowserAdmin400 (issue 14 item 8): at 400 px the admin tables fit the screen:
// every agent's status is on screen (no sideways scrolling of the table) and labelled with its column.
func TestBrowserAdmin400(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	page := b.newTab("admin", "")
	ctx, cancel := page.step()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(400, 700)); err != nil {
		t.Fatal(err)
	}
	cancel()
	page.navigate(s.URL + "/admin#token=" + s.token(t, auth.RoleAdmin, "a"))
	st := `document.querySelector('#agents tr[data-user="agent2"] .status')`
	page.waitFor("agents listed", st, browserStep)
	page.waitFor("fits 400 px", st+`.getBoundingClientRect().right <= window.innerWidth && `+
		st+`.getBoundingClientRect().left >= 0 && `+st+`.dataset.label === 'Status' && getComputedStyle(`+st+`, '::before').content === '"Status"'`, browserStep)
	// Nothing sticks out of its card or makes the page scroll sideways: the token list (long
	// ids beside Revoke buttons), the queues, the settings and history forms.
	page.waitFor("tokens listed", `document.querySelectorAll('#token-list li button').length >= 1`, browserStep)
	var out []string
	page.eval(`Array.from(document.querySelectorAll('main section:not([hidden]) *')).filter(e => {
		const r = e.getBoundingClientRect(), card = e.closest('section').getBoundingClientRect();
		return r.width > 0 && e.closest('.table-wrap') === null && (r.right > card.right + 1 || r.left < card.left - 1);
	}).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + (e.textContent || '').slice(0, 30))`, &out)
	if len(out) != 0 {
		t.Errorf("elements outside their card at 400 px: %q", out)
	}
	var sideways bool
	page.eval(`document.documentElement.scrollWidth > window.innerWidth`, &sideways)
	if sideways {
		t.Error("the admin page scrolls sideways at 400 px")
	}
	page.noCSPViolations()
}
