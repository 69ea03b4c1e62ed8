package integration

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Blind transfer and conference of a call to a phone number (issue 11 item 6): an inbound SIP
// call (sipp UAC) answered by agent1 dials a new SIP leg over the trunk to a sipp UAS.

// xferCall answers an inbound SIP call at agent1 with a UAS on the trunk; it returns the
// server, the agent's signalling, the UAC run, the UAS port and the call id.
func xferCall(t *testing.T, opts ...func(*sip.Config)) (*sipServer, *sig, *sippRun, int, string) {
	t.Helper()
	s, phone, port := outboundEnv(t, opts...)
	phone.result("r1", "ready", nil)
	uac := s.sipp(t, renderScenario(t, "uac_ivr_agent_bye.xml", map[string]any{"PT": 0, "Codec": "PCMU"}), "-rtp_echo")
	ring := phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["user_id"] == "agent1"
	})
	callID := ring["event"].(map[string]any)["data"].(map[string]any)["call_id"].(string)
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	return s, phone, uac, port, callID
}

// sipLegs counts the record's sip legs and those that were answered.
func sipLegs(rec store.Call) (n, answered int) {
	for _, l := range rec.Legs {
		if l.Kind == "sip" {
			n++
			if l.AnsweredAt != nil {
				answered++
			}
		}
	}
	return n, answered
}

