package integration

// The call core with real pion legs and real audio: what the core's own tests (on the
// in-memory media port, adapter/media/mediatest) cannot show: who cmHears whom as tones through
// relays, the mixer, hold audio and RFC 4733 digits.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/cti-adapter/cti-adapter/webrtc/prompts"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

const cmWait = 10 * time.Second

// cmWorld is a core over a real store and hub, with account acme and agents a1, a2, a3.
type cmWorld struct {
	core     *core.Core
	hub      *hub.Hub
	store    *store.Store
	accounts *account.Directory
	schemas  *schemas.Registry
	sub      *hub.Subscription
}

var cmQuiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newCMWorld(t *testing.T, opts core.Options) *cmWorld { return newCMWorldB(t, opts) }

func newCMWorldB(t testing.TB, opts core.Options) *cmWorld {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cti.db"), cmQuiet)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, st, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	go h.Run(hctx)
	dir := account.NewDirectory(st)
	if _, err := dir.Create(ctx, "acme", account.ModeFull); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a1", "a2", "a3"} {
		if _, err := st.PutUser(ctx, store.User{Account: "acme", ID: id, Name: "Agent " + id, Extension: "10" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := h.Subscribe(ctx, "acme", -1)
	t.Cleanup(func() {
		sub.Close()
		cancel()
		<-h.Done()
		st.Close()
	})
	opts.Log = cmQuiet
	return &cmWorld{core: core.New(h, st, dir, opts), hub: h, store: st, accounts: dir, schemas: reg, sub: sub}
}

func cmAgent(uid string, via core.Via) core.Actor {
	return core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: uid, Via: via}
}

// next returns the next event, checking it against its schema.
func (w *cmWorld) next(t *testing.T) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ev, err := w.sub.Next(ctx)
	if err != nil {
		t.Fatalf("waiting for the next event: %v", err)
	}
	if err := w.schemas.Validate("events/"+ev.Name, ev.Data); err != nil {
		t.Fatalf("%s fails its schema: %v\n%s", ev.Name, err, ev.Data)
	}
	return ev
}

// expect reads events until one named name arrives (failing on a limit), returning it.
func (w *cmWorld) expect(t *testing.T, name string) event.Event {
	t.Helper()
	for i := 0; i < 50; i++ {
		if ev := w.next(t); ev.Name == name {
			return ev
		}
	}
	t.Fatalf("no %s event", name)
	return event.Event{}
}

// cmPercentiles reports p50 and p99 of ds as benchmark metrics.
func cmPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

var cmIntegrator = core.Actor{Account: "acme", Role: auth.RoleIntegrator, Via: core.ViaIntegrator}

// cmEnv is a cmWorld with a real media engine on loopback.
type cmEnv struct {
	w   *cmWorld
	eng *peer.Engine
}

// newCMEnv builds a media cmWorld with settings applied and, if now is not nil, that clock.
func newCMEnv(t *testing.T, settings string) *cmEnv {
	t.Helper()
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	w := newCMWorld(t, core.Options{Media: eng.Port(), Prompts: prompts.Library{}})
	if settings != "" {
		if _, err := w.accounts.Update(context.Background(), "acme", []byte(settings)); err != nil {
			t.Fatal(err)
		}
	}
	return &cmEnv{w: w, eng: eng}
}

// cmMediaWorld is newCMEnv with the real clock.
func cmMediaWorld(t *testing.T, settings string) (*cmWorld, *peer.Engine) {
	e := newCMEnv(t, settings)
	return e.w, e.eng
}

