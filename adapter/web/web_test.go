package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/web"
	"github.com/cti-adapter/cti-adapter/static"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	web.Mount(r, static.Files, nil)
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestPagesHaveStrictCSP(t *testing.T) {
	s := server(t)
	for route := range web.Pages {
		res, body := get(t, s.URL+route)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", route, res.StatusCode, res.Header.Get("Content-Type"))
		}
		csp := res.Header.Get("Content-Security-Policy")
		if csp != web.CSP || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("%s: CSP %q", route, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", route)
		}
		if !strings.Contains(body, "<html lang=") || !strings.Contains(body, `name="viewport"`) {
			t.Errorf("%s: lang or viewport missing", route)
		}
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	styleTag     = regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	external     = regexp.MustCompile(`(?i)(?:src|href)="(?:https?:)?//`)
	assetRef     = regexp.MustCompile(`(?:src|href)="/static/([^"]+)"`)
	labelFor     = regexp.MustCompile(`<label[^>]*\sfor="([^"]+)"`)
	inputID      = regexp.MustCompile(`<(?:input|select|textarea|meter)[^>]*\sid="([^"]+)"`)
)

// TestNoInlineCodeNoThirdParty: every page loads its scripts and styles from files of its own
// origin (the CSP would block anything else), and every form control has a label.
func TestNoInlineCodeNoThirdParty(t *testing.T) {
	s := server(t)
	for route, file := range web.Pages {
		b, err := fs.ReadFile(static.Files, file)
		if err != nil {
			t.Fatal(err)
		}
		html := string(b)
		for _, tag := range inlineScript.FindAllString(html, -1) {
			if !strings.Contains(tag, `src="/static/`) {
				t.Errorf("%s: inline or foreign script %s", file, tag)
			}
		}
		if m := styleTag.FindString(html); m != "" {
			t.Errorf("%s: inline style or handler %q", file, m)
		}
		if m := external.FindString(html); m != "" {
			t.Errorf("%s: third-party resource %q", file, m)
		}
		for _, m := range assetRef.FindAllStringSubmatch(html, -1) {
			if res, _ := get(t, s.URL+"/static/"+m[1]); res.StatusCode != 200 {
				t.Errorf("%s (%s): /static/%s: %d", file, route, m[1], res.StatusCode)
			}
		}
		labelled := map[string]bool{}
		for _, m := range labelFor.FindAllStringSubmatch(html, -1) {
			labelled[m[1]] = true
		}
		for _, m := range inputID.FindAllStringSubmatch(html, -1) {
			if !labelled[m[1]] {
				t.Errorf("%s: control #%s has no <label for>", file, m[1])
			}
		}
	}
}

func TestAssets(t *testing.T) {
	s := server(t)
	for name, ctype := range map[string]string{
		"cti.js": "text/javascript", "cti.mjs": "text/javascript", "webcall.js": "text/javascript",
		"cti.d.ts": "text/plain", "cti.d.mts": "text/plain", "desk.js": "text/javascript", "app.css": "text/css", "webcall.css": "text/css",
	} {
		res, body := get(t, s.URL+"/static/"+name)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("%s: %d %q", name, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: a module import from a CRM's origin needs CORS", name)
		}
		etag := res.Header.Get("ETag")
		if res2, _ := get(t, s.URL+"/static/"+name, "If-None-Match", etag); etag == "" || res2.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation with ETag %q: %d", name, etag, res2.StatusCode)
		}
	}
	for _, p := range []string{"crm.html", "nope.js", "", "../go.mod", "static.go", "shim/10-model.js", "shim/30-api.js"} {
		if res, _ := get(t, s.URL+"/static/"+p); res.StatusCode != 404 {
			t.Errorf("/static/%s: %d, want 404", p, res.StatusCode)
		}
	}
}

