package integration

import "testing"

// TestBrowserConsultPages: consult calls from the softphone page and from the demo CRM in
// Chromium, through the shim's Pega-named methods (docs/consult.md). agent1 answers a customer (a pion peer on /rtc),
// consults agent2 with the Consult button: its page lists both calls (the customer held), the
// shim reports the consult call as pyCallType CONSULT with consultOf, and agent2's page rings
// with it. Talk alternates between the calls; Complete transfer leaves agent1 with no call and
// agent2 on the customer's call.
func TestBrowserConsultPages(t *testing.T) {
	for _, page := range []string{"/softphone", "/demo/crm"} {
		t.Run(page[1:], func(t *testing.T) { browserConsult(t, page) })
	}
}

func browserConsult(t *testing.T, page string) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	p2 := s.agentTab(b, "softphone agent2", "/softphone", "agent2")
	p2.waitPhone()
	p1 := s.agentTab(b, page+" agent1", page, "agent1")
	p1.waitPhone()
	p1.click("#btn-ready")
	p1.waitFor("ready", `CTI.getState().status === 'ready'`, browserStep)

	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada", "phone": "+15550100"})
	primary := cust.expect("call", nil)["call_id"].(string)
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	if id := p1.ctiCall("alerting"); id != primary {
		t.Fatalf("agent1 alerted by %s, want %s", id, primary)
	}
	p1.click("#btn-answer")
	p1.ctiCall("connected")

	p2.click("#btn-ready")
	p2.waitFor("agent2 ready", `CTI.getState().status === 'ready'`, browserStep)
	p1.setValue("#transfer-to", "agent2")
	p1.click("#btn-consult")
	p1.waitFor("both calls listed", `!document.getElementById('consult').hidden && document.querySelectorAll('#consult-calls li').length === 2`, browserStep)
	p1.waitFor("the customer held", `document.querySelector('#consult-calls li[data-call-id="`+primary+`"]').dataset.state === 'held'`, browserStep)
	var cons struct {
		CallID, PyCallType, ConsultOf, State string
	}
	p1.eval(`(() => { const c = CTI.getCalls().find(c => c.consultOf); return c && {callID: c.callId, pyCallType: c.pyCallType, consultOf: c.consultOf, state: c.state}; })()`, &cons)
	if cons.PyCallType != "CONSULT" || cons.ConsultOf != primary || cons.CallID == "" {
		t.Fatalf("the consult call in the shim: %+v", cons)
	}
	if id := p2.ctiCall("alerting"); id != cons.CallID {
		t.Fatalf("agent2 alerted by %s, want the consult call %s", id, cons.CallID)
	}
	var typ string
	p2.eval(`CTI.getCalls().find(c => c.state === 'alerting').pyCallType`, &typ)
	if typ != "CONSULT" {
		t.Fatalf("agent2 sees the consult call as %s", typ)
	}
	p2.click("#btn-answer")
	p1.waitFor("the consult connected", `document.querySelector('#consult-calls li[data-call-id="`+cons.CallID+`"]').dataset.state === 'connected'`, browserStep)
	if v, err := s.Core.Call("demo", primary); err != nil || !v.Held || v.ConsultCall != cons.CallID {
		t.Fatalf("primary during the consult: %+v, %v", v, err)
	}

	// Talk on the customer: the consult goes on hold, and back
	p1.click(`#consult-calls li[data-call-id="` + primary + `"] button`)
	p1.waitFor("the consult held", `document.querySelector('#consult-calls li[data-call-id="`+cons.CallID+`"]').dataset.state === 'held'`, browserStep)
	p1.click(`#consult-calls li[data-call-id="` + cons.CallID + `"] button`)
	p1.waitFor("the customer held again", `document.querySelector('#consult-calls li[data-call-id="`+primary+`"]').dataset.state === 'held'`, browserStep)

	p1.click("#btn-consult-transfer")
	p1.waitFor("agent1 has no call", `CTI.getCalls().length === 0 && document.getElementById('consult').hidden`, browserStep)
	p2.waitFor("agent2 on the customer's call", `CTI.getCalls().some(c => c.callId === '`+primary+`' && c.state === 'connected')`, browserStep)
	if v, err := s.Core.Call("demo", primary); err != nil || len(v.Agents) != 1 || v.Agents[0] != "agent2" {
		t.Fatalf("primary after the transfer: %+v, %v", v, err)
	}
}
