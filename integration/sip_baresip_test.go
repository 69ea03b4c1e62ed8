package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// baresip registered at kamailio, which proxies for the adapter's trunk (issue 11): a call from
// the softphone into the adapter and one from the adapter to the softphone, through real peers.
func TestSIPBaresipBehindKamailio(t *testing.T) {
	needPeer(t, "baresip", "baresip")
	needPeer(t, "kamailio", "kamailio")
	kport := freePort(t)
	s := newSIPServer(t, store.Trunk{Host: "127.0.0.1:" + strconv.Itoa(kport), FromNumber: "+15550100"})
	kam := startKamailio(t, kport, s.addr, "+15550100")
	bs := startBaresip(t, kam, "+15550123", 1000)
	bs.waitRegistered()
	phone := s.agentPhone(t, "agent1")
	t.Run("inbound", func(t *testing.T) { baresipInbound(t, s, phone, bs, kam) })
	t.Run("outbound", func(t *testing.T) { baresipOutbound(t, s, phone, bs) })
}

// baresip dials the adapter's number through kamailio, presses 2 (RFC 4733) in the IVR and
// reaches agent1, who answers: baresip's 1000 Hz tone reaches the agent, the agent's 700 Hz
// tone and DTMF 5 reach baresip; baresip's hold and resume are call_held and call_retrieved
// with held_by "remote"; the agent's hang-up closes baresip's call.
func baresipInbound(t *testing.T, s *sipServer, phone *sig, bs *baresip, kam string) {
	phone.result("i1", "ready", nil)
	bs.cmd("dial", "sip:+15550100@"+kam)
	bs.waitEvent("CALL_ESTABLISHED", "", 1)
	bs.cmd("sndcode", "2")
	ring := phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["user_id"] == "agent1"
	})
	d := ring["event"].(map[string]any)["data"].(map[string]any)
	if d["source"] != "sip" || d["phone"] != "+15550123" || d["display_name"] != "+15550123" || d["queue"] != "support" {
		t.Fatalf("incoming_call %v", d)
	}
	callID := d["call_id"].(string)
	phone.result("i2", "answer", map[string]any{"call_id": callID})
	rtctest.Eventually(t, 15*time.Second, "agent hears baresip's 1000 Hz", func() bool { return phone.media.Hears(1000) })
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 700)
	rtctest.Eventually(t, 15*time.Second, "baresip hears the agent's 700 Hz", func() bool { return bs.heard(700) })
	cancel()
	wait()
	phone.result("i3", "senddtmf", map[string]any{"call_id": callID, "arg": "5"})
	bs.waitEvent("CALL_DTMF_START", "5", 1)
	bs.cmd("hold", "")
	rtctest.Eventually(t, 15*time.Second, "call_held by remote", func() bool { return heldBy(t, s, "call_held", callID) == "remote" })
	bs.cmd("resume", "")
	rtctest.Eventually(t, 15*time.Second, "call_retrieved by remote", func() bool {
		return heldBy(t, s, "call_retrieved", callID) == "remote"
	})
	phone.result("i4", "hangup", map[string]any{"call_id": callID})
	bs.waitEvent("CALL_CLOSED", "", 1)
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if err != nil || rec.Source != "sip" || rec.Variables["ivr_choice"] != "2" || rec.EndedBy != "agent" {
		t.Fatalf("call record %+v, %v", rec, err)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// The agent calls baresip's number: the adapter's INVITE goes to kamailio, which finds the
// registered phone; baresip answers by itself, its tone reaches the agent; baresip hangs up.
func baresipOutbound(t *testing.T, s *sipServer, phone *sig, bs *baresip) {
	phone.media.ClearAudio()
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 20*time.Second, "call_connected", func() bool {
		return countEvents(t, s.Server, "call_connected", callID) == 1
	})
	bs.waitEvent("CALL_ESTABLISHED", "", 2)
	rtctest.Eventually(t, 15*time.Second, "agent hears baresip's 1000 Hz", func() bool { return phone.media.Hears(1000) })
	bs.cmd("hangup", "")
	rtctest.Eventually(t, 15*time.Second, "call_disconnected", func() bool {
		return countEvents(t, s.Server, "call_disconnected", callID) == 1
	})
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if l := sipLeg(rec); err != nil || rec.EndedBy != "remote" || l == nil || l.SIPStatus != 200 {
		t.Fatalf("call record %+v, %v", rec, err)
	}
	rtctest.Eventually(t, 10*time.Second, "edge has no call left", func() bool { return s.edge.Calls() == 0 })
}

// heldBy returns held_by of the call's event name ("" if none, "-" if it had none).
func heldBy(t *testing.T, s *sipServer, name, callID string) string {
	evs, err := s.Store.Events(context.Background(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		var d struct {
			CallID string `json:"call_id"`
			HeldBy string `json:"held_by"`
		}
		if e.Name == name && jsonUnmarshal(e.Data, &d) == nil && d.CallID == callID {
			if d.HeldBy == "" {
				return "-"
			}
			return d.HeldBy
		}
	}
	return ""
}
