package integration

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// newTabWith opens a tab that runs js before any page script, then navigates to url.
func (b *browser) newTabWith(name, url, js string) *tab {
	b.t.Helper()
	tb := b.newTab(name, "")
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	})); err != nil {
		b.t.Fatalf("%s: add script: %v", name, err)
	}
	tb.navigate(url)
	return tb
}

// denyMic makes getUserMedia refuse as a browser does when the user blocked the microphone;
// window.__allowMic = true lets it through again.
const denyMic = `(() => {
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => window.__allowMic ? gum(c) : Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
})();`

// TestBrowserMicDenied (issue 14, bugs seen and item 6): a softphone whose microphone is blocked
// says so in words and says that no tab has audio (not "another tab"); "Try the microphone
// again" recovers once the browser allows it, and the tab then holds the audio.
func TestBrowserMicDenied(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	p := b.newTabWith("softphone, mic blocked", s.URL+"/softphone#token="+s.token(t, auth.RoleAgent, "agent1"), denyMic)
	p.waitFor("signed in", `window.CTI && CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	p.waitFor("no tab has audio", `document.getElementById('media').textContent === 'audio: no tab has audio'`, browserStep)
	p.waitFor("blocked in words", `document.getElementById('mic-state').textContent.startsWith('blocked: allow the microphone')`, browserStep)
	p.eval(`window.__allowMic = true`, nil)
	p.click("#btn-mic-retry")
	p.waitPhone()
	p.waitFor("audio here", `document.getElementById('media').textContent === 'audio: this tab' && document.getElementById('mic-state').textContent === 'granted'`, browserStep)
	p.waitFor("retry hidden", `document.getElementById('btn-mic-retry').hidden`, browserStep)
	p.noCSPViolations()
}

// TestBrowserCallEndsVisibly (issue 14, bugs seen): the CRM's caller card says how a call ended
// (abandoned before the answer; a call the caller ended, with its length), the customer's timer
// keeps the call's length after "Call ended", and a tab opened during a call counts the call
// from its answer rather than from 0.
func TestBrowserCallEndsVisibly(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	crm := s.agentTab(b, "crm agent1", "/demo/crm", "agent1")
	crm.waitPhone()
	crm.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	crm.click("#btn-ready")
	crm.waitFor("ready", `CTI.getState().status === 'ready'`, browserStep)

	// Abandoned while alerting.
	cust := s.startWebCall(b, "Ada", "+15550100")
	cust.click(`.ctiw [data-digit="2"]`)
	crm.waitFor("screen pop", `CTI.getCalls().some(c => c.state === 'alerting')`, browserStep)
	cust.click(".ctiw-hangup")
	crm.waitFor("card marked abandoned", `document.getElementById('pop').dataset.ended === 'Caller hung up before the answer' && !document.getElementById('pop-ended').hidden`, browserStep)
	cust.close()

	// Answered, then the caller hangs up: the card says so, and the timer of a tab opened
	// during the call counts from the answer.
	crm.waitFor("ready again", `CTI.getState().status === 'ready'`, browserStep)
	cust2 := s.startWebCall(b, "Grace", "+15550101")
	cust2.click(`.ctiw [data-digit="2"]`)
	crm.waitFor("alerting", `!document.getElementById('btn-answer').disabled`, browserStep)
	crm.waitFor("the new card is not marked ended", `document.getElementById('pop-ended').hidden && !document.getElementById('pop').classList.contains('ended')`, browserStep)
	crm.click("#btn-answer")
	cust2.waitFor("connected", `document.querySelector('.ctiw').dataset.state === 'connected'`, browserStep)
	crm.waitFor("two seconds in", `document.getElementById('call-timer').textContent >= '00:02'`, browserStep)
	late := s.agentTab(b, "crm agent1, opened late", "/demo/crm", "agent1")
	late.waitFor("the call shown", `!document.getElementById('call').hidden`, browserStep)
	var first, second string
	crm.eval(`document.getElementById('call-timer').textContent`, &first)
	late.eval(`document.getElementById('call-timer').textContent`, &second)
	if second < "00:02" {
		t.Errorf("a tab opened during the call shows %s (the first tab %s): it must count from the answer", second, first)
	}
	cust2.click(".ctiw-hangup")
	crm.waitFor("card marked ended by the caller", `(document.getElementById('pop').dataset.ended || '') === 'The caller hung up'`, browserStep)
	cust2.waitFor("customer: call ended, length kept", `document.querySelector('.ctiw').dataset.state === 'ended' && document.querySelector('.ctiw-timer').textContent >= '00:02'`, browserStep)
	for _, tb := range []*tab{crm, late, cust2} {
		tb.noCSPViolations()
	}
}
