package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// customerPC is the customer widget's peer connection.
const customerPC = `(window.CTIWebCall && CTIWebCall.instances[0] && CTIWebCall.instances[0].pc)`

// startWebCall opens the demo customer page, calls, and waits for the IVR.
func (s *rtcServer) startWebCall(b *browser, name, phone string) *tab {
	b.t.Helper()
	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.setValue(".ctiw input[autocomplete=name]", name)
	cust.setValue(".ctiw input[autocomplete=tel]", phone)
	cust.click(".ctiw-call")
	cust.waitFor("the IVR", `document.querySelector('.ctiw').dataset.state === 'ivr'`, browserStep)
	return cust
}

// TestBrowserWebCallEndToEnd: a customer calls from the widget and picks the support queue by
// DTMF; agent1's demo CRM tab pops the caller card and answers; audio flows both ways; hold and
// retrieve; a blind transfer rings agent2's softphone tab, which answers and hangs up; the call
// record is complete. It also measures the screen pop's latency.
func TestBrowserWebCallEndToEnd(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")

	phone2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	phone2.waitPhone()
	phone2.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)

	crm := s.agentTab(b, "crm agent1", "/demo/crm", "agent1")
	crm.waitPhone()
	crm.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	crm.click("#btn-ready")
	crm.waitFor("ready", `CTI.getState().status === 'ready'`, browserStep)

	crm.eval(`CTI.on('raw', e => { if (e.event === 'incoming_call' && e.data.user_id) window.__incomingAt = Date.now(); }), 0`, nil)
	cust := s.startWebCall(b, "Ada", "+15550100")
	cust.click(`.ctiw [data-digit="2"]`)
	cust.waitFor("queued or ringing", `['queued','ringing'].includes(document.querySelector('.ctiw').dataset.state)`, browserStep)

	// The CRM pops the caller card: directory match by number, IVR variables.
	crm.waitFor("screen pop", `!document.getElementById('pop').hidden && document.getElementById('pop').dataset.callId`, browserStep)
	var pop struct {
		CallID, EventTS, RenderedAt, Customer, Vars string
	}
	crm.eval(`(() => { const p = document.getElementById('pop'); return {callID: p.dataset.callId, eventTS: p.dataset.eventTs,
	  renderedAt: p.dataset.renderedAt, customer: document.getElementById('pop-customer').textContent, vars: document.getElementById('pop-vars').textContent}; })()`, &pop)
	ts, err := time.Parse(time.RFC3339Nano, pop.EventTS)
	if err != nil {
		t.Fatalf("screen pop event ts %q: %v", pop.EventTS, err)
	}
	var rendered int64
	crm.eval(`Number(document.getElementById('pop').dataset.renderedAt)`, &rendered)
	var received int64
	crm.eval(`window.__incomingAt || 0`, &received)
	lat := time.UnixMilli(rendered).Sub(ts)
	t.Logf("screen pop rendered %d ms after the server's incoming_call (event ts %s): received by the page after %d ms, rendered %d ms later",
		lat.Milliseconds(), pop.EventTS, time.UnixMilli(received).Sub(ts).Milliseconds(), rendered-received)
	// The target is 100 ms (measured 3-23 ms here). One sample on a CI machine that also runs
	// the media tests can wait for the CPU, so the test fails only on a delay no scheduling
	// hiccup explains (a pop that waits for polling or a blocked page); the figure is logged.
	if lat >= 100*time.Millisecond {
		t.Logf("screen pop %v is over the 100 ms target on this run", lat)
	}
	if lat >= time.Second {
		t.Errorf("screen pop took %v after incoming_call (target 100 ms)", lat)
	}
	if pop.Customer != "Ada Lovelace" || !strings.Contains(pop.Vars, "ivr_choice2") || !strings.Contains(pop.Vars, "queuesupport") {
		t.Errorf("screen pop card: customer %q, variables %q", pop.Customer, pop.Vars)
	}
	callID := pop.CallID

	crm.click("#btn-answer")
	cust.waitFor("connected", `document.querySelector('.ctiw').dataset.state === 'connected'`, browserStep)
	crm.waitFor("connected", `(document.getElementById('call-state').textContent) === 'connected'`, browserStep)
	crm.audioFlows("agent hears the customer", ctiPC)
	cust.audioFlows("customer hears the agent", customerPC)

	crm.click("#btn-hold")
	cust.waitFor("held", `document.querySelector('.ctiw').dataset.state === 'held'`, browserStep)
	crm.waitFor("held in the CRM", `document.getElementById('call-state').textContent === 'held'`, browserStep)
	crm.click("#btn-retrieve")
	cust.waitFor("retrieved", `document.querySelector('.ctiw').dataset.state === 'connected'`, browserStep)

	crm.setValue("#transfer-to", "agent2")
	crm.click("#btn-transfer")
	phone2.waitFor("incoming call", `!document.getElementById('incoming').hidden`, browserStep)
	if name := phone2.text("#in-name"); name != "Ada" {
		t.Errorf("softphone caller %q, want Ada", name)
	}
	crm.waitFor("the call left the CRM", `document.getElementById('call').hidden && CTI.getCalls().length === 0`, browserStep)
	phone2.click("#btn-answer")
	phone2.waitFor("in call", `!document.getElementById('call').hidden`, browserStep)
	cust.waitFor("connected to agent2", `document.querySelector('.ctiw').dataset.state === 'connected'`, browserStep)
	phone2.audioFlows("agent2 hears the customer", ctiPC)
	cust.audioFlows("customer hears agent2", customerPC)

	phone2.click("#btn-hangup")
	cust.waitFor("ended", `document.querySelector('.ctiw').dataset.state === 'ended'`, browserStep)
	phone2.waitFor("idle", `document.getElementById('call').hidden && CTI.getCalls().length === 0`, browserStep)

	var rec struct {
		CallID     string            `json:"call_id"`
		Source     string            `json:"source"`
		Phone      string            `json:"phone"`
		Queue      string            `json:"queue"`
		UserID     string            `json:"user_id"`
		AnsweredAt *string           `json:"answered_at"`
		EndedAt    *string           `json:"ended_at"`
		DurationMS *int64            `json:"duration_ms"`
		EndedBy    string            `json:"ended_by"`
		Variables  map[string]string `json:"variables"`
		Legs       []struct {
			Kind    string  `json:"kind"`
			UserID  string  `json:"user_id"`
			EndedAt *string `json:"ended_at"`
		} `json:"legs"`
		Parties []struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		} `json:"parties"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code := s.apiJSON(t, "GET", "/calls/"+callID, admin, "", &rec); code == 200 && rec.EndedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call record %s not complete: %+v", callID, rec)
		}
		time.Sleep(100 * time.Millisecond)
	}
	roles := map[string]bool{}
	for _, p := range rec.Parties {
		roles[p.UserID+":"+p.Role] = true
	}
	legs := map[string]bool{}
	for _, l := range rec.Legs {
		if l.EndedAt == nil {
			t.Errorf("leg %s/%s not ended", l.Kind, l.UserID)
		}
		legs[l.Kind+":"+l.UserID] = true
	}
	if rec.Source != "webrtc" || rec.Phone != "+15550100" || rec.Queue != "support" || rec.UserID != "agent2" ||
		rec.AnsweredAt == nil || rec.DurationMS == nil || rec.EndedBy != "agent" || rec.Variables["ivr_choice"] != "2" ||
		!roles[":caller"] || !roles["agent1:agent"] || !roles["agent2:transfer"] || !roles["agent2:agent"] || !legs["customer:"] || !legs["agent:agent1"] || !legs["agent:agent2"] {
		t.Errorf("call record incomplete: %+v", rec)
	}
	for _, tb := range []*tab{crm, phone2, cust} {
		tb.noCSPViolations()
	}
}
