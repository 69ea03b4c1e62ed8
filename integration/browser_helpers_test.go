package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// Browser tests drive Debian's Chromium (headless, fake microphone) against a real in-process
// server (newRTCServer). Every call after a tab's first is bounded by a timeout; every browser is
// stopped in t.Cleanup.

const chromiumPath = "/usr/bin/chromium"

// browserStep bounds each browser action (navigation, evaluation, click).
const browserStep = 20 * time.Second

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("browser tests need chromium: apt-get install -y chromium, or run .ci/run")
	}
}

// browserTest starts a browser test: it skips without Chromium and, once every cleanup registered
// after it has run (browser, server), fails on goroutines the test left behind.
func browserTest(t *testing.T) {
	t.Helper()
	needChromium(t)
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
}

// browser is one Chromium process with a fresh profile.
type browser struct {
	t   *testing.T
	ctx context.Context // the browser's first tab; its context owns the process
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	needChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// The server gathers only 127.0.0.1; plain host candidates keep ICE simple.
		chromedp.Flag("disable-features", "Translate,WebRtcHideLocalIpsWithMdns"),
	)
	// Chromium now and then exits at start-up before it prints its DevTools address (seen on a
	// loaded CI machine, with nothing in its output): a process start is retried, a test is not.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		// a fresh profile each attempt, removed after the browser stopped (cleanups run last-in first-out)
		profile := chromedp.UserDataDir(t.TempDir())
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, profile)...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		// The first Run starts the browser: no timeout on it (a timeout would stop the browser).
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancel(); cancelAlloc() })
			return &browser{t: t, ctx: ctx}
		}
		cancel()
		cancelAlloc()
		t.Logf("start chromium, attempt %d: %v", attempt, err)
	}
	t.Fatalf("start chromium: %v", err)
	return nil
}

// tab is one page of a browser, with a probe that counts WebSocket frames sent and keeps the
// page's sockets (injected before any page script; CDP-injected code is not subject to the CSP).
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards console
	console  []string
	closed   bool
	closeOne sync.Once
}

const probeJS = `(() => {
  const WS = window.WebSocket, sockets = [], frames = [];
  function Probe(url, protocols) {
    if (window.__probe.block) { window.__probe.refused++; throw new DOMException('blocked by the test', 'SecurityError'); }
    const ws = protocols === undefined ? new WS(url) : new WS(url, protocols);
    sockets.push(ws);
    return ws;
  }
  Probe.prototype = WS.prototype;
  Object.assign(Probe, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Probe;
  const send = WS.prototype.send;
  WS.prototype.send = function (d) { frames.push(String(d)); if (frames.length > 500) frames.shift(); window.__probe.sent++; return send.call(this, d); };
  window.__probe = { sockets, frames, sent: 0, refused: 0 };
})();`

// newTab opens a tab, installs the probe, collects the console and navigates to url.
func (b *browser) newTab(name, url string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{t: b.t, name: name, ctx: ctx, cancel: cancel}
	b.t.Cleanup(tb.close)
	// The first Run on a tab's context creates the tab: no timeout on it either.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probeJS})
		return err
	})); err != nil {
		b.t.Fatalf("%s: open tab: %v", name, err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	}()
	if url != "" {
		tb.navigate(url)
	}
	return tb
}

func (tb *tab) close() {
	tb.closeOne.Do(func() {
		tb.mu.Lock()
		tb.closed = true
		tb.mu.Unlock()
		tb.cancel()
	})
}

func (tb *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(tb.ctx, browserStep)
}

func (tb *tab) navigate(url string) {
	tb.t.Helper()
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("%s: navigate %s: %v", tb.name, url, err)
	}
}

// eval evaluates js (awaiting a promise) and decodes its JSON value into out (if not nil).
func (tb *tab) eval(js string, out any) {
	tb.t.Helper()
	if err := tb.tryEval(js, out); err != nil {
		tb.t.Fatalf("%s: %s: %v\nconsole:\n%s", tb.name, short(js), err, tb.consoleText())
	}
}