// Transfer to a number sipp answers: call_transferred, agent1 leaves the call at once (its
// calls list is empty while the call goes on), the record holds the new answered sip leg; the
// number hanging up ends the call (the caller gets BYE).
func TestSIPTransferToNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer_bye.xml"), port, "-rtp_echo")
	phone.result("r3", "transfer", map[string]any{"call_id": callID, "arg": "+15550123"})
	rtctest.Eventually(t, 15*time.Second, "call_transferred", func() bool {
		return countEvents(t, s.Server, "call_transferred", callID) == 1
	})
	if n := countEvents(t, s.Server, "call_disconnected", callID); n == 0 && len(s.Core.Calls("demo", "agent1")) != 0 {
		t.Fatalf("agent1 still on the call after the transfer: %+v", s.Core.Calls("demo", "agent1"))
	}
	uas.wait(t, 30*time.Second)
	uac.wait(t, 30*time.Second) // exits 0 only after its BYE
	rtctest.Eventually(t, 10*time.Second, "call_disconnected", func() bool {
		return countEvents(t, s.Server, "call_disconnected", callID) == 1
	})
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if n, up := sipLegs(rec); err != nil || n != 2 || up != 2 {
		t.Fatalf("record legs %+v (%v): want the caller's and the number's sip legs, both answered", rec.Legs, err)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// Conference to a number: party_added when sipp answers, its leg in the record; sipp hanging
// up leaves the agent with the caller, and the agent's hang-up ends the call.
func TestSIPConferenceToNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer_bye.xml"), port, "-rtp_echo")
	phone.result("r3", "conference", map[string]any{"call_id": callID, "arg": "+15550123"})
	rtctest.Eventually(t, 15*time.Second, "party_added", func() bool {
		return countEvents(t, s.Server, "party_added", callID) == 1
	})
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 15*time.Second, "party_removed", func() bool {
		return countEvents(t, s.Server, "party_removed", callID) == 1
	})
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 || cs[0].CallID != callID {
		t.Fatalf("agent1's calls after the number left: %+v", cs)
	}
	phone.result("r4", "hangup", map[string]any{"call_id": callID})
	uac.wait(t, 30*time.Second)
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if n, up := sipLegs(rec); err != nil || n != 2 || up != 2 {
		t.Fatalf("record legs %+v (%v): want the caller's and the number's sip legs, both answered", rec.Legs, err)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// A number that refuses (486, 404, 603): call_failed with that code, and the call goes on as it
// was with agent1 on it; agent1's hang-up then ends it.
func TestSIPTransferRefused(t *testing.T) {
	for _, tc := range []struct {
		op   string
		code int
	}{{"transfer", 486}, {"transfer", 404}, {"transfer", 408}, {"conference", 603}} {
		t.Run(tc.op+"-"+strconv.Itoa(tc.code), func(t *testing.T) {
			s, phone, uac, port, callID := xferCall(t)
			uas := s.sippUAS(t, renderScenario(t, "uas_refuse.xml", map[string]any{"Code": tc.code}), port)
			phone.result("r3", tc.op, map[string]any{"call_id": callID, "arg": "+15550123"})
			uas.wait(t, 30*time.Second)
			rtctest.Eventually(t, 10*time.Second, "call_failed "+strconv.Itoa(tc.code), func() bool {
				return failedWith(t, s, callID) == tc.code
			})
			if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 || cs[0].State != "connected" || len(cs[0].Agents) != 1 {
				t.Fatalf("call after the refusal: %+v", cs)
			}
			if countEvents(t, s.Server, "call_transferred", callID)+countEvents(t, s.Server, "party_added", callID) != 0 {
				t.Fatal("call_transferred or party_added for a refused number")
			}
			phone.result("r4", "hangup", map[string]any{"call_id": callID})
			uac.wait(t, 30*time.Second)
			rec, err := s.Store.Call(context.Background(), "demo", callID)
			if n, up := sipLegs(rec); err != nil || n != 2 || up != 1 {
				t.Fatalf("record legs %+v (%v): want the caller's answered leg and the refused one", rec.Legs, err)
			}
		})
	}
}

// The agent hanging up at once, while the transfer's number still rings, ends the call and
// cancels the new leg (sipp exits 0 only after the CANCEL); the edge keeps no call.
func TestSIPTransferCancelledByHangUp(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
	phone.result("r3", "transfer", map[string]any{"call_id": callID, "arg": "+15550123"})
	phone.result("r4", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
	uac.wait(t, 30*time.Second)
	if countEvents(t, s.Server, "call_transferred", callID) != 0 || countEvents(t, s.Server, "call_disconnected", callID) != 1 {
		t.Fatal("want no call_transferred and one call_disconnected")
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// A blind transfer to a number that rings and never answers: at the ring timeout the edge
// cancels it (sipp checks the CANCEL), call_failed says 408, and the caller is still talking
// with agent1 (the agent's tone comes back through the caller's RTP echo); the call then ends
// normally.
func TestSIPTransferNoAnswer(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t, func(c *sip.Config) { c.RingTimeout = 2 * time.Second })
	uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
	phone.result("r3", "transfer", map[string]any{"call_id": callID, "arg": "+15550123"})
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "call_failed 408", func() bool { return failedWith(t, s, callID) == 408 })
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 || cs[0].State != "connected" || len(cs[0].Agents) != 1 {
		t.Fatalf("call after the unanswered transfer: %+v", cs)
	}
	phone.media.ClearAudio()
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 1100)
	rtctest.Eventually(t, 15*time.Second, "agent and caller talk again", func() bool { return phone.media.Hears(1100) })
	cancel()
	wait()
	if countEvents(t, s.Server, "call_transferred", callID) != 0 {
		t.Fatal("call_transferred for an unanswered number")
	}
	phone.result("r4", "hangup", map[string]any{"call_id": callID})
	uac.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// Remove party on a number in a conference: the agent drops it by its party id (the leg id
// party_added gave); the number gets BYE (sipp's UAS scenario ends only after it), party_removed
// follows, and the call goes on with the agent and the caller.
func TestSIPConferenceRemoveNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer.xml"), port, "-rtp_echo")
	phone.result("r3", "conference", map[string]any{"call_id": callID, "arg": "+15550123"})
	var partyID string
	rtctest.Eventually(t, 15*time.Second, "party_added", func() bool {
		evs, err := s.Store.Events(context.Background(), "demo", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			var d struct {
				CallID  string `json:"call_id"`
				PartyID string `json:"party_id"`
			}
			if e.Name == "party_added" && json.Unmarshal(e.Data, &d) == nil && d.CallID == callID {
				partyID = d.PartyID
			}
		}
		return partyID != ""
	})
	phone.result("r4", "removeparty", map[string]any{"call_id": callID, "arg": partyID})
	uas.wait(t, 30*time.Second) // exits 0 only after the adapter's BYE
	rtctest.Eventually(t, 15*time.Second, "party_removed", func() bool {
		return countEvents(t, s.Server, "party_removed", callID) == 1
	})
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 || cs[0].CallID != callID {
		t.Fatalf("agent1's calls after removing the number: %+v", cs)
	}
	// Gone: a second removal is refused, and the call is unchanged.
	phone.send(map[string]any{"type": "command", "request_id": "r5", "command": "removeparty", "call_id": callID, "arg": partyID})
	phone.expect("error", func(m map[string]any) bool { return m["request_id"] == "r5" })
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 1 {
		t.Fatalf("a refused removal changed the call: %+v", cs)
	}
	phone.result("r6", "hangup", map[string]any{"call_id": callID})
	uac.wait(t, 30*time.Second)
}