// phone logs uid in with a phone session on a real peer connection; mic says whether the
// microphone was granted.
func (w *cmWorld) phone(t *testing.T, eng *peer.Engine, uid string, mic bool) (*core.Session, *rtctest.Client) {
	t.Helper()
	ctx := context.Background()
	s, err := w.core.Login(ctx, cmAgent(uid, core.ViaPhone), core.KindPhone)
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

func (w *cmWorld) ready(t *testing.T, uid string) {
	t.Helper()
	if _, err := w.core.SetStatus(context.Background(), cmAgent(uid, core.ViaPhone), uid, agent.Ready, ""); err != nil {
		t.Fatal(err)
	}
}

// customer starts a web call from a browser-like client.
func (w *cmWorld) customer(t *testing.T, eng *peer.Engine) (*core.WebCall, *rtctest.Client) {
	t.Helper()
	leg, err := eng.NewLeg(peer.LegOptions{ID: "cust"})
	if err != nil {
		t.Fatal(err)
	}
	c := rtctest.New(t)
	c.ConnectLeg(leg)
	wc, err := w.core.StartWebCall(context.Background(), "acme", core.WebCaller{DisplayName: "Ada", Phone: "+15550100"}, leg)
	if err != nil {
		t.Fatal(err)
	}
	return wc, c
}

func (w *cmWorld) control(t *testing.T, uid, callID string, op call.Op, arg string) {
	t.Helper()
	if _, err := w.core.Control(context.Background(), cmAgent(uid, core.ViaPhone), callID, op, arg); err != nil {
		t.Fatalf("%s %s: %v", uid, op, err)
	}
}

func cmData(t *testing.T, ev event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// expectFor waits for event name concerning user uid.
func (w *cmWorld) expectFor(t *testing.T, name, uid string) map[string]any {
	t.Helper()
	for i := 0; i < 100; i++ {
		ev := w.next(t)
		if ev.Name == name {
			if d := cmData(t, ev); d["user_id"] == uid {
				return d
			}
		}
	}
	t.Fatalf("no %s for %s", name, uid)
	return nil
}

func cmHears(t *testing.T, c *rtctest.Client, who string, freq float64) {
	t.Helper()
	c.ClearAudio()
	rtctest.Eventually(t, cmWait, who+" cmHears "+cmFtoa(freq), func() bool { return c.Hears(freq) })
}

func cmFtoa(f float64) string {
	return time.Duration(f).String()[:len(time.Duration(f).String())-2] + " Hz"
}

// TestCoreWebCallRealMedia is the whole inbound path with real media: IVR digit ->
// queue -> ready agent -> answer -> two-way audio -> DTMF -> hold -> mute -> transfer ->
// conference -> hang-ups -> call record.
func TestCoreWebCallRealMedia(t *testing.T) {
	w, eng := cmMediaWorld(t, `{"wrap_up_seconds":0}`)
	ctx := context.Background()
	_, p1 := w.phone(t, eng, "a1", true)
	_, p2 := w.phone(t, eng, "a2", true)
	_, p3 := w.phone(t, eng, "a3", true)
	w.ready(t, "a1")

	wc, cust := w.customer(t, eng)
	in := cmData(t, w.expect(t, event.IncomingCall))
	if in["call_id"] != wc.ID || in["source"] != "webrtc" || in["user_id"] != nil || in["phone"] != "+15550100" {
		t.Fatalf("incoming_call on arrival: %v", in)
	}
	rtctest.Eventually(t, cmWait, "the IVR greeting", cust.Loud)
	if err := cust.SendDigits("1"); err != nil {
		t.Fatal(err)
	}
	up := cmData(t, w.expect(t, event.DataUpdated))
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
		cmWait := c.Speak(ctx, f)
		return func() { cancel(); cmWait() }
	}
	defer speak(cust, 700)()
	defer speak(p1, 1300)()
	cmHears(t, p1, "agent", 700)
	cmHears(t, cust, "customer", 1300)

	// DTMF from the agent reaches the customer as RFC 4733, and the request returns after it
	w.control(t, "a1", wc.ID, call.OpDTMF, "12#")
	rtctest.Eventually(t, 2*time.Second, "digits at the customer", func() bool { return cust.Digits() == "12#" })
	w.expect(t, event.DTMFSent)

	// hold: the customer cmHears hold audio, not the agent; the agent cmHears nothing
	w.control(t, "a1", wc.ID, call.OpHold, "")
	w.expect(t, event.CallHeld)
	cust.ClearAudio()
	rtctest.Eventually(t, cmWait, "hold audio", func() bool { return cust.Loud() && !cust.Hears(1300) })
	p1.ClearAudio()
	rtctest.Eventually(t, cmWait, "agent silence on hold", func() bool { return !p1.Hears(700) })
	w.control(t, "a1", wc.ID, call.OpHold, "") // hold on held: success without action
	w.control(t, "a1", wc.ID, call.OpRetrieve, "")
	w.expect(t, event.CallRetrieved)
	cmHears(t, cust, "customer after retrieve", 1300)

	// mute is enforced by the server
	w.control(t, "a1", wc.ID, call.OpMute, "")
	w.expect(t, event.CallMuted)
	cust.ClearAudio()
	rtctest.Eventually(t, cmWait, "agent muted", func() bool { return !cust.Hears(1300) })
	w.control(t, "a1", wc.ID, call.OpUnmute, "")
	cmHears(t, cust, "customer after unmute", 1300)

	// blind transfer to a2, variables carried
	if _, err := w.core.SetVariables(ctx, cmIntegrator, wc.ID, map[string]string{"crm_id": "42"}); err != nil {
		t.Fatal(err)
	}
	w.ready(t, "a2")
	w.control(t, "a1", wc.ID, call.OpTransfer, "a2")
	tr := cmData(t, w.expect(t, event.CallTransferred))
	if tr["to"] != "a2" || tr["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("call_transferred: %v", tr)
	}
	if v := w.expectFor(t, event.IncomingCall, "a2"); v["variables"].(map[string]any)["crm_id"] != "42" {
		t.Fatalf("variables not carried across the transfer: %v", v)
	}
	w.control(t, "a2", wc.ID, call.OpAnswer, "")
	w.expectFor(t, event.CallConnected, "a2")
	defer speak(p2, 1100)()
	cmHears(t, cust, "customer after transfer", 1100)
	cmHears(t, p2, "a2", 700)
	if v := w.core.Agent("acme", "a1"); v.Status != "ready" || len(v.Calls) != 0 {
		t.Fatalf("transferring agent after transfer: %+v", v)
	}

	// blind conference: a3 joins and every party cmHears both others
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
			cmHears(t, c.cl, c.who+" in conference", f)
		}
		if c.cl.Hears(c.not) {
			t.Fatalf("%s cmHears itself in the conference", c.who)
		}
	}
	// removeparty takes a3 out; the others go on talking
	w.control(t, "a2", wc.ID, call.OpRemoveParty, "a3")
	w.expectFor(t, event.PartyRemoved, "a3")
	cmHears(t, cust, "customer after removeparty", 1100)

	w.control(t, "a2", wc.ID, call.OpHangUp, "")
	end := w.expect(t, event.CallDisconnected)
	if d := cmData(t, end); d["ended_by"] != "agent" || d["call_id"] != wc.ID {
		t.Fatalf("call_disconnected: %v", d)
	}
	select {
	case <-wc.Done():
	case <-time.After(cmWait):
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

// TestCoreOwnerHandoverRealMedia: the media tab closes mid-call; the call is held for the caller and
// resumes on the agent's other phone without being dropped.
func TestCoreOwnerHandoverRealMedia(t *testing.T) {
	w, eng := cmMediaWorld(t, `{"hold_grace_seconds":30}`)
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
	cmHears(t, cust, "customer", 1300)

	// the owner goes away with no standby: the caller cmHears hold audio
	w.core.EndSession(ctx, s1)
	p1.Close()
	cust.ClearAudio()
	rtctest.Eventually(t, cmWait, "hold audio after owner loss", func() bool { return cust.Loud() && !cust.Hears(1300) })
	// a new tab registers within the grace period and the call resumes on it
	_, p2 := w.phone(t, eng, "a1", true)
	p2.Speak(cctx, 1500)
	cmHears(t, cust, "customer on the new owner", 1500)
	cmHears(t, p2, "new owner", 700)
	if _, err := w.core.Call("acme", wc.ID); err != nil {
		t.Fatal("the call was dropped during the handover")
	}

	// with two phones, closing the owner hands over at once
	s3, p3 := w.phone(t, eng, "a1", true)
	if err := w.core.TakeOwnership(ctx, s3); err != nil {
		t.Fatal(err)
	}
	p3.Speak(cctx, 1100)
	cmHears(t, cust, "customer after take-ownership", 1100)
	w.core.EndSession(ctx, s3)
	cmHears(t, cust, "customer back on the standby", 1500)
}

// BenchmarkCoreCallSetup measures the server side of a web call's setup: from the customer's offer
// (answer negotiated on a new leg) to incoming_call appended to the durable log.
func BenchmarkCoreCallSetup(b *testing.B) {
	eng, err := peer.NewEngine(peer.Config{LoopbackOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	w := newCMWorldB(b, core.Options{Media: eng.Port(), Prompts: prompts.Library{}})
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
		wc, err := w.core.StartWebCall(ctx, "acme", core.WebCaller{DisplayName: "bench"}, leg)
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
	cmPercentiles(b, durations)
}
