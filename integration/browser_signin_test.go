package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// signedOut is true when an agent page shows its sign-in form under a "signed out" badge.
const signedOut = `!document.getElementById('signin').hidden && document.getElementById('link').textContent === 'signed out' && !document.getElementById('signin-btn').disabled`

// TestBrowserSignInStates (issue 14, bugs seen): every way a session cannot start or ends leaves
// the softphone and the CRM in a clear signed-out state with a precise reason in words: an admin
// token, an expired token, a token revoked while signed in, and Log out (which also clears the
// audio badge). No WebSocket failure writes the token into the console.
func TestBrowserSignInStates(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	ctx := context.Background()
	short, err := s.Auth.Mint(ctx, auth.MintRequest{Account: "demo", Role: auth.RoleAgent, Subject: "agent1", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var tabs []*tab
	for _, path := range []string{"/softphone", "/demo/crm"} {
		p := b.newTab("admin token on "+path, s.URL+path+"#token="+admin)
		p.waitFor("signed out", signedOut, browserStep)
		if e := p.text("#error"); !strings.Contains(e, "admin token") || !strings.Contains(e, "agent token") {
			t.Errorf("%s with an admin token says %q", path, e)
		}
		tabs = append(tabs, p)
	}

	// An expired token: one precise wording, the same as the REST API's.
	for time.Now().Before(short.ExpiresAt.Add(time.Second)) {
		time.Sleep(50 * time.Millisecond) // waiting for the token's expiry (a condition on the clock)
	}
	exp := b.newTab("expired token", s.URL+"/softphone#token="+short.Token)
	exp.waitFor("signed out", signedOut, browserStep)
	if e := exp.text("#error"); e != "The token expired: sign in with a new one" {
		t.Errorf("expired token: %q", e)
	}
	tabs = append(tabs, exp)

	// A user that does not exist: the socket is refused (404) and the browser reports the failed
	// socket in its console: without the token.
	ghost := s.token(t, auth.RoleAgent, "nobody")
	gh := b.newTab("unknown user", s.URL+"/softphone#token="+ghost)
	gh.waitFor("signed out", signedOut, browserStep)
	if e := gh.text("#error"); !strings.Contains(e, "agent may no longer exist") {
		t.Errorf("unknown user: %q", e)
	}
	for deadline := time.Now().Add(browserStep); !strings.Contains(gh.consoleText(), "WebSocket"); {
		if time.Now().After(deadline) {
			t.Fatalf("the browser did not report the refused socket:\n%s", gh.consoleText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tabs = append(tabs, gh)

	// Revoked while signed in: the page ends signed out, not "reconnecting…" forever.
	m, err := s.Auth.Mint(ctx, auth.MintRequest{Account: "demo", Role: auth.RoleAgent, Subject: "agent2"})
	if err != nil {
		t.Fatal(err)
	}
	rev := b.newTab("revoked token", s.URL+"/demo/crm#token="+m.Token)
	rev.waitFor("signed in", `CTI.getState().pyLinkState === 'CONNECTED' && document.getElementById('link').textContent === 'connected'`, browserStep)
	if err := s.Auth.Revoke(ctx, "demo", m.ID); err != nil {
		t.Fatal(err)
	}
	rev.waitFor("signed out", signedOut, browserStep)
	if e := rev.text("#error"); e != "The token was revoked: sign in with a new one" {
		t.Errorf("revoked token: %q", e)
	}
	// A reconnect attempt with the revoked token is refused before the upgrade: still no token in the console.
	tabs = append(tabs, rev)

	// Log out: signed out, and the audio badge no longer claims the tab.
	p := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p.waitPhone()
	p.waitFor("audio here", `document.getElementById('media').textContent === 'audio: this tab'`, browserStep)
	p.click("#btn-logout")
	p.waitFor("signed out", signedOut+` && document.getElementById('media').textContent === 'audio: –'`, browserStep)
	if e := p.text("#error"); e != "" {
		t.Errorf("log out shows an error: %q", e)
	}
	tabs = append(tabs, p)

	for _, tb := range tabs {
		c := tb.consoleText()
		for _, tok := range []string{admin, short.Token, m.Token, ghost} {
			if strings.Contains(c, tok) || strings.Contains(c, tok[len(tok)-20:]) {
				t.Errorf("%s: the console shows a token:\n%s", tb.name, c)
			}
		}
		tb.noCSPViolations()
	}
}
