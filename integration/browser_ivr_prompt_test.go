package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserIVRPromptEditor: in the admin console's IVR editor, text over 500 characters is
// refused in plain words before anything is generated; a greeting typed and generated with a
// chosen voice is spoken by the server, becomes the IVR greeting, and plays in the page as a
// preview; the list shows it.
func TestBrowserIVRPromptEditor(t *testing.T) {
	browserTest(t)
	needEspeak(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	page := b.newTab("admin", s.URL+"/admin#token="+admin)
	page.waitFor("voices listed", `document.querySelectorAll('#p-voice option').length > 3`, browserStep)

	page.setValue("#p-text", strings.Repeat("Thank you. ", 50)) // 549 characters once trimmed
	page.waitFor("the counter says too many", `document.getElementById('p-count').textContent === '549 of 500 characters: 49 too many'`, browserStep)
	page.click("#p-generate")
	page.waitFor("too long refused", `document.getElementById('p-error').textContent !== ''`, browserStep)
	if msg := page.text("#p-error"); msg != "Prompt text: 549 characters is too long; at most 500. Shorten it by 49." {
		t.Fatalf("too-long message %q", msg)
	}
	var list struct{ Prompts []any }
	if s.apiJSON(t, "GET", "/prompts", admin, "", &list); len(list.Prompts) != 0 {
		t.Fatalf("a too-long text was generated: %+v", list)
	}

	page.setValue("#p-text", "Thank you for calling the demo line. Press 1 for sales.")
	page.eval(`(() => { document.getElementById('p-voice').value = 'en-gb'; return 0; })()`, nil)
	page.click("#p-generate")
	page.waitFor("generated", `document.getElementById('p-saved').textContent.startsWith('generated greeting (')`, browserStep)
	if page.text("#p-error") != "" {
		t.Fatalf("error after generating: %q", page.text("#p-error"))
	}
	// The preview: an audio element holding the server's WAV, of the prompt's length.
	page.waitFor("preview loaded", `(() => { const a = document.getElementById('p-player');
		return !a.hidden && a.src.startsWith('blob:') && a.getAttribute('data-prompt') === 'greeting' && a.duration > 2 && a.duration < 8; })()`, browserStep)
	var st struct {
		IVR struct{ Greeting string }
	}
	s.apiJSON(t, "GET", "/settings", admin, "", &st)
	if st.IVR.Greeting != "greeting" {
		t.Fatalf("ivr.greeting %q after generating with the box ticked", st.IVR.Greeting)
	}
	page.waitFor("listed as the greeting", `(() => { const r = document.querySelector('#prompts tr');
		return r && r.children[0].textContent === 'greeting (greeting)' && r.children[1].textContent === 'en-gb'; })()`, browserStep)
	var field string
	page.eval(`document.getElementById('s-greeting').value`, &field)
	if field != "greeting" {
		t.Fatalf("the IVR form's greeting field says %q", field)
	}

	// Deleting the greeting's prompt empties the list and puts the shipped welcome back.
	page.click(`#prompts button[aria-label="Delete prompt greeting"]`)
	page.waitFor("deleted", `document.querySelectorAll('#prompts tr').length === 0 &&
		document.getElementById('p-saved').textContent === 'deleted greeting; the greeting is welcome again'`, browserStep)
	if s.apiJSON(t, "GET", "/settings", admin, "", &st); st.IVR.Greeting != "welcome" {
		t.Fatalf("ivr.greeting %q after deleting its prompt", st.IVR.Greeting)
	}
	page.noCSPViolations()
}
