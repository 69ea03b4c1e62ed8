package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestBrowserFirstRun (issue 14 item 13): the first-run banner's links work as printed (the
// admin console and agent1's softphone and CRM sign in from the link alone), the CLI hints name
// the data dir (not the default here), and GET / links to every page.
func TestBrowserFirstRun(t *testing.T) {
	browserTest(t)
	h := startHarness(t, harnessOptions{})
	d, err := h.EnsureDemo(context.Background())
	if err != nil || d == nil {
		t.Fatalf("EnsureDemo: %v %v", d, err)
	}
	banner := h.Banner(d)
	if !strings.Contains(banner, "cti-adapter token --data-dir "+h.Config.DataDir+" --account demo") {
		t.Errorf("banner CLI hints without --data-dir:\n%s", banner)
	}
	link := func(label string) string {
		m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + `\s+(\S+)`).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("banner has no %q link:\n%s", label, banner)
		}
		return m[1]
	}
	b := newBrowser(t)
	admin := b.newTab("admin from the banner", link("Admin"))
	admin.waitFor("signed in", `!document.getElementById('tokens-sec').hidden && document.getElementById('who').textContent === 'signed in'`, browserStep)
	for _, l := range []string{"agent1 softphone", "agent1 demo CRM"} {
		p := b.newTab(l, link(l))
		p.waitFor("signed in as agent1", `window.CTI && CTI.getState().pyLinkState === 'CONNECTED' && CTI.getState().pyAgentId === 'agent1' && document.getElementById('signin').hidden`, browserStep)
		p.noCSPViolations()
	}
	start := b.newTab("start page", link("Start page"))
	var hrefs []string
	start.eval(`[...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))`, &hrefs)
	for _, want := range []string{"/softphone", "/demo/crm", "/admin", "/demo/customer", "/static/cti.js", "/api/v1/openapi.json"} {
		if !strings.Contains(strings.Join(hrefs, " "), want) {
			t.Errorf("start page lacks a link to %s: %v", want, hrefs)
		}
	}
	start.noCSPViolations()
}
