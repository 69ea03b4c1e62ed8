package core

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/prompts"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

const wait = 10 * time.Second

// mediaEnv is a world with a real media engine on loopback.
type mediaEnv struct {
	w   *world
	eng *peer.Engine
}

// newMediaEnv builds a media world with settings applied and, if now is not nil, that clock.
func newMediaEnv(t *testing.T, settings string, now func() time.Time) *mediaEnv {
	var clk clock.Clock
	if now != nil {
		clk = skewClock{now}
	}
	t.Helper()
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	w := newWorld(t, Options{Media: eng.Port(), Prompts: prompts.Library{}, Clock: clk})
	if settings != "" {
		if _, err := w.accounts.Update(context.Background(), "acme", []byte(settings)); err != nil {
			t.Fatal(err)
		}
	}
	return &mediaEnv{w: w, eng: eng}
}

// mediaWorld is newMediaEnv with the real clock.
func mediaWorld(t *testing.T, settings string) (*world, *peer.Engine) {
	e := newMediaEnv(t, settings, nil)
	return e.w, e.eng
}

// phone logs uid in with a phone session on a real peer connection; mic says whether the
// microphone was granted.
func (w *world) phone(t *testing.T, eng *peer.Engine, uid string, mic bool) (*Session, *rtctest.Client) {
	t.Helper()
	ctx := context.Background()
	s, err := w.core.Login(ctx, agentActor(uid, ViaPhone), KindPhone)
	if err != nil {
		t.Fatal(err)
	}
	leg, err := eng.NewLeg(peer.LegOptions{ID: "phone-" + s.ID})
	if err != nil {
		t.Fatal(err)
	}
	c := rtctest.New(t)
	c.ConnectLeg(leg)
	if err := w.core.AttachPhone(ctx, s, leg); err != nil {
		t.Fatal(err)
	}
	w.core.PhoneHealth(ctx, s, true, mic)
	return s, c
}

func (w *world) ready(t *testing.T, uid string) {
	t.Helper()
	if _, err := w.core.SetStatus(context.Background(), agentActor(uid, ViaPhone), uid, agent.Ready, ""); err != nil {
		t.Fatal(err)
	}
}

// customer starts a web call from a browser-like client.
func (w *world) customer(t *testing.T, eng *peer.Engine) (*WebCall, *rtctest.Client) {
	t.Helper()
	leg, err := eng.NewLeg(peer.LegOptions{ID: "cust"})
	if err != nil {
		t.Fatal(err)
	}
	c := rtctest.New(t)
	c.ConnectLeg(leg)
	wc, err := w.core.StartWebCall(context.Background(), "acme", WebCaller{DisplayName: "Ada", Phone: "+15550100"}, leg)
	if err != nil {
		t.Fatal(err)
	}
	return wc, c
}

func (w *world) control(t *testing.T, uid, callID string, op call.Op, arg string) {
	t.Helper()
	if _, err := w.core.Control(context.Background(), agentActor(uid, ViaPhone), callID, op, arg); err != nil {
		t.Fatalf("%s %s: %v", uid, op, err)
	}
}

