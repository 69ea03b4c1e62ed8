package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserAdminMintWords (issue 14, bugs seen, and item 10): refusals on the admin page are plain words,
// each said once: minting for an unknown agent, a lifetime the page can check itself, and one
// only the server refuses (never a schema pattern).
func TestBrowserAdminMintWords(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	page := b.newTab("admin", s.URL+"/admin#token="+admin)
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

	// Tokens (issue 14 item 10): the list is GET /api/v1/tokens (every token of the account, never
	// the token itself); a token minted here appears with its role, subject and expiry; Revoke on
	// its row revokes it.
	page.eval(`(() => { document.getElementById('mint-role').value = 'agent'; return 0; })()`, nil)
	page.setValue("#mint-sub", "agent2")
	page.setValue("#mint-ttl", "2h")
	page.click("#mint-btn")
	page.waitFor("minted", `document.getElementById('minted-id').textContent !== ''`, browserStep)
	id := page.text("#minted-id")
	row := `document.querySelector('#token-list li[data-token-id="` + id + `"]')`
	page.waitFor("listed", row+` && `+row+`.textContent.startsWith('agent agent2 · `+id+` · expires')`, browserStep)
	var list struct {
		Tokens []map[string]any `json:"tokens"`
	}
	if code := s.apiJSON(t, "GET", "/tokens", admin, "", &list); code != 200 || len(list.Tokens) < 2 {
		t.Fatalf("GET /tokens: %d %v", code, list)
	}
	var mine map[string]any
	for _, tk := range list.Tokens {
		if tk["token_id"] == id {
			mine = tk
		}
		if _, ok := tk["token"]; ok {
			t.Errorf("GET /tokens shows a token: %v", tk)
		}
	}
	if mine == nil || mine["role"] != "agent" || mine["sub"] != "agent2" || mine["revoked"] != false || mine["issued_at"] == nil || mine["expires_at"] == nil {
		t.Fatalf("minted token in the list: %v", mine)
	}
	if _, ok := mine["last_used_at"]; !ok {
		t.Errorf("last_used_at missing: %v", mine)
	}
	page.click(`#token-list li[data-token-id="` + id + `"] button`)
	page.waitFor("revoked in the list", row+`.querySelector('span').textContent.endsWith('(revoked)') && `+row+`.querySelector('button').disabled`, browserStep)
	s.apiJSON(t, "GET", "/tokens", admin, "", &list)
	for _, tk := range list.Tokens {
		if tk["token_id"] == id && tk["revoked"] != true {
			t.Errorf("after Revoke: %v", tk)
		}
	}
	page.noCSPViolations()
}
