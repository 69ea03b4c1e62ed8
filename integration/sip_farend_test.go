package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Far-end behaviours of outbound calls (issue 11): ringback on a 180 without SDP, early media on
// a 183, and the far end's own re-INVITEs (codec change, session refresh, hold and resume).

// A 180 without SDP plays the generated ringback (440 + 480 Hz) to the dialling agent until it
// hangs up (CANCEL, which sipp checks).
func TestSIPOutboundRingback(t *testing.T) {
	s, phone, port := outboundEnv(t)
	uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 15*time.Second, "agent hears the ringback tone", func() bool {
		return phone.media.Hears(440) && phone.media.Hears(480)
	})
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
}

// A 183 with SDP plays the far end's early media (a 1700 Hz announcement from sipp's PCAP) to
// the agent; the 180 that follows it does not replace it with ringback.
func TestSIPOutboundEarlyMedia(t *testing.T) {
	s, phone, port := outboundEnv(t)
	uas := s.sippUAS(t, renderScenario(t, "uas_early_cancel.xml", map[string]any{"PCAP": writeTonePcap(t, 1700, 20)}), port)
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 15*time.Second, "agent hears the far end's early media", func() bool {
		return phone.media.Hears(1700) && !phone.media.Hears(440)
	})
	if countEvents(t, s.Server, "call_connected", callID) != 0 {
		t.Fatal("call_connected before any answer")
	}
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
}

// The far end of an answered outbound call re-INVITEs: to PCMA with Session-Expires (answered
// PCMA with the timer echoed), sendonly (answered recvonly: call_held with held_by "remote"),
// sendrecv (call_retrieved, held_by "remote"). Then audio goes both ways over A-law (the agent's
// tone back through sipp's echo), and the agent's hang-up sends BYE.
func TestSIPOutboundFarEndReInvites(t *testing.T) {
	s, phone, port := outboundEnv(t)
	uas := s.sippUAS(t, scenarioPath("uas_reinvite_hold.xml"), port, "-rtp_echo")
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 20*time.Second, "call_held then call_retrieved", func() bool {
		return countEvents(t, s.Server, "call_retrieved", callID) == 1
	})
	var seq []string
	evs, err := s.Store.Events(context.Background(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		var d struct {
			CallID string `json:"call_id"`
			UserID string `json:"user_id"`
			HeldBy string `json:"held_by"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.CallID == callID && (e.Name == "call_held" || e.Name == "call_retrieved") {
			if d.HeldBy != "remote" || d.UserID != "agent1" {
				t.Fatalf("%s %s: want held_by remote, user_id agent1", e.Name, e.Data)
			}
			seq = append(seq, e.Name)
		}
	}
	if len(seq) != 2 || seq[0] != "call_held" || seq[1] != "call_retrieved" {
		t.Fatalf("hold events %v, want call_held, call_retrieved", seq)
	}
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 || cs[0].Held || cs[0].State != "connected" {
		t.Fatalf("call after the far end resumed: %+v", cs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 900)
	rtctest.Eventually(t, 15*time.Second, "agent hears its tone back over A-law", func() bool { return phone.media.Hears(900) })
	cancel()
	wait()
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// An outbound call still ringing counts: Edge.Calls reports it and, on a trunk with max_calls 1,
// an inbound INVITE meanwhile is refused 503 with Retry-After and another agent's make_call
// fails with call_failed 503 (the sipp UAS would fail on a second INVITE); the agent's hang-up
// (CANCEL) frees the trunk.
func TestSIPRingingOutboundCountsAgainstMaxCalls(t *testing.T) {
	s, phone, port := outboundEnvTrunk(t, store.Trunk{MaxCalls: 1})
	uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 15*time.Second, "the ringing call counted", func() bool { return s.edge.Calls() == 1 })
	sc := renderScenario(t, "uac_refused.xml", map[string]any{"Code": 503, "Formats": "0", "RetryAfter": true})
	s.sipp(t, sc).wait(t, 30*time.Second)
	s.agentPhone(t, "agent2")
	second := s.makeCallAs(t, "agent2", "+15550124") // nothing is sent: the trunk is full
	rtctest.Eventually(t, 10*time.Second, "call_failed 503 for a dial over the full trunk", func() bool {
		return failedWith(t, s, second) == 503
	})
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// An offerless re-INVITE from the far end is answered with our offer (every law, sendrecv) and
// the ACK's SDP is applied as the answer: here sendonly, so the far end holds the call
// (call_held, held_by "remote").
func TestSIPOutboundOfferlessReInvite(t *testing.T) {
	s, phone, port := outboundEnv(t)
	uas := s.sippUAS(t, scenarioPath("uas_reinvite_offerless.xml"), port)
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 20*time.Second, "call_held by remote from the ACK's answer", func() bool {
		return heldBy(t, s, "call_held", callID) == "remote"
	})
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
}