func data(t *testing.T, ev event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// expectFor waits for event name concerning user uid.
func (w *world) expectFor(t *testing.T, name, uid string) map[string]any {
	t.Helper()
	for i := 0; i < 100; i++ {
		ev := w.next(t)
		if ev.Name == name {
			if d := data(t, ev); d["user_id"] == uid {
				return d
			}
		}
	}
	t.Fatalf("no %s for %s", name, uid)
	return nil
}

func hears(t *testing.T, c *rtctest.Client, who string, freq float64) {
	t.Helper()
	c.ClearAudio()
	rtctest.Eventually(t, wait, who+" hears "+ftoa(freq), func() bool { return c.Hears(freq) })
}

func ftoa(f float64) string {
	return time.Duration(f).String()[:len(time.Duration(f).String())-2] + " Hz"
}

// TestWebCallThroughIVRQueueToAgent is the whole inbound path with real media: IVR digit ->
// queue -> ready agent -> answer -> two-way audio -> DTMF -> hold -> mute -> transfer ->
// conference -> hang-ups -> call record.
func TestWebCallThroughIVRQueueToAgent(t *testing.T) {
	w, eng := mediaWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	_, p1 := w.phone(t, eng, "a1", true)
	_, p2 := w.phone(t, eng, "a2", true)
	_, p3 := w.phone(t, eng, "a3", true)
	w.ready(t, "a1")

	wc, cust := w.customer(t, eng)
	in := data(t, w.expect(t, event.IncomingCall))
	if in["call_id"] != wc.ID || in["source"] != "webrtc" || in["user_id"] != nil || in["phone"] != "+15550100" {
		t.Fatalf("incoming_call on arrival: %v", in)
	}
	rtctest.Eventually(t, wait, "the IVR greeting", cust.Loud)
	if err := cust.SendDigits("1"); err != nil {
		t.Fatal(err)
	}
	up := data(t, w.expect(t, event.DataUpdated))
	if vars := up["variables"].(map[string]any); vars["ivr_choice"] != "1" || vars["queue"] != "sales" {
		t.Fatalf("IVR digit did not become variables: %v", up)
	}
	ring := w.expectFor(t, event.IncomingCall, "a1")
	if ring["queue"] != "sales" || ring["display_name"] != "Ada" {
		t.Fatalf("incoming_call at the agent: %v", ring)
	}
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a1")
	if v := w.core.Agent("acme", "a1"); v.Status != "in_call" {
		t.Fatalf("answering agent is %s", v.Status)
	}

	speak := func(c *rtctest.Client, f float64) func() {
		ctx, cancel := context.WithCancel(ctx)
		wait := c.Speak(ctx, f)
		return func() { cancel(); wait() }
	}
	defer speak(cust, 700)()
	defer speak(p1, 1300)()
	hears(t, p1, "agent", 700)
	hears(t, cust, "customer", 1300)

	// DTMF from the agent reaches the customer as RFC 4733, and the request returns after it
	w.control(t, "a1", wc.ID, call.OpDTMF, "12#")
	rtctest.Eventually(t, 2*time.Second, "digits at the customer", func() bool { return cust.Digits() == "12#" })
	w.expect(t, event.DTMFSent)

	// hold: the customer hears hold audio, not the agent; the agent hears nothing
	w.control(t, "a1", wc.ID, call.OpHold, "")
	w.expect(t, event.CallHeld)
	cust.ClearAudio()
	rtctest.Eventually(t, wait, "hold audio", func() bool { return cust.Loud() && !cust.Hears(1300) })
	p1.ClearAudio()
	rtctest.Eventually(t, wait, "agent silence on hold", func() bool { return !p1.Hears(700) })
	w.control(t, "a1", wc.ID, call.OpHold, "") // hold on held: success without action
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	w.expect(t, event.CallRetrieved)
	hears(t, cust, "customer after retrieve", 1300)

	// mute is enforced by the server
	w.control(t, "a1", wc.ID, call.OpMute, "")
	w.expect(t, event.CallMuted)
	cust.ClearAudio()
	rtctest.Eventually(t, wait, "agent muted", func() bool { return !cust.Hears(1300) })
	w.control(t, "a1", wc.ID, call.OpUnmute, "")
	hears(t, cust, "customer after unmute", 1300)

	// blind transfer to a2, variables carried
	if _, err := w.core.SetVariables(ctx, integrator, wc.ID, map[string]string{"crm_id": "42"}); err != nil {
		t.Fatal(err)
	}
	w.ready(t, "a2")
	w.control(t, "a1", wc.ID, call.OpTransfer, "a2")
	tr := data(t, w.expect(t, event.CallTransferred))
	if tr["to"] != "a2" || tr["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("call_transferred: %v", tr)
	}
	if v := w.expectFor(t, event.IncomingCall, "a2"); v["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("variables not carried across the transfer: %v", v)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	defer speak(p2, 1100)()
	hears(t, cust, "customer after transfer", 1100)
	hears(t, p2, "a2", 700)
	if v := w.core.Agent("acme", "a1"); v.Status != "ready" || len(v.Calls) != 0 {
		t.Fatalf("transferring agent after transfer: %+v", v)
	}

	// blind conference: a3 joins and every party hears both others
	w.ready(t, "a3")
	w.control(t, "a2", wc.ID, call.OpConference, "103")
	w.expectFor(t, event.IncomingCall, "a3")
	w.control(t, "a3", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.PartyAdded, "a3")
	defer speak(p3, 1500)()
	for _, c := range []struct {
		who   string
		cl    *rtctest.Client
		hears []float64
		not   float64
	}{{"customer", cust, []float64{1100, 1500}, 700}, {"a2", p2, []float64{700, 1500}, 1100}, {"a3", p3, []float64{700, 1100}, 1500}} {
		for _, f := range c.hears {
			hears(t, c.cl, c.who+" in conference", f)
		}
		if c.cl.Hears(c.not) {
			t.Fatalf("%s hears itself in the conference", c.who)
		}
	}
	// removeparty takes a3 out; the others go on talking
	w.control(t, "a2", wc.ID, call.OpRemoveParty, "a3")
	w.expectFor(t, event.PartyRemoved, "a3")
	hears(t, cust, "customer after removeparty", 1100)

	w.control(t, "a2", wc.ID, call.OpHangUp, "")
	end := w.expect(t, event.CallDisconnected)
	if d := data(t, end); d["ended_by"] != "agent" || d["call_id"] != wc.ID {
		t.Fatalf("call_disconnected: %v", d)
	}
	select {
	case <-wc.Done():
	case <-time.After(wait):
		t.Fatal("web call not done after hang-up")
	}
	rec, err := w.store.Call(ctx, "acme", wc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != "ended" || rec.EndedBy != "agent" || rec.Variables["crm_id"] != "42" || rec.AnsweredAt == nil || len(rec.Legs) < 4 || len(rec.Parties) < 4 {
		t.Fatalf("call record incomplete: %+v", rec)
	}
	for _, uid := range []string{"a1", "a2", "a3"} {
		if v := w.core.Agent("acme", uid); v.Status == "in_call" {
			t.Fatalf("%s still in_call after the end", uid)
		}
	}
}

func TestRONAQueueTimeoutAndMicrophone(t *testing.T) {
	w, eng := mediaWorld(t, `{"ring_timeout_seconds":1,"queue_timeout_seconds":4,"ivr":{"greeting":"welcome","menu":{"1":"sales"},"timeout_seconds":1,"default_queue":"sales"}}`)
	ctx := context.Background()
	// a phone without microphone permission never makes its agent ready, never rings
	w.phone(t, eng, "a3", false)
	if _, err := w.core.SetStatus(ctx, agentActor("a3", ViaPhone), "a3", agent.Ready, ""); err == nil {
		t.Fatal("an agent without microphone became ready")
	}
	w.phone(t, eng, "a1", true)
	w.phone(t, eng, "a2", true)
	w.ready(t, "a1")
	w.ready(t, "a2")
	wc, cust := w.customer(t, eng)
	if err := cust.SendDigits("1"); err != nil {
		t.Fatal(err)
	}
	first := w.expect(t, event.IncomingCall) // arrival
	_ = first
	ringing := data(t, w.expect(t, event.IncomingCall))["user_id"].(string)
	failed := w.expectFor(t, event.CallFailed, ringing)
	if failed["code"] != 408.0 {
		t.Fatalf("RONA call_failed: %v", failed)
	}
	st := w.expectFor(t, event.StatusChanged, ringing)
	if st["status"] != "dnd" || st["reason"] != "missed_call" {
		t.Fatalf("agent who missed the call: %v", st)
	}
	other := map[string]string{"a1": "a2", "a2": "a1"}[ringing]
	w.expectFor(t, event.IncomingCall, other)
	w.expectFor(t, event.CallFailed, other)
	// both missed: the call waits in the queue until its timeout, then ends with a reason
	qf := w.expectFor(t, event.CallFailed, "")
	if qf["code"] != 480.0 {
		t.Fatalf("queue timeout: %v", qf)
	}
	d := data(t, w.expect(t, event.CallDisconnected))
	if d["ended_by"] != "system" || d["call_id"] != wc.ID {
		t.Fatalf("queue timeout end: %v", d)
	}
	rec, _ := w.store.Call(ctx, "acme", wc.ID)
	if rec.EndReason != endQueueTimeout {
		t.Fatalf("record end reason %q", rec.EndReason)
	}
	if v := w.core.Agent("acme", "a3"); v.Status != "online" {
		t.Fatalf("agent without microphone: %+v", v)
	}
}

// TestOwnerHandoverMidCall: the media tab closes mid-call; the call is held for the caller and
// resumes on the agent's other phone without being dropped.
func TestOwnerHandoverMidCall(t *testing.T) {
	w, eng := mediaWorld(t, `{"hold_grace_seconds":30}`)
	ctx := context.Background()
	s1, p1 := w.phone(t, eng, "a1", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t, eng)
	if err := cust.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cust.Speak(cctx, 700)
	p1.Speak(cctx, 1300)
	hears(t, cust, "customer", 1300)

	// the owner goes away with no standby: the caller hears hold audio
	w.core.EndSession(ctx, s1)
	p1.Close()
	cust.ClearAudio()
	rtctest.Eventually(t, wait, "hold audio after owner loss", func() bool { return cust.Loud() && !cust.Hears(1300) })
	// a new tab registers within the grace period and the call resumes on it
	_, p2 := w.phone(t, eng, "a1", true)
	p2.Speak(cctx, 1500)
	hears(t, cust, "customer on the new owner", 1500)
	hears(t, p2, "new owner", 700)
	if _, err := w.core.Call("acme", wc.ID); err != nil {
		t.Fatal("the call was dropped during the handover")
	}

	// with two phones, closing the owner hands over at once
	s3, p3 := w.phone(t, eng, "a1", true)
	if err := w.core.TakeOwnership(ctx, s3); err != nil {
		t.Fatal(err)
	}
	p3.Speak(cctx, 1100)
	hears(t, cust, "customer after take-ownership", 1100)
	w.core.EndSession(ctx, s3)
	hears(t, cust, "customer back on the standby", 1500)
}

// TestAgentToAgentAndOutbound: make_call rings a user by id or extension, an unknown number
// fails with call_failed 404, and wrap-up follows the account's setting.
func TestAgentToAgentAndOutbound(t *testing.T) {
	w, eng := mediaWorld(t, `{"wrap_up_seconds":1}`)
	ctx := context.Background()
	_, p1 := w.phone(t, eng, "a1", true)
	_, p2 := w.phone(t, eng, "a2", true)

	v, err := w.core.MakeCall(ctx, integrator, "a1", "555-0199", map[string]string{"crm_id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	out := w.expectFor(t, event.OutgoingCall, "a1")
	if out["call_id"] != v.CallID || out["variables"].(map[string]any)["crm_id"] != "7" {
		t.Fatalf("outgoing_call %v", out)
	}
	if f := w.expectFor(t, event.CallFailed, "a1"); f["code"] != 404.0 || f["reason"] != "no outbound route" {
		t.Fatalf("call_failed %v", f)
	}
	w.expect(t, event.CallDisconnected)

	v, err = w.core.MakeCall(ctx, agentActor("a1", ViaPhone), "a1", "102", nil) // a2's extension
	if err != nil {
		t.Fatal(err)
	}
	in := w.expectFor(t, event.IncomingCall, "a2")
	if in["source"] != "internal" || in["call_id"] != v.CallID {
		t.Fatalf("incoming_call at a2: %v", in)
	}
	if _, err := w.core.MakeCall(ctx, integrator, "a1", "103", nil); err == nil {
		t.Fatal("a busy agent dialled a second call")
	}
	w.control(t, "a2", v.CallID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p1.Speak(cctx, 900)
	p2.Speak(cctx, 1700)
	hears(t, p2, "callee", 900)
	hears(t, p1, "caller", 1700)
	w.control(t, "a1", v.CallID, call.OpHangUp, "")
	if d := data(t, w.expect(t, event.CallDisconnected)); d["ended_by"] != "agent" {
		t.Fatalf("call_disconnected %v", d)
	}
	// both agents go through wrap-up and come back to online
	for _, uid := range []string{"a1", "a2"} {
		if v := w.core.Agent("acme", uid); v.Status != "after_call_work" {
			t.Fatalf("%s after the call: %s", uid, v.Status)
		}
	}
	back := map[string]bool{}
	for len(back) < 2 {
		d := data(t, w.expect(t, event.StatusChanged))
		if d["previous"] == "after_call_work" {
			if d["status"] != "online" {
				t.Fatalf("%v back to %v", d["user_id"], d["status"])
			}
			back[d["user_id"].(string)] = true
		}
	}
}

// BenchmarkCallSetup measures the server side of a web call's setup: from the customer's offer
// (answer negotiated on a new leg) to incoming_call appended to the durable log.
func BenchmarkCallSetup(b *testing.B) {
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	w := newWorldB(b, Options{Media: eng.Port(), Prompts: prompts.Library{}})
	ctx := context.Background()
	var durations []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cl := rtctest.New(b)
		offer, err := cl.Offer()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		leg, err := eng.NewLeg(peer.LegOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := leg.Answer(offer); err != nil {
			b.Fatal(err)
		}
		wc, err := w.core.StartWebCall(ctx, "acme", WebCaller{DisplayName: "bench"}, leg)
		if err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
		b.StopTimer()
		_ = w.core.CustomerHangUp(ctx, "acme", wc.ID)
		<-wc.Done()
		cl.Close()
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, durations)
}

// TestTransferToQueueAndDialQueue: a blind transfer to a queue re-routes the call to a ready
// agent of that queue; make_call to a queue name enqueues the agent's call.
func TestTransferToQueueAndDialQueue(t *testing.T) {
	w, eng := mediaWorld(t, "")
	ctx := context.Background()
	w.phone(t, eng, "a1", true)
	w.phone(t, eng, "a2", true)
	w.ready(t, "a1")
	wc, cust := w.customer(t, eng)
	if err := cust.SendDigits("1"); err != nil {
		t.Fatal(err)
	}
	w.expectFor(t, event.IncomingCall, "a1")
	w.control(t, "a1", wc.ID, call.OpAnswer, "")
	w.ready(t, "a2")
	if _, err := w.core.Control(ctx, agentActor("a1", ViaPhone), wc.ID, call.OpTransfer, "nowhere"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("transfer to an unknown destination: %v", err)
	}
	w.control(t, "a1", wc.ID, call.OpTransfer, "support")
	if in := w.expectFor(t, event.IncomingCall, "a2"); in["queue"] != "support" {
		t.Fatalf("transferred call at a2: %v", in)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")

	v, err := w.core.MakeCall(ctx, integrator, "a1", "sales", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := w.core.Call("acme", v.CallID); got.State != "queued" || got.Queue != "sales" || got.Caller != "a1" {
		t.Fatalf("dialled queue call: %+v", got)
	}
	w.control(t, "a1", v.CallID, call.OpHangUp, "")
	if _, err := w.core.Call("acme", v.CallID); !errors.Is(err, ErrNotFound) {
		t.Fatal("queued call survived its caller's hang-up")
	}
}

// skewClock is the real clock's timers with a shifted Now.
type skewClock struct{ now func() time.Time }

func (c skewClock) Now() time.Time { return c.now() }
func (c skewClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.Real().AfterFunc(d, f)
}
