package integration

import (
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// hiddenWithNotifications makes the page believe it is hidden and records the desktop
// notifications it shows (a stand-in for the browser's Notification with permission granted).
const hiddenWithNotifications = `(() => {
  Object.defineProperty(document, 'hidden', { get: () => !window.__visible });
  window.__notes = [];
  window.Notification = class { constructor(t, o) { window.__notes.push({ title: t, body: o && o.body }); } close() { window.__notes.closed = true; } };
  window.Notification.permission = 'granted';
  window.Notification.requestPermission = () => Promise.resolve('granted');
})();`

// ringing: the ringer element plays the generated ringtone and its time moves.
const ringing = `(() => { const a = document.querySelector('audio[data-cti-ringer]'); return a && a.src.endsWith('/static/ring.wav') && !a.paused && a.currentTime > 0; })()`

// TestBrowserRinging (issue 14 item 1): a call to agent2 rings: the generated ringtone plays in the
// tab that holds the audio, the hidden tab shows a desktop notification, the title flashes, focus
// is on Answer and a countdown runs to the ring timeout. Answering in agent2's other tab (the CRM)
// stops all of it in the softphone at once.
func TestBrowserRinging(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	phone := b.newTabWith("softphone agent2", s.URL+"/softphone#token="+s.token(t, auth.RoleAgent, "agent2"), hiddenWithNotifications)
	phone.waitFor("signed in", `window.CTI && CTI.getState().pyLinkState === 'CONNECTED'`, browserStep)
	phone.waitPhone()
	phone.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	crm := s.agentTab(b, "crm agent2", "/demo/crm", "agent2")
	caller := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	caller.waitPhone()
	caller.setValue("#number", "1002")
	caller.click("#btn-dial")

	phone.waitFor("incoming", `!document.getElementById('incoming').hidden`, browserStep)
	phone.waitFor("the ringtone plays", ringing, browserStep)
	phone.waitFor("title flashes", `document.title.startsWith('📞 Call from Agent One')`, browserStep)
	phone.waitFor("focus on Answer", `document.activeElement && document.activeElement.id === 'btn-answer'`, browserStep)
	phone.waitFor("countdown", `/^Rings for \d+ s more$/.test(document.getElementById('ring-countdown').textContent)`, browserStep)
	phone.waitFor("notification", `window.__notes.length === 1 && window.__notes[0].body.startsWith('Agent One')`, browserStep)

	crm.waitFor("alerting in the CRM", `!document.getElementById('btn-answer').disabled && !document.getElementById('call').hidden`, browserStep)
	if !strings.HasPrefix(crm.text("#ring-countdown"), "Rings for") {
		t.Errorf("CRM countdown %q", crm.text("#ring-countdown"))
	}
	crm.click("#btn-answer")
	phone.waitFor("alerting stopped in the softphone", `document.getElementById('incoming').hidden && !(`+ringing+`) && !document.title.startsWith('📞') && window.__notes.closed && document.getElementById('ring-countdown').textContent === ''`, browserStep)
	for _, tb := range []*tab{phone, crm, caller} {
		tb.noCSPViolations()
	}
}