// TestShimBudget: the shim stays one small file (what a CRM page downloads, gzip-compressed as
// served, under 16 KiB; the readable source under 64 KiB; docs/js.md says why) that is a classic
// script and, through cti.mjs, a module with a default export.
func TestShimBudget(t *testing.T) {
	b, err := web.AssembleShim(static.Files)
	if err != nil {
		t.Fatal(err)
	}
	s := server(t)
	tr := &http.Transport{DisableCompression: true} // see the bytes as sent
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", s.URL+"/static/cti.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || len(sent) >= 16<<10 || len(b) >= 64<<10 {
		t.Errorf("cti.js is %d bytes, sent as %d bytes (%q), budget 65536 (16384 gzip)", len(b), len(sent), res.Header.Get("Content-Encoding"))
	}
	js := string(b)
	if regexp.MustCompile(`(?m)^\s*(import|export)\s`).MatchString(js) {
		t.Error("cti.js must stay a classic script: no import/export statements")
	}
	mjs, _ := fs.ReadFile(static.Files, "cti.mjs")
	if !strings.Contains(string(mjs), "import './cti.js'") || !strings.Contains(string(mjs), "export default") {
		t.Errorf("cti.mjs: %s", mjs)
	}
	// The module entry has types (cti.d.mts re-exports cti.d.ts), and the classic script's global
	// is declared as well as window.CTI.
	dmts, _ := fs.ReadFile(static.Files, "cti.d.mts")
	dts, _ := fs.ReadFile(static.Files, "cti.d.ts")
	if !strings.Contains(string(dmts), "export { default") || !regexp.MustCompile(`(?s)declare global \{\s*(/\*\*.*?\*/\s*)?var CTI: CTI;`).Match(dts) {
		t.Errorf("cti.d.mts %q / cti.d.ts global CTI declaration missing", dmts)
	}
	for _, m := range []string{"init", "getVersion", "getCapabilities", "login", "logout", "agentReady", "agentNotReady",
		"makeCall", "answerCall", "hangUpCall", "holdCall", "retrieveCall", "muteCall", "unmuteCall", "blindTransfer",
		"conferenceInitiate", "dropParty", "sendDTMF", "setCallData", "on", "off",
		"consultationCall", "transferInitiate", "transferComplete", "conferenceComplete"} {
		if !strings.Contains(js, m) {
			t.Errorf("cti.js lacks %s", m)
		}
		if d, _ := fs.ReadFile(static.Files, "cti.d.ts"); !regexp.MustCompile(`\b` + m + `[<(]`).Match(d) {
			t.Errorf("cti.d.ts lacks %s", m)
		}
	}
}

// TestRingtone: the generated ringtone is a well-formed WAV (RIFF/WAVE, PCM 8 kHz mono 16-bit,
// sizes consistent) served as audio/wav, with sound in its bursts and silence between them.
func TestRingtone(t *testing.T) {
	b := web.Ringtone
	if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("header %q", b[:44])
	}
	le := func(i, n int) int {
		v := 0
		for k := n - 1; k >= 0; k-- {
			v = v<<8 | int(b[i+k])
		}
		return v
	}
	if le(4, 4) != len(b)-8 || le(40, 4) != len(b)-44 || le(20, 2) != 1 || le(22, 2) != 1 || le(24, 4) != 8000 || le(34, 2) != 16 {
		t.Errorf("sizes or format wrong: riff %d data %d len %d", le(4, 4), le(40, 4), len(b))
	}
	sample := func(sec float64) int { return int(int16(le(44+2*int(sec*8000), 2))) }
	loud := 0
	for i := 0; i < 40; i++ {
		if s := sample(0.1 + float64(i)*0.005); s > 2000 || s < -2000 {
			loud++
		}
	}
	if loud == 0 || sample(0.5) != 0 || sample(2.0) != 0 {
		t.Errorf("burst has %d loud samples of 40; gap %d, tail %d", loud, sample(0.5), sample(2.0))
	}
	s := server(t)
	res, body := get(t, s.URL+"/static/ring.wav")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/wav" || len(body) != len(b) {
		t.Errorf("/static/ring.wav: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
}
