package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// crmSite is a CRM on an origin of its own (another port, so another origin, and "localhost"
// rather than 127.0.0.1, so another site too) that serves one page, set once its origin is known.
type crmSite struct {
	origin string
	page   atomic.Value // string
}

func newCRMSite(t *testing.T) *crmSite {
	t.Helper()
	c := &crmSite{}
	c.page.Store("")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(c.page.Load().(string)))
	}))
	t.Cleanup(hs.Close)
	c.origin = strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)
	return c
}

// TestBrowserEmbeddedSoftphoneCall: a CRM page on another origin frames
// /softphone?account=demo with allow="microphone; camera; display-capture" (docs/rtc.md's
// snippet); with the CRM in frame_ancestors the softphone loads in the frame, gets the (fake)
// microphone, and completes a call: agent2 answers and hears agent1's microphone. Without the
// setting the frame is refused by the CSP and agent1's phone never connects.
func TestBrowserEmbeddedSoftphoneCall(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	ctx := context.Background()
	tok := s.token(t, auth.RoleAgent, "agent1")
	crm := newCRMSite(t)
	crmOrigin := crm.origin
	crm.page.Store(fmt.Sprintf(`<!doctype html><html lang="en"><head><title>CRM</title></head><body><h1>CRM</h1>
<iframe id="softphone" title="Softphone" src="%s/softphone?account=demo#token=%s"
        allow="microphone; camera; display-capture" width="400" height="640"></iframe></body></html>`, s.URL, tok))

	// Not in frame_ancestors: the frame is refused and the phone never connects.
	blocked := b.newTab("crm, not allowed", crmOrigin+"/")
	rtctest.Eventually(t, 20*time.Second, "frame-ancestors violation reported", func() bool {
		return strings.Contains(blocked.consoleText(), "frame-ancestors") || strings.Contains(blocked.consoleText(), "Refused to frame")
	})
	if n := s.Core.Agent("demo", "agent1").Sessions; n != 0 {
		t.Fatalf("a refused frame logged agent1's phone in (%d sessions)", n)
	}
	blocked.close()

	if _, err := s.Accounts.Update(ctx, "demo", []byte(fmt.Sprintf(`{"frame_ancestors":[%q]}`, crmOrigin))); err != nil {
		t.Fatal(err)
	}
	framed := b.newTab("crm, allowed", crmOrigin+"/")
	defer framed.close()
	rtctest.Eventually(t, 30*time.Second, "the framed softphone is agent1's healthy phone", func() bool {
		return s.Core.Agent("demo", "agent1").PhoneReady
	})
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	p2.waitPhone()
	integ := s.token(t, auth.RoleIntegrator, "crm")
	if code := s.apiJSON(t, "POST", "/calls", integ, `{"user_id":"agent1","phone":"1002"}`, nil); code != 201 {
		t.Fatalf("make_call from the framed softphone: %d", code)
	}
	p2.waitFor("incoming call", `!document.getElementById('incoming').hidden`, browserStep)
	p2.click("#btn-answer")
	p2.waitFor("connected", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p2.audioFlows("agent2 hears the framed softphone's microphone", ctiPC)
	p2.click("#btn-hangup")
	p2.waitFor("call ended", `CTI.getCalls().length === 0`, browserStep)
}

// TestBrowserCRMPageCannotLeaveTheMode: in simple mode, a CRM page on another origin that loads
// cti.js cannot hold or transfer by any route: not through CTI (also after init asks for
// client 'phone'), not through its own WebSocket to /rtc with or without client=phone. The
// server decides the rights (welcome.client is desktop) and refuses the commands (forbidden).
func TestBrowserCRMPageCannotLeaveTheMode(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	crm := newCRMSite(t)
	if _, err := s.Accounts.Update(context.Background(), "demo", []byte(fmt.Sprintf(`{"mode":"simple","allowed_origins":[%q]}`, crm.origin))); err != nil {
		t.Fatal(err)
	}
	crm.page.Store(fmt.Sprintf(`<!doctype html><html lang="en"><head><title>CRM</title>
<script src="%s/static/cti.js"></script></head><body><h1>CRM</h1></body></html>`, s.URL))
	tab := b.newTab("crm page", crm.origin+"/")
	// The customer widget's token request from the shop's own site: a CORS preflight (JSON
	// body), then a readable answer (PROTOCOLS.md section 9).
	var webcall struct {
		Status int
		Token  bool
	}
	tab.eval(fmt.Sprintf(`fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})
	  .then(async r => ({status: r.status, token: !!(await r.json()).token}))`, s.URL+"/webcall/demo/token"), &webcall)
	if webcall.Status != 201 || !webcall.Token {
		t.Errorf("cross-origin POST /webcall/demo/token: %+v", webcall)
	}
	tok := s.token(t, auth.RoleAgent, "agent1")
	for _, client := range []string{"desktop", "phone"} {
		var r struct {
			Client, Hold, Transfer string
		}
		tab.eval(fmt.Sprintf(`(async () => {
		  await CTI.init({server: %q, token: %q, client: %q});
		  const code = (p) => p.then(() => 'resolved', e => e.errCode);
		  await new Promise(res => { const t = setInterval(() => { if (CTI.getState().pyLinkState === 'CONNECTED') { clearInterval(t); res(); } }, 20); });
		  return {client: CTI.getCapabilities && (await CTI.getCapabilities()).client,
		          hold: await code(CTI.holdCall('c1')), transfer: await code(CTI.blindTransfer('c1', 'agent2'))};
		})()`, s.URL, tok, client), &r)
		if r.Client != "desktop" || r.Hold != "OPENCTI_MODE_NOT_SUPPORTED" || r.Transfer != "OPENCTI_MODE_NOT_SUPPORTED" {
			t.Errorf("CTI.init client %q: %+v, want desktop rights and both refused by the mode", client, r)
		}
		tab.eval(`CTI.logout().catch(() => null)`, nil)
		rtctest.Eventually(t, 10*time.Second, "the shim's session ended", func() bool { return s.Core.Agent("demo", "agent1").Sessions == 0 })
	}
	// The page's own WebSocket, bypassing the shim.
	for _, query := range []string{"", "&client=phone"} {
		var r struct {
			Client string
			Codes  []string
		}
		tab.eval(fmt.Sprintf(`new Promise((resolve, reject) => {
		  const ws = new WebSocket(%q), codes = []; let client = '';
		  ws.onerror = () => reject(new Error('socket error'));
		  ws.onmessage = (m) => { const f = JSON.parse(m.data);
		    if (f.type === 'welcome') { client = f.client;
		      ws.send(JSON.stringify({type: 'command', request_id: 'h', command: 'hold', call_id: 'c1'}));
		      ws.send(JSON.stringify({type: 'command', request_id: 't', command: 'transfer', call_id: 'c1', arg: 'agent2'})); }
		    if (f.request_id === 'h' || f.request_id === 't') { codes.push(f.type === 'error' ? f.code : 'result');
		      if (codes.length === 2) { ws.close(); resolve({client, codes}); } } };
		})`, "ws"+strings.TrimPrefix(s.URL, "http")+"/rtc?access_token="+tok+query), &r)
		if r.Client != "desktop" || len(r.Codes) != 2 || r.Codes[0] != "forbidden" || r.Codes[1] != "forbidden" {
			t.Errorf("raw /rtc socket%s: %+v, want desktop and forbidden twice", query, r)
		}
		rtctest.Eventually(t, 10*time.Second, "the raw socket's session ended", func() bool { return s.Core.Agent("demo", "agent1").Sessions == 0 })
	}
}