func (tb *tab) tryEval(js string, out any) error {
	ctx, cancel := tb.step()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// waitFor polls the boolean js until it is true.
func (tb *tab) waitFor(what, js string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if last = tb.tryEval("!!("+js+")", &ok); last == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("%s: timed out waiting for %s (%s; last error %v)\nconsole:\n%s", tb.name, what, short(js), last, tb.consoleText())
}

// click clicks the element with the CSS selector like a user (mouse events), once it is
// visible and enabled.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.waitFor("clickable "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && !e.disabled && !e.closest('[hidden]') && e.offsetParent !== null; })()`, sel), browserStep)
	ctx, cancel := tb.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
}

// setValue types into an input (sets the value as a user would leave it).
func (tb *tab) setValue(sel, v string) {
	tb.t.Helper()
	tb.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); })()`, sel, v), nil)
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	var s string
	tb.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel), &s)
	return s
}

func (tb *tab) consoleText() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return strings.Join(tb.console, "\n")
}

// noCSPViolations fails if the page reported a Content Security Policy violation.
func (tb *tab) noCSPViolations() {
	tb.t.Helper()
	if c := tb.consoleText(); strings.Contains(c, "Content Security Policy") || strings.Contains(c, "Content-Security-Policy") {
		tb.t.Errorf("%s: CSP violation:\n%s", tb.name, c)
	}
}

// inboundPackets reads packetsReceived of the inbound audio RTP stream of the peer connection
// that pcJS evaluates to (0 when there is none yet).
func (tb *tab) inboundPackets(pcJS string) int {
	tb.t.Helper()
	var n int
	tb.eval(`(async () => { const pc = `+pcJS+`; if (!pc) return 0; let n = 0;
	  (await pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived || 0; }); return n; })()`, &n)
	return n
}

// audioFlows waits until the inbound packet count grows by at least 25 (half a second of audio).
func (tb *tab) audioFlows(what, pcJS string) {
	tb.t.Helper()
	start := tb.inboundPackets(pcJS)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if n := tb.inboundPackets(pcJS); n >= start+25 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.t.Fatalf("%s: %s: inbound audio did not grow past %d packets\nconsole:\n%s", tb.name, what, start, tb.consoleText())
}

// CTI state read from a page.
const ctiPC = `window.CTI.getPeerConnection()`

// ctiCall waits for the page's CTI to list a call in one of the states and returns its id.
func (tb *tab) ctiCall(states ...string) string {
	tb.t.Helper()
	js := fmt.Sprintf(`(window.CTI.getCalls().find(c => %s.includes(c.state)) || {}).callId`, mustJSON(states))
	tb.waitFor("a call "+strings.Join(states, "/"), js, browserStep)
	var id string
	tb.eval(js, &id)
	return id
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func short(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) > 160 {
		return js[:160] + "…"
	}
	return js
}

// agentTab opens page (e.g. /demo/crm) signed in as user and waits until CTI is live.
func (s *rtcServer) agentTab(b *browser, name, path, user string) *tab {
	tok := s.token(b.t, auth.RoleAgent, user)
	tb := b.newTab(name, s.URL+path+"#token="+tok)
	tb.waitFor("signed in", `window.CTI && window.CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	return tb
}

// waitPhone waits until the tab's phone has a connected peer connection.
func (tb *tab) waitPhone() {
	tb.t.Helper()
	tb.waitFor("phone connected", `window.CTI.getPeerConnection() && window.CTI.getPeerConnection().connectionState === 'connected'`, browserStep)
}

// apiJSON calls the REST API with a token and decodes the answer.
func (s *rtcServer) apiJSON(t *testing.T, method, path, token string, body string, out any) int {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, s.URL+"/api/v1"+path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequest(method, s.URL+"/api/v1"+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}
