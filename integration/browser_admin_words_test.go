package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserAdminMintWords (issue 14, bugs seen): refusals on the admin page are plain words,
// each said once: minting for an unknown agent, a lifetime the page can check itself, and one
// only the server refuses (never a schema pattern).
func TestBrowserAdminMintWords(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	page := b.newTab("admin", s.URL+"/admin#token="+s.token(t, auth.RoleAdmin, "test-admin"))
	page.waitFor("signed in", `!document.getElementById('tokens-sec').hidden`, browserStep)
	mint := func(sub, ttl, want string) {
		t.Helper()
		page.eval(`(() => { document.getElementById('mint-role').value = 'agent'; document.getElementById('error').textContent = ''; return 0; })()`, nil)
		page.setValue("#mint-sub", sub)
		page.setValue("#mint-ttl", ttl)
		page.click("#mint-btn")
		page.waitFor("an error", `document.getElementById('error').textContent !== ''`, browserStep)
		got := page.text("#error")
		if got != want {
			t.Errorf("mint sub %q ttl %q: %q, want %q", sub, ttl, got, want)
		}
		if strings.Count(got, "not a user") > 1 || strings.Contains(got, "^(") {
			t.Errorf("repeated or raw: %q", got)
		}
	}
	const plain = "Lifetime: must be a lifetime such as 8h, 30m or 1h30m (hours, minutes, seconds; at most 8784h)."
	mint("nobody", "", "Subject: is not a user of this account.")
	mint("agent1", "8 hours", plain)
	mint("agent1", "0s", plain) // passes the page's own check: refused by the server
	page.noCSPViolations()
}
