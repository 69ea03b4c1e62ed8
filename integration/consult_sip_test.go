package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Consult calls to a phone number over the SIP trunk (docs/consult.md): an inbound SIP call
// (sipp UAC) answered by agent1, who consults a number a sipp UAS answers.

// consultEventFor counts logged events name for callID that carry consult_of.
func consultEventFor(t *testing.T, s *sipServer, name, callID string) int {
	t.Helper()
	evs, err := s.Store.Events(context.Background(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Name == name && bytes.Contains(e.Data, []byte(`"call_id":"`+callID+`"`)) && bytes.Contains(e.Data, []byte(`"consult_of":"`)) {
			n++
		}
	}
	return n
}

// TestSIPConsultTransferToNumber: the consult to the number is an outbound SIP call of its own
// (call_connected with consult_of when sipp answers) while the caller is held; the consult
// transfer moves the number's SIP leg into the caller's call without re-dialling (sipp's one
// dialog goes on): call_transferred with phone, agent1 leaves, and the caller's hang-up ends both
// legs (each sipp gets its BYE).
func TestSIPConsultTransferToNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer.xml"), port, "-rtp_echo")
	res := phone.result("c1", "consult", map[string]any{"call_id": callID, "arg": "+15550123"})
	cid := res["data"].(map[string]any)["call_id"].(string)
	rtctest.Eventually(t, 15*time.Second, "the number answered the consult", func() bool {
		return consultEventFor(t, s, "call_connected", cid) == 1
	})
	if v, err := s.Core.Call("demo", callID); err != nil || !v.Held || v.ConsultCall != cid {
		t.Fatalf("the caller's call during the consult: %+v, %v", v, err)
	}
	phone.result("x1", "consult_transfer", map[string]any{"call_id": cid})
	rtctest.Eventually(t, 10*time.Second, "call_transferred", func() bool {
		return countEvents(t, s.Server, "call_transferred", callID) == 1
	})
	if cs := s.Core.Calls("demo", "agent1"); len(cs) != 0 {
		t.Fatalf("agent1 still on calls after the transfer: %+v", cs)
	}
	if v, err := s.Core.Call("demo", callID); err != nil || v.Held || len(v.Agents) != 0 {
		t.Fatalf("the caller's call after the transfer: %+v, %v", v, err)
	}
	if err := s.Core.CustomerHangUp(context.Background(), "demo", callID); err != nil {
		t.Fatal(err)
	}
	uac.wait(t, 30*time.Second)
	uas.wait(t, 30*time.Second) // exits 0 only after the BYE of the moved leg
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if n, up := sipLegs(rec); err != nil || n != 2 || up != 2 || len(rec.Consults) != 1 || rec.Consults[0] != cid {
		t.Fatalf("caller's record %+v (%v): want its and the number's sip legs, answered, and the consult call", rec, err)
	}
	crec, err := s.Store.Call(context.Background(), "demo", cid)
	if err != nil || crec.ConsultOf != callID || crec.EndReason != "consult_transferred" {
		t.Fatalf("consult record %+v, %v", crec, err)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// TestSIPConsultRefusedByNumber: a number that answers 486 fails the consult (call_failed 486
// with consult_of); the caller stays held until agent1 retrieves it.
func TestSIPConsultRefusedByNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, renderScenario(t, "uas_refuse.xml", map[string]any{"Code": 486}), port)
	res := phone.result("c1", "consult", map[string]any{"call_id": callID, "arg": "+15550123"})
	cid := res["data"].(map[string]any)["call_id"].(string)
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "call_failed 486 of the consult", func() bool {
		return failedWith(t, s, cid) == 486 && consultEventFor(t, s, "call_disconnected", cid) == 1
	})
	if v, err := s.Core.Call("demo", callID); err != nil || !v.Held || v.ConsultCall != "" {
		t.Fatalf("the caller's call after the refusal: %+v, %v", v, err)
	}
	phone.result("r3", "retrieve", map[string]any{"call_id": callID})
	phone.result("r4", "hangup", map[string]any{"call_id": callID})
	uac.wait(t, 30*time.Second)
}

// TestSIPConsultConferenceWithNumber: completed as a conference, the number joins the caller's
// call (party_added with its phone) and agent1 stays; agent1's hang-up leaves the caller and the
// number talking, and the caller's hang-up ends both SIP dialogs.
func TestSIPConsultConferenceWithNumber(t *testing.T) {
	s, phone, uac, port, callID := xferCall(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer.xml"), port, "-rtp_echo")
	res := phone.result("c1", "consult", map[string]any{"call_id": callID, "arg": "+15550123"})
	cid := res["data"].(map[string]any)["call_id"].(string)
	rtctest.Eventually(t, 15*time.Second, "the number answered the consult", func() bool {
		return consultEventFor(t, s, "call_connected", cid) == 1
	})
	phone.result("x1", "consult_conference", map[string]any{"call_id": callID})
	rtctest.Eventually(t, 10*time.Second, "party_added", func() bool {
		return countEvents(t, s.Server, "party_added", callID) == 1
	})
	if v, err := s.Core.Call("demo", callID); err != nil || v.Held || len(v.Agents) != 1 || v.ConsultCall != "" {
		t.Fatalf("the caller's call after the conference: %+v, %v", v, err)
	}
	phone.result("h1", "hangup", map[string]any{"call_id": callID}) // three parties: agent1 leaves
	if v, err := s.Core.Call("demo", callID); err != nil || len(v.Agents) != 0 {
		t.Fatalf("the call after agent1 left: %+v, %v", v, err)
	}
	if err := s.Core.CustomerHangUp(context.Background(), "demo", callID); err != nil {
		t.Fatal(err)
	}
	uac.wait(t, 30*time.Second)
	uas.wait(t, 30*time.Second)
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}
