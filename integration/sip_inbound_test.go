package integration

import (
	"context"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// A caller on a trunk (sipp) reaches the IVR, picks support with SIP INFO DTMF, rings agent1's
// WebRTC phone, who answers; the agent's tone reaches sipp and comes back through sipp's RTP
// echo (audio both ways through the RTP leg); the agent hangs up and sipp gets the BYE.
// The A-law case is a PCMA-only trunk: the law is translated at the RTP leg both ways.
func TestSIPInboundCallThroughIVRToAgent(t *testing.T) {
	for _, law := range []map[string]any{{"PT": 0, "Codec": "PCMU"}, {"PT": 8, "Codec": "PCMA"}} {
		t.Run(law["Codec"].(string), func(t *testing.T) { inboundCallToAgent(t, law) })
	}
}

func inboundCallToAgent(t *testing.T, law map[string]any) {
	s := newSIPServer(t, store.Trunk{Codecs: []string{law["Codec"].(string)}})
	phone, _, err := s.dial(t, s.token(t, auth.RoleAgent, "agent1"), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.expect("snapshot", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)

	run := s.sipp(t, renderScenario(t, "uac_ivr_agent_bye.xml", law), "-rtp_echo")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp output:\n%s", run.out.String())
			recs, _, _ := s.Store.Calls(context.Background(), "demo", store.CallFilter{})
			for _, r := range recs {
				t.Logf("call record %s: %s by %s", r.ID, r.EndReason, r.EndedBy)
			}
			evs, _ := s.Store.Events(context.Background(), "demo", 0, 200)
			for _, e := range evs {
				t.Logf("event %s %s", e.Name, e.Data)
			}
		}
	})
	ring := phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["user_id"] == "agent1"
	})
	d := ring["event"].(map[string]any)["data"].(map[string]any)
	if d["source"] != "sip" || d["phone"] != "+15550999" || d["display_name"] != "Grace Hopper" || d["queue"] != "support" {
		t.Fatalf("incoming_call %v", d)
	}
	callID := d["call_id"].(string)
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 1300)
	rtctest.Eventually(t, 15*time.Second, "agent hears own tone echoed by sipp through the SIP leg",
		func() bool { return phone.media.Hears(1300) })
	cancel()
	wait()
	phone.result("r3", "hangup", map[string]any{"call_id": callID})
	run.wait(t, 30*time.Second) // sipp exits 0 only after it received the BYE
	if n := countEvents(t, s.Server, "call_disconnected", callID); n != 1 {
		t.Fatalf("%d call_disconnected events, want 1", n)
	}
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if err != nil || rec.Source != "sip" || rec.Variables["ivr_choice"] != "2" {
		t.Fatalf("call record: %+v %v", rec, err)
	}
	if l := sipLeg(rec); l == nil || l.SIPStatus != 200 || l.SIPCallID == "" {
		t.Fatalf("call record legs %+v: want a sip leg with its Call-ID and 200", rec.Legs)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// Every refusal is exact: unknown number 404, unknown source 403, no common codec 488, a trunk
// with credentials 401 (digest challenge), trunk at capacity 503.
func TestSIPRefusals(t *testing.T) {
	cases := []struct {
		name    string
		trunk   store.Trunk
		service string
		formats string
		code    int
	}{
		{"unknown number", store.Trunk{}, "+15550111", "0", 404},
		{"unknown source", store.Trunk{Host: "192.0.2.10"}, "+15550100", "0", 403},
		{"no common codec", store.Trunk{Codecs: []string{"PCMA"}}, "+15550100", "0 18", 488},
		{"digest challenge", store.Trunk{Username: "acme", Password: "pw"}, "+15550100", "0", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSIPServer(t, c.trunk)
			sc := renderScenario(t, "uac_refused.xml", map[string]any{"Code": c.code, "Formats": c.formats})
			args := []string{"-s", c.service}
			run := s.sipp(t, sc, args...)
			run.wait(t, 30*time.Second)
			if n := s.edge.Calls(); n != 0 {
				t.Fatalf("%d calls left after a refusal", n)
			}
		})
	}
}

// A carrier that never sets the Marker bit still drives the IVR by RFC 4733 (a real sipp playing
// a PCAP with the bit cleared); hold and retrieve re-INVITEs are answered recvonly then sendrecv
// (sipp checks the bodies); the caller's BYE ends the call with one call_disconnected.
func TestSIPRFC4733WithoutMarkerHoldAndCallerBye(t *testing.T) {
	s := newSIPServer(t, store.Trunk{})
	run := s.sipp(t, renderScenario(t, "uac_rfc4733_hold_bye.xml", map[string]any{"PCAP": writeDTMFPcap(t, '2')}))
	run.wait(t, 60*time.Second)
	var recs []store.Call
	rtctest.Eventually(t, 15*time.Second, "the call's final record (the BYE's 200 goes out before the core ends the call)", func() bool {
		var err error
		recs, _, err = s.Store.Calls(context.Background(), "demo", store.CallFilter{})
		return err == nil && len(recs) == 1 && recs[0].EndedAt != nil
	})
	rec := recs[0]
	if rec.Source != "sip" || rec.Phone != "+15550888" || rec.Variables["ivr_choice"] != "2" || rec.EndedBy != "remote" {
		t.Fatalf("call record: %+v", rec)
	}
	if n := countEvents(t, s.Server, "call_disconnected", rec.ID); n != 1 {
		t.Fatalf("%d call_disconnected events, want 1", n)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// A trunk at max_calls answers the next INVITE 503 with Retry-After (sipp checks the header).
func TestSIPTrunkAtCapacity(t *testing.T) {
	s := newSIPServer(t, store.Trunk{MaxCalls: 1})
	first := s.sipp(t, renderScenario(t, "uac_ivr_agent_bye.xml", map[string]any{"PT": 0, "Codec": "PCMU"}))
	rtctest.Eventually(t, 15*time.Second, "first call up", func() bool { return s.edge.Calls() == 1 })
	sc := renderScenario(t, "uac_refused.xml", map[string]any{"Code": 503, "Formats": "0", "RetryAfter": true})
	s.sipp(t, sc).wait(t, 30*time.Second)
	if n := s.edge.Calls(); n != 1 {
		t.Fatalf("%d calls after the refusal, want the first one only", n)
	}
	_ = first // ended by the test's cleanup (sipp killed, edge hangs up on shutdown)
}
