package integration

import (
	"testing"
)

// TestBrowserSoftphoneCall: two softphones. agent1 checks its microphone (level meter, device
// list), dials agent2's extension on the dial pad; agent2 sees the caller and answers; audio
// flows both ways; the timer runs; mute, hold and tones work; the device cannot change during the
// call and can again after agent2 hangs up.
func TestBrowserSoftphoneCall(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	p1 := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	for _, p := range []*tab{p1, p2} {
		p.waitPhone()
		p.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	}
	p1.waitFor("microphone granted", `document.getElementById('mic-state').textContent === 'granted'`, browserStep)
	p1.waitFor("a device listed", `document.getElementById('device').options.length >= 1`, browserStep)
	p1.waitFor("the level meter moves", `document.getElementById('level').value > 0`, browserStep)

	for _, k := range []string{"1", "0", "0", "2"} {
		p1.click(`#pad button[aria-label="` + k + `"]`)
	}
	var num string
	p1.eval(`document.getElementById('number').value`, &num)
	if num != "1002" {
		t.Errorf("dial pad typed %q", num)
	}
	p1.click("#btn-dial")
	p2.waitFor("incoming call", `!document.getElementById('incoming').hidden`, browserStep)
	if who := p2.text("#in-name"); who != "Agent One" {
		t.Errorf("caller shown as %q, want Agent One", who)
	}
	p2.click("#btn-answer")
	p1.waitFor("connected", `!document.getElementById('call').hidden && document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p1.audioFlows("agent1 hears agent2", ctiPC)
	p2.audioFlows("agent2 hears agent1", ctiPC)
	p1.waitFor("timer runs", `document.getElementById('call-timer').textContent !== '00:00'`, browserStep)
	p1.waitFor("device locked in a call", `document.getElementById('device').disabled`, browserStep)

	p1.click("#btn-mute")
	p1.waitFor("muted", `document.getElementById('btn-mute').getAttribute('aria-pressed') === 'true'`, browserStep)
	p1.click("#btn-mute")
	p1.waitFor("unmuted", `document.getElementById('btn-mute').getAttribute('aria-pressed') === 'false'`, browserStep)
	p2.click("#btn-hold")
	p2.waitFor("held", `document.getElementById('call-state').textContent === 'held'`, browserStep)
	p1.waitFor("held at the other end", `document.getElementById('call-state').textContent === 'held'`, browserStep)
	p2.click("#btn-retrieve")
	p1.waitFor("retrieved", `document.getElementById('call-state').textContent === 'connected'`, browserStep)
	p1.click(`#pad button[aria-label="hash"]`) // in a call the pad sends tones
	var tone string
	p1.eval(`CTI.sendDTMF(undefined, '5').then(() => 'sent', e => e.errCode)`, &tone)
	if tone != "sent" {
		t.Errorf("sendDTMF in a call: %s", tone)
	}
	if e := p1.text("#error"); e != "" {
		t.Errorf("softphone error: %s", e)
	}

	p2.click("#btn-hangup")
	p1.waitFor("call ended", `document.getElementById('call').hidden && CTI.getCalls().length === 0`, browserStep)
	p1.waitFor("device unlocked", `!document.getElementById('device').disabled`, browserStep)
	var label string
	p1.eval(`CTI.setMicrophone(document.getElementById('device').value).then(d => d.label)`, &label)
	if label == "" {
		t.Error("setMicrophone gave no track label")
	}
	p1.waitPhone()
	for _, p := range []*tab{p1, p2} {
		p.noCSPViolations()
	}
}
