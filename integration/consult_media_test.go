package integration

// Consult calls end to end (docs/consult.md): a real server, three agents whose phones are real
// pion peers on /rtc, a web customer, each party speaking its own tone. Tone detection proves
// who hears whom at each step: the held customer never hears the consult, the consulted agent
// never hears the customer before the completion, and after it the parties the completion
// joined hear each other. The consult is driven through /rtc (the shim's path) and REST (the
// integrators' twins).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Each party's tone.
const (
	toneCust   = 700.0
	toneAgent1 = 1300.0
	toneAgent2 = 1100.0
	toneAgent3 = 1500.0
)

// consultRig is the server with agent1..3 on phones and a customer call answered by agent1.
type consultRig struct {
	s      *rtcServer
	phones map[string]*sig
	cust   *sig
	callID string
	integ  string // an integrator token
	stop   context.CancelFunc
}

func newConsultRig(t *testing.T) *consultRig {
	t.Helper()
	s := newRTCServer(t)
	ctx := context.Background()
	if _, err := s.Store.PutUser(ctx, store.User{Account: "demo", ID: "agent3", Name: "Agent Three", Extension: "1003",
		Queues: []string{"sales"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accounts.Update(ctx, "demo", []byte(`{"wrap_up_seconds":0}`)); err != nil {
		t.Fatal(err)
	}
	r := &consultRig{s: s, phones: map[string]*sig{}, integ: s.token(t, auth.RoleIntegrator, "crm")}
	for _, u := range []string{"agent1", "agent2", "agent3"} {
		p, _, err := s.dial(t, s.token(t, auth.RoleAgent, u), "")
		if err != nil {
			t.Fatal(err)
		}
		p.expect("welcome", nil)
		p.negotiate(map[string]any{"mic": true})
		p.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
		r.phones[u] = p
	}
	r.phones["agent1"].result("r0", "ready", nil)
	_, tok := s.customerToken(t, "https://shop.example")
	cust, _, err := s.dial(t, tok, "https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada", "phone": "+15550100"})
	r.cust, r.callID = cust, cust.expect("call", nil)["call_id"].(string)
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	r.phones["agent1"].expect("event", consultEvent("incoming_call", r.callID, "agent1"))
	r.phones["agent1"].result("r1", "answer", map[string]any{"call_id": r.callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "connected" })

	sctx, stop := context.WithCancel(ctx)
	var waits []func()
	for c, f := range map[*rtctest.Client]float64{cust.media: toneCust, r.phones["agent1"].media: toneAgent1,
		r.phones["agent2"].media: toneAgent2, r.phones["agent3"].media: toneAgent3} {
		waits = append(waits, c.Speak(sctx, f))
	}
	r.stop = func() {
		stop()
		for _, w := range waits {
			w()
		}
	}
	t.Cleanup(r.stop)
	r.hears(t, "customer", cust.media, toneAgent1)
	r.hears(t, "agent1", r.phones["agent1"].media, toneCust)
	return r
}

// consultEvent matches the /rtc event frame name about callID for user uid ("" any).
func consultEvent(name, callID, uid string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		ev, _ := m["event"].(map[string]any)
		d, _ := ev["data"].(map[string]any)
		return ev["event"] == name && d["call_id"] == callID && (uid == "" || d["user_id"] == uid)
	}
}

// hears waits until c hears freq.
func (r *consultRig) hears(t *testing.T, who string, c *rtctest.Client, freq float64) {
	t.Helper()
	c.ClearAudio()
	rtctest.Eventually(t, 10*time.Second, fmt.Sprintf("%s hears %.0f Hz", who, freq), func() bool { return c.Hears(freq) })
}

// neverHears checks ten consecutive 200 ms windows of what c receives: none carries any of
// freqs. The windows are paced by the packets the customer receives (hold audio or a relay,
// never nothing), counted rather than slept; c itself may receive nothing (silence).
func (r *consultRig) neverHears(t *testing.T, who string, c *rtctest.Client, freqs ...float64) {
	t.Helper()
	c.ClearAudio()
	pace := r.cust.media
	start := pace.Packets()
	for i := uint64(1); i <= 10; i++ {
		rtctest.Eventually(t, 10*time.Second, who+": the customer receives audio", func() bool { return pace.Packets() >= start+10*i })
		for _, f := range freqs {
			if c.Hears(f) {
				t.Fatalf("%s hears %.0f Hz (window %d)", who, f, i)
			}
		}
	}
}

// rest posts body to /api/v1 path with the integrator token and decodes the answer into out.
func (r *consultRig) rest(t *testing.T, path string, body any, out any) int {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest("POST", r.s.URL+"/api/v1"+path, &buf)
	req.Header.Set("Authorization", "Bearer "+r.integ)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
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

// TestConsultTransferRealMedia: agent1 consults agent2 over /rtc (the customer hears hold audio
// and neither agent), alternates to the customer and back, then completes as a transfer: the
// customer and agent2 hear each other and agent1 hears neither.
func TestConsultTransferRealMedia(t *testing.T) {
	r := newConsultRig(t)
	p1, p2 := r.phones["agent1"], r.phones["agent2"]
	vs := &voxServer{Server: r.s.Server, URL: r.s.URL, client: &http.Client{Transport: &http.Transport{}}, reg: r.s.Schemas}
	t.Cleanup(vs.client.CloseIdleConnections)
	vtok, jti := vs.mint(t, "demo", auth.RoleIntegrator, "crm")
	vox := vs.connect(t, "demo", jti, vtok, -1)
	vox.sync()
	p2.result("r2", "ready", nil)
	res := p1.result("c1", "consult", map[string]any{"call_id": r.callID, "arg": "agent2"})
	cid := res["data"].(map[string]any)["call_id"].(string)
	if res["data"].(map[string]any)["consult_of"] != r.callID {
		t.Fatalf("consult result %v", res)
	}
	ring := p2.expect("event", consultEvent("incoming_call", cid, "agent2"))
	if d := ring["event"].(map[string]any)["data"].(map[string]any); d["consult_of"] != r.callID {
		t.Fatalf("incoming_call of the consult %v", d)
	}
	r.neverHears(t, "held customer while the consult rings", r.cust.media, toneAgent1, toneAgent2)
	p2.result("a2", "answer", map[string]any{"call_id": cid})

	r.hears(t, "agent1 on the consult", p1.media, toneAgent2)
	r.hears(t, "agent2 on the consult", p2.media, toneAgent1)
	rtctest.Eventually(t, 10*time.Second, "hold audio at the customer", r.cust.media.Loud)
	r.neverHears(t, "held customer during the consult", r.cust.media, toneAgent1, toneAgent2)
	r.neverHears(t, "agent2 before the completion", p2.media, toneCust)

	// alternate: back to the customer (the consult is held), then to agent2 again
	p1.result("h1", "retrieve", map[string]any{"call_id": r.callID})
	r.hears(t, "customer after alternating", r.cust.media, toneAgent1)
	r.hears(t, "agent1 after alternating", p1.media, toneCust)
	r.neverHears(t, "agent2 on the held consult", p2.media, toneAgent1, toneCust)
	p1.result("h2", "retrieve", map[string]any{"call_id": cid})
	r.hears(t, "agent1 back on the consult", p1.media, toneAgent2)
	r.neverHears(t, "customer held again", r.cust.media, toneAgent1, toneAgent2)

	p1.result("x1", "consult_transfer", map[string]any{"call_id": r.callID})
	r.hears(t, "customer after the transfer", r.cust.media, toneAgent2)
	r.hears(t, "agent2 after the transfer", p2.media, toneCust)
	r.neverHears(t, "agent1 after the transfer", p1.media, toneCust, toneAgent2)
	r.neverHears(t, "customer after the transfer", r.cust.media, toneAgent1)

	// the CTI WebSocket saw the consult call's events with consult_of, and the completion
	seen := map[string]frame{}
	vox.until(vs, "the consult's call_disconnected", map[string]bool{}, func(f frame) bool {
		id, _ := f.field("call_id").(string)
		if id == cid || id == r.callID {
			seen[f.Event+" "+map[bool]string{true: "consult", false: "primary"}[id == cid]] = f
		}
		return f.Event == "call_disconnected" && id == cid
	})
	for _, name := range []string{"outgoing_call", "call_connected", "call_disconnected"} {
		if f, ok := seen[name+" consult"]; !ok || f.field("consult_of") != r.callID {
			t.Fatalf("vox %s of the consult call: %s", name, f.raw)
		}
	}
	if f := seen["call_transferred primary"]; f.field("from_user_id") != "agent1" || f.field("to_user_id") != "agent2" {
		t.Fatalf("vox call_transferred: %s", f.raw)
	}
	if f := seen["call_held primary"]; f.field("user_id") != "agent1" {
		t.Fatalf("vox call_held of the primary: %s", f.raw)
	}
	rec, err := r.s.Store.Call(context.Background(), "demo", cid)
	if err != nil || rec.EndReason != "consult_transferred" {
		t.Fatalf("consult call record %+v, %v", rec, err)
	}
	if v, err := r.s.Core.Call("demo", r.callID); err != nil || len(v.Agents) != 1 || v.Agents[0] != "agent2" || v.Held {
		t.Fatalf("the primary after the transfer: %+v, %v", v, err)
	}
}

// TestConsultConferenceAndCancelREST: an integrator drives the consult over REST: a consult to
// the sales queue (agent3 answers) is cancelled (the customer hears agent1 again, never agent3);
// a consult to agent2 completes as a conference, after which all three hear both others. Bad
// input gets its specific error and changes nothing.
func TestConsultConferenceAndCancelREST(t *testing.T) {
	r := newConsultRig(t)
	p1, p2, p3 := r.phones["agent1"], r.phones["agent2"], r.phones["agent3"]
	var prob struct{ Code, Detail string }
	if code := r.rest(t, "/calls/"+r.callID+"/consult/transfer", nil, &prob); code != 409 || prob.Code != "no_consult" {
		t.Fatalf("transfer with no consult: %d %+v", code, prob)
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult", map[string]any{"destination": "agent3", "user_id": "agent2"}, &prob); code != 403 {
		t.Fatalf("consult for an agent not on the call: %d %+v", code, prob)
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult", map[string]any{"destination": "nowhere-at-all"}, &prob); code != 404 {
		t.Fatalf("consult to an unknown destination: %d %+v", code, prob)
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult", map[string]any{"destination": "a b"}, &prob); code != 422 {
		t.Fatalf("consult to a malformed destination: %d %+v", code, prob)
	}
	if v, _ := r.s.Core.Call("demo", r.callID); v.Held || v.ConsultCall != "" {
		t.Fatalf("bad input changed the call: %+v", v)
	}
	r.hears(t, "customer after the refusals", r.cust.media, toneAgent1)

	p3.result("r3", "ready", nil)
	var created struct {
		CallID    string `json:"call_id"`
		ConsultOf string `json:"consult_of"`
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult", map[string]any{"destination": "sales"}, &created); code != 201 || created.ConsultOf != r.callID {
		t.Fatalf("consult to the queue: %d %+v", code, created)
	}
	p3.expect("event", consultEvent("incoming_call", created.CallID, "agent3"))
	p3.result("a3", "answer", map[string]any{"call_id": created.CallID})
	r.hears(t, "agent1 on the queue consult", p1.media, toneAgent3)
	r.neverHears(t, "held customer", r.cust.media, toneAgent1, toneAgent3)
	if code := r.rest(t, "/calls/"+created.CallID+"/consult/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	r.hears(t, "customer after the cancel", r.cust.media, toneAgent1)
	r.neverHears(t, "customer after the cancel", r.cust.media, toneAgent3)

	p2.result("r2", "ready", nil)
	if code := r.rest(t, "/calls/"+r.callID+"/consult", map[string]any{"destination": "1002", "user_id": "agent1"}, &created); code != 201 {
		t.Fatalf("consult to agent2's extension: %d", code)
	}
	p2.expect("event", consultEvent("incoming_call", created.CallID, "agent2"))
	p2.result("a2", "answer", map[string]any{"call_id": created.CallID})
	r.hears(t, "agent2 on the consult", p2.media, toneAgent1)
	r.neverHears(t, "agent2 before the conference", p2.media, toneCust)
	var live struct {
		Agents []string
		Held   bool
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult/conference", map[string]any{}, &live); code != 200 || len(live.Agents) != 2 || live.Held {
		t.Fatalf("conference: %d %+v", code, live)
	}
	for _, c := range []struct {
		who   string
		cl    *rtctest.Client
		hears []float64
	}{{"customer", r.cust.media, []float64{toneAgent1, toneAgent2}}, {"agent1", p1.media, []float64{toneCust, toneAgent2}},
		{"agent2", p2.media, []float64{toneCust, toneAgent1}}} {
		for _, f := range c.hears {
			r.hears(t, c.who+" in the conference", c.cl, f)
		}
	}
	if code := r.rest(t, "/calls/"+r.callID+"/consult/cancel", nil, &prob); code != 409 || prob.Code != "no_consult" {
		t.Fatalf("cancel after the conference: %d %+v", code, prob)
	}
	// the call records link the primary and its consult calls
	var prec, crec struct {
		ConsultOf string   `json:"consult_of"`
		Consults  []string `json:"consult_calls"`
		EndReason string   `json:"end_reason"`
	}
	if code := r.s.apiJSON(t, "GET", "/calls/"+r.callID, r.integ, "", &prec); code != 200 || len(prec.Consults) != 2 || prec.Consults[1] != created.CallID {
		t.Fatalf("primary record: %d %+v", code, prec)
	}
	if code := r.s.apiJSON(t, "GET", "/calls/"+created.CallID, r.integ, "", &crec); code != 200 || crec.ConsultOf != r.callID || crec.EndReason != "consult_conferenced" {
		t.Fatalf("consult record: %d %+v", code, crec)
	}
}
