package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/sip"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// outbound sets up agent1 with a phone, a trunk pointing at a sipp UAS on a free port, and
// returns the server, the agent's signalling, the UAS port.
func outboundEnv(t *testing.T, opts ...func(*sip.Config)) (*sipServer, *sig, int) {
	t.Helper()
	return outboundEnvTrunk(t, store.Trunk{}, opts...)
}

// outboundEnvTrunk is outboundEnv with tr's other settings (max_calls, codecs...).
func outboundEnvTrunk(t *testing.T, tr store.Trunk, opts ...func(*sip.Config)) (*sipServer, *sig, int) {
	t.Helper()
	port := freePort(t)
	tr.Host, tr.FromNumber = "127.0.0.1:"+strconv.Itoa(port), "+15550100"
	s := newSIPServer(t, tr, opts...)
	return s, s.agentPhone(t, "agent1"), port
}

// agentPhone connects user's WebRTC phone (a pion client with a microphone) and waits until it
// owns the agent's media.
func (s *sipServer) agentPhone(t *testing.T, user string) *sig {
	t.Helper()
	phone, _, err := s.dial(t, s.token(t, auth.RoleAgent, user), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.expect("snapshot", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	return phone
}

// makeCall is POST /api/v1/calls as the CRM sends it; it returns the call id.
func (s *sipServer) makeCall(t *testing.T, phone string) string {
	t.Helper()
	return s.makeCallAs(t, "agent1", phone)
}

// makeCallAs is makeCall for user.
func (s *sipServer) makeCallAs(t *testing.T, user, phone string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/calls", strings.NewReader(`{"user_id":"`+user+`","phone":"`+phone+`"}`))
	req.Header.Set("Authorization", "Bearer "+s.token(t, auth.RoleIntegrator, "crm"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		CallID string `json:"call_id"`
	}
	if res.StatusCode != 201 || jsonDecode(res, &body) != nil || body.CallID == "" {
		t.Fatalf("POST /api/v1/calls: %d %+v", res.StatusCode, body)
	}
	return body.CallID
}

// POST /api/v1/calls to +15550123 reaches a sipp UAS that rings then answers: outgoing_call,
// call_connected, audio both ways (the agent's tone comes back through sipp's RTP echo), and the
// agent's hang-up sends BYE (sipp exits 0 only after it).
func TestSIPOutboundAnswered(t *testing.T) {
	s, phone, port := outboundEnv(t)
	uas := s.sippUAS(t, scenarioPath("uas_answer.xml"), port, "-rtp_echo")
	callID := s.makeCall(t, "+15550123")
	rtctest.Eventually(t, 15*time.Second, "call_connected", func() bool {
		return countEvents(t, s.Server, "call_connected", callID) == 1
	})
	if countEvents(t, s.Server, "outgoing_call", callID) != 1 {
		t.Fatal("no outgoing_call")
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 900)
	rtctest.Eventually(t, 15*time.Second, "agent hears its tone back from the far end", func() bool { return phone.media.Hears(900) })
	cancel()
	wait()
	phone.result("h1", "hangup", map[string]any{"call_id": callID})
	uas.wait(t, 30*time.Second)
	rec, err := s.Store.Call(context.Background(), "demo", callID)
	if err != nil || rec.Direction != "outbound" || rec.AnsweredAt == nil || rec.EndedBy != "agent" {
		t.Fatalf("call record %+v, %v", rec, err)
	}
	if l := sipLeg(rec); l == nil || l.SIPCallID == "" || l.SIPStatus != 200 {
		t.Fatalf("no sip leg with its Call-ID and status 200 in the record: %+v", rec.Legs)
	}
}

// A far end that refuses: call_failed carries its SIP status.
func TestSIPOutboundRefused(t *testing.T) {
	for _, code := range []int{486, 404, 603} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			s, _, port := outboundEnv(t)
			uas := s.sippUAS(t, renderScenario(t, "uas_refuse.xml", map[string]any{"Code": code}), port)
			callID := s.makeCall(t, "+15550123")
			uas.wait(t, 30*time.Second)
			rtctest.Eventually(t, 10*time.Second, "call_failed "+strconv.Itoa(code), func() bool {
				return failedWith(t, s, callID) == code
			})
			rec, err := s.Store.Call(context.Background(), "demo", callID)
			if l := sipLeg(rec); err != nil || l == nil || l.SIPStatus != code || l.SIPCallID == "" {
				t.Fatalf("record legs %+v, %v; want sip_status %d", rec.Legs, err, code)
			}
		})
	}
}

// No answer: the ring timeout cancels (sipp sees CANCEL) and call_failed says 408; the agent
// hanging up while it rings also sends CANCEL.
func TestSIPOutboundNoAnswerAndAgentCancel(t *testing.T) {
	t.Run("ring timeout", func(t *testing.T) {
		s, _, port := outboundEnv(t, func(c *sip.Config) { c.RingTimeout = time.Second })
		uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
		callID := s.makeCall(t, "+15550123")
		uas.wait(t, 30*time.Second)
		rtctest.Eventually(t, 10*time.Second, "call_failed 408", func() bool { return failedWith(t, s, callID) == 408 })
	})
	t.Run("agent hangs up while ringing", func(t *testing.T) {
		s, phone, port := outboundEnv(t)
		uas := s.sippUAS(t, scenarioPath("uas_ring_cancel.xml"), port)
		callID := s.makeCall(t, "+15550123")
		phone.result("h1", "hangup", map[string]any{"call_id": callID})
		uas.wait(t, 30*time.Second) // exits 0 only after the CANCEL
		if n := countEvents(t, s.Server, "call_disconnected", callID); n != 1 {
			t.Fatalf("%d call_disconnected, want 1", n)
		}
	})
}

// failedWith returns the code of the call's call_failed event (0 if none yet).
func failedWith(t *testing.T, s *sipServer, callID string) int {
	evs, err := s.Store.Events(context.Background(), "demo", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Name == "call_failed" && strings.Contains(string(e.Data), `"call_id":"`+callID+`"`) {
			i := strings.Index(string(e.Data), `"code":`)
			if i < 0 {
				return -1
			}
			n, _ := strconv.Atoi(strings.TrimRight(strings.SplitN(string(e.Data)[i+7:], ",", 2)[0], "}"))
			return n
		}
	}
	return 0
}

func jsonDecode(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }

// sipLeg returns the record's leg of kind sip.
func sipLeg(rec store.Call) *store.Leg {
	for i := range rec.Legs {
		if rec.Legs[i].Kind == "sip" {
			return &rec.Legs[i]
		}
	}
	return nil
}
