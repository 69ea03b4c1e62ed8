package peer

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/cti-adapter/cti-adapter/webrtc/prompts"
	"github.com/pion/webrtc/v4"
)

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	cfg.LoopbackOnly = true
	e, err := NewEngine(cfg)
	must(t, err)
	t.Cleanup(func() {
		must(t, e.Close())
		if n := e.Legs(); n != 0 {
			t.Errorf("%d legs still open after Engine.Close", n)
		}
	})
	return e
}

type party struct {
	c   *client
	leg *Leg
}

// dial connects a test client (telephone-event on tePT) to a new leg and waits for media.
func dial(t testing.TB, e *Engine, api *webrtc.API, tePT uint8) party {
	t.Helper()
	leg, err := e.NewLeg(LegOptions{})
	must(t, err)
	t.Cleanup(func() { _ = leg.Close() })
	c := newClient(t, api, tePT, true)
	connect(t, c, leg)
	waitFor(t, 5*time.Second, "connection", func() bool {
		return c.connected() && leg.State() == StateConnected && leg.out.bound()
	})
	return party{c, leg}
}

func (o *output) bound() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w != nil
}

func bridge(t testing.TB, a, b *Leg) {
	t.Helper()
	must(t, a.SetAudioOutput(Forward(b)))
	must(t, b.SetAudioOutput(Forward(a)))
}

func dominant(pcm []int16, f float64) float64 { return audio.NewGoertzel(f).Ratio(pcm) }

func TestOfferAnswerTrickle(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := clientAPI(t, 101)
	leg, err := e.NewLeg(LegOptions{ID: "customer"})
	must(t, err)
	states := make(chan State, 10)
	leg.OnState(func(s State) { states <- s })
	var cands, ends int
	done := make(chan struct{})
	c := newClient(t, api, 101, true)
	c.pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic != nil {
			must(t, leg.AddCandidate(ic.ToJSON())) // may arrive before the offer: queued
		}
	})
	leg.OnCandidate(func(ci *Candidate) {
		if ci == nil {
			ends++
			close(done)
			return
		}
		cands++
		c.addCandidate(*ci)
	})
	offer, err := c.pc.CreateOffer(nil)
	must(t, err)
	must(t, c.pc.SetLocalDescription(offer))
	time.Sleep(50 * time.Millisecond) // let the client's candidates reach the leg before the offer
	answer, err := leg.Answer(offer.SDP)
	must(t, err)
	must(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	c.remoteApplied()
	waitFor(t, 5*time.Second, "connected", c.connected)
	deadline := time.After(5 * time.Second)
	for s := StateNew; s != StateConnected; {
		select {
		case s = <-states:
		case <-deadline:
			t.Fatal("no connected state")
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no end-of-candidates")
	}
	if leg.ID() != "customer" || ends != 1 || cands == 0 {
		t.Fatalf("id %q candidates %d ends %d", leg.ID(), cands, ends)
	}
	must(t, leg.Close())
	select {
	case <-leg.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	if leg.State() != StateClosed {
		t.Fatalf("state %v", leg.State())
	}
	if err := leg.SetAudioOutput(Silence); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetAudioOutput after close: %v", err)
	}
}

func TestServerOffer(t *testing.T) {
	e := newTestEngine(t, Config{UDPMuxPort: -1}) // also covers the shared UDP port
	if e.MuxAddr() == "" {
		t.Fatal("no mux address")
	}
	api := clientAPI(t, 126)
	leg, err := e.NewLeg(LegOptions{ID: "agent"})
	must(t, err)
	t.Cleanup(func() { _ = leg.Close() })
	c := newClient(t, api, 126, true)
	offer, err := leg.Offer()
	must(t, err)
	sdpFull, err := leg.GatheredSDP(context.Background())
	must(t, err)
	if !bytes.Contains([]byte(offer), []byte("telephone-event/8000")) || !bytes.Contains([]byte(sdpFull), []byte("a=candidate")) {
		t.Fatalf("offer lacks telephone-event or candidates:\n%s", sdpFull)
	}
	must(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdpFull}))
	ans, err := c.pc.CreateAnswer(nil)
	must(t, err)
	must(t, c.pc.SetLocalDescription(ans))
	<-webrtc.GatheringCompletePromise(c.pc)
	must(t, leg.AcceptAnswer(c.pc.LocalDescription().SDP))
	waitFor(t, 5*time.Second, "connected", func() bool { return c.connected() && leg.State() == StateConnected })
	// The server sent the offer with PT 101; the client answered with the offered PT.
	must(t, leg.SendDTMF(context.Background(), "5"))
	waitFor(t, time.Second, "digit", func() bool { return len(digitsOf(c.packets(), 101)) == 1 })
}

func TestAnswerRejectsOfferWithoutAudio(t *testing.T) {
	e := newTestEngine(t, Config{})
	pc, err := clientAPI(t, 101).NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	defer pc.Close()
	_, err = pc.CreateDataChannel("chat", nil)
	must(t, err)
	offer, err := pc.CreateOffer(nil)
	must(t, err)
	leg, err := e.NewLeg(LegOptions{})
	must(t, err)
	defer leg.Close()
	for _, sdp := range []string{offer.SDP, "garbage"} {
		if _, err := leg.Answer(sdp); !errors.Is(err, ErrNoAudio) {
			t.Fatalf("Answer = %v, want ErrNoAudio", err)
		}
	}
	// The leg stays usable for a proper offer.
	c := newClient(t, clientAPI(t, 101), 101, true)
	connect(t, c, leg)
	waitFor(t, 5*time.Second, "connected", c.connected)
}

func TestForwardBothWaysRaw(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 126), 126)
	b := dial(t, e, clientAPI(t, 101), 101)
	bridge(t, a.leg, b.leg)
	ctx, cancel := context.WithCancel(context.Background())
	waitA := a.c.toneSender(ctx, 1000)
	waitB := b.c.toneSender(ctx, 1500)
	time.Sleep(400 * time.Millisecond)
	cancel()
	waitA()
	waitB()
	time.Sleep(60 * time.Millisecond)
	if r := dominant(b.c.lastPCM(10), 1000); r < 0.8 {
		t.Fatalf("B hears 1 kHz at ratio %.2f", r)
	}
	if r := dominant(a.c.lastPCM(10), 1500); r < 0.8 {
		t.Fatalf("A hears 1.5 kHz at ratio %.2f", r)
	}
	// Raw relay: B's payloads are byte-identical to frames of A's µ-law tone.
	ref := make([]byte, 160*40)
	audio.NewTone(1000, 6000).FillULaw(ref)
	for _, p := range b.c.packets()[:5] {
		if !bytes.Contains(ref, p.payload) {
			t.Fatal("forwarded payload was re-encoded")
		}
	}
	// DTMF from A is relayed to B with B's telephone-event payload type.
	a.c.sendDigit('7')
	waitFor(t, time.Second, "relayed digit", func() bool { return string(digitsOf(b.c.packets(), 101)) == "7" })
}

func TestReceiveDTMF(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 126), 126)
	got := make(chan rune, 10)
	a.leg.OnDTMF(func(d rune) { got <- d })
	for _, d := range "1#9" {
		a.c.sendDigit(d)
	}
	a.leg.SetAudioMuted(true) // detection still works while muted
	a.c.sendDigit('*')
	var s []rune
	for len(s) < 4 {
		select {
		case d := <-got:
			s = append(s, d)
		case <-time.After(2 * time.Second):
			t.Fatalf("digits so far %q", string(s))
		}
	}
	select {
	case d := <-got:
		t.Fatalf("extra digit %q", d)
	case <-time.After(100 * time.Millisecond):
	}
	if string(s) != "1#9*" {
		t.Fatalf("digits %q", string(s))
	}
}

// digitsOf decodes RFC 4733 digits from received packets of payload type pt.
func digitsOf(ps []rxPacket, pt uint8) []rune {
	var r dtmf.Receiver
	var out []rune
	for _, p := range ps {
		if p.hdr.PayloadType == pt {
			if d, ok := r.Push(p.hdr.Timestamp, p.payload); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

func TestSendDTMF(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 126), 126)
	b := dial(t, e, clientAPI(t, 101), 101)
	bridge(t, a.leg, b.leg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := a.c.toneSender(ctx, 1000)
	defer func() { cancel(); wait() }()
	time.Sleep(100 * time.Millisecond)

	if err := b.leg.SendDTMF(context.Background(), "12x"); !errors.Is(err, dtmf.ErrInvalidDigit) {
		t.Fatalf("invalid digit: %v", err)
	}
	start := time.Now()
	must(t, b.leg.SendDTMF(context.Background(), "12#"))
	took := time.Since(start)
	returned := time.Now()
	// 3 digits of 200 ms, the last without its trailing gap: at least 2·200+160 ms.
	if took < 540*time.Millisecond {
		t.Fatalf("SendDTMF returned after %v, before the tones could be sent", took)
	}
	time.Sleep(80 * time.Millisecond)
	cancel()
	ps := b.c.packets()
	if d := string(digitsOf(ps, 101)); d != "12#" {
		t.Fatalf("client received digits %q", d)
	}
	var ends int
	var lastEnd time.Time
	var ssrc uint32
	for i, p := range ps {
		if i == 0 {
			ssrc = p.hdr.SSRC
		}
		if p.hdr.SSRC != ssrc {
			t.Fatal("DTMF on another SSRC")
		}
		if i > 0 && p.hdr.SequenceNumber != ps[i-1].hdr.SequenceNumber+1 {
			t.Fatalf("sequence gap at %d: %d -> %d", i, ps[i-1].hdr.SequenceNumber, p.hdr.SequenceNumber)
		}
		if p.hdr.PayloadType == 101 {
			if ev, _ := dtmf.Parse(p.payload); ev.End && ev.Code == 11 {
				ends++
				lastEnd = p.at
			}
		}
	}
	if ends != 3 {
		t.Fatalf("%d end packets for '#'", ends)
	}
	if lastEnd.After(returned.Add(10 * time.Millisecond)) {
		t.Fatalf("last end packet arrived %v after SendDTMF returned", lastEnd.Sub(returned))
	}
	// Audio resumed after the events (the 1 kHz tone is still relayed).
	if r := dominant(b.c.lastPCM(3), 1000); r < 0.8 {
		t.Fatalf("audio after DTMF: ratio %.2f", r)
	}
	// Cancelling via ctx ends the tone properly and returns ctx's error.
	cctx, ccancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer ccancel()
	if err := b.leg.SendDTMF(cctx, "999"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled SendDTMF: %v", err)
	}
}

func TestHoldAndRetrieve(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 101), 101)
	b := dial(t, e, clientAPI(t, 101), 101)
	bridge(t, a.leg, b.leg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitA := a.c.toneSender(ctx, 1000)
	waitB := b.c.toneSender(ctx, 1500)
	defer func() { cancel(); waitA(); waitB() }()
	time.Sleep(200 * time.Millisecond)

	// A holds B: B hears hold music, A hears nothing, nothing crosses.
	hold := NewPlayer(prompts.Hold(), true)
	must(t, b.leg.SetAudioOutput(hold))
	must(t, a.leg.SetAudioOutput(Silence))
	time.Sleep(60 * time.Millisecond)
	a.c.reset()
	b.c.reset()
	time.Sleep(500 * time.Millisecond)
	if n := len(a.c.packets()); n != 0 {
		t.Fatalf("held: A received %d packets", n)
	}
	ps := b.c.packets()
	if len(ps) < 20 {
		t.Fatalf("held: B received only %d packets", len(ps))
	}
	clip := prompts.Hold()
	var loud int
	for _, p := range ps {
		if !bytes.Contains(clip, p.payload) && !bytes.Equal(p.payload[:80], clip[len(clip)-80:]) {
			t.Fatalf("held: B received a packet that is not hold audio")
		}
		if audio.RMS(audio.Decode(make([]int16, 160), p.payload)) > 300 {
			loud++
		}
	}
	if loud == 0 {
		t.Fatal("hold audio is silent")
	}
	// Retrieve.
	bridge(t, a.leg, b.leg)
	select {
	case <-hold.Done():
	case <-time.After(time.Second):
		t.Fatal("hold player not done after switching away")
	}
	if hold.Completed() {
		t.Fatal("a looping player cannot complete")
	}
	time.Sleep(300 * time.Millisecond)
	if r := dominant(b.c.lastPCM(8), 1000); r < 0.8 {
		t.Fatalf("retrieved: B hears 1 kHz at %.2f", r)
	}
	if r := dominant(a.c.lastPCM(8), 1500); r < 0.8 {
		t.Fatalf("retrieved: A hears 1.5 kHz at %.2f", r)
	}
}

func TestMute(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 101), 101)
	b := dial(t, e, clientAPI(t, 101), 101)
	bridge(t, a.leg, b.leg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := a.c.toneSender(ctx, 1000)
	defer func() { cancel(); wait() }()
	time.Sleep(200 * time.Millisecond)
	a.leg.SetAudioMuted(true)
	if !a.leg.AudioMuted() {
		t.Fatal("not muted")
	}
	time.Sleep(60 * time.Millisecond)
	b.c.reset()
	in := a.leg.Stats().PacketsIn
	time.Sleep(300 * time.Millisecond)
	if n := len(b.c.packets()); n != 0 {
		t.Fatalf("muted: B received %d packets", n)
	}
	if a.leg.Stats().PacketsIn-in < 10 {
		t.Fatal("A stopped sending; the test proves nothing")
	}
	a.leg.SetAudioMuted(false)
	waitFor(t, time.Second, "unmuted audio", func() bool { return len(b.c.packets()) > 5 })
}

func TestPlayerOnce(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 101), 101)
	clip := prompts.MustGet(prompts.Invalid)[:160*10+37] // 11 frames
	p := NewPlayer(clip, false)
	must(t, a.leg.SetAudioOutput(p))
	if err := a.leg.SetAudioOutput(p); err != nil {
		t.Fatalf("setting the current source again: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("player never finished")
	}
	if !p.Completed() {
		t.Fatal("not completed")
	}
	time.Sleep(60 * time.Millisecond)
	if n := len(a.c.packets()); n != 11 {
		t.Fatalf("client got %d packets, want 11", n)
	}
	// A used player cannot be attached again, anywhere.
	if err := a.leg.SetAudioOutput(Silence); err != nil {
		t.Fatal(err)
	}
	if err := a.leg.SetAudioOutput(p); !errors.Is(err, ErrSourceInUse) {
		t.Fatalf("reuse: %v", err)
	}
	if err := a.leg.SetAudioOutput(Forward(a.leg)); !errors.Is(err, ErrSelfForward) {
		t.Fatalf("self forward: %v", err)
	}
}

func TestMixerThreeParties(t *testing.T) {
	e := newTestEngine(t, Config{})
	api := clientAPI(t, 101)
	freqs := []float64{700, 1100, 1500}
	var ps []party
	for range freqs {
		ps = append(ps, dial(t, e, api, 101))
	}
	m := e.NewMixer()
	defer m.Close()
	for _, p := range ps {
		must(t, m.Add(p.leg))
	}
	if m.Len() != 3 {
		t.Fatal("mixer inputs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var waits []func()
	for i, p := range ps {
		waits = append(waits, p.c.toneSender(ctx, freqs[i]))
	}
	time.Sleep(600 * time.Millisecond)
	cancel()
	for _, w := range waits {
		w()
	}
	for i, p := range ps {
		pcm := p.c.lastPCM(15)[:160*10]
		for j, f := range freqs {
			r := dominant(pcm, f)
			if i == j && r > 0.05 {
				t.Errorf("party %d hears its own %v Hz (ratio %.2f)", i, f, r)
			}
			if i != j && r < 0.3 {
				t.Errorf("party %d hears %v Hz only at ratio %.2f", i, f, r)
			}
		}
	}
	// Removing a party: it goes silent and the others stop hearing it.
	m.Remove(ps[2].leg)
	if ps[2].leg.AudioOutput() != Silence || m.Len() != 2 {
		t.Fatal("Remove did not detach the party")
	}
}

// TestSourceSwitchContinuity switches B's output through every kind of source while recording;
// the wire must show one SSRC with consecutive sequence numbers and growing timestamps.
func TestSourceSwitchContinuity(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 101), 101)
	b := dial(t, e, clientAPI(t, 101), 101)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := a.c.toneSender(ctx, 1000)
	defer func() { cancel(); wait() }()
	m := e.NewMixer()
	defer m.Close()
	must(t, m.AddInput(a.leg))
	steps := []AudioSource{
		Forward(a.leg), NewPlayer(prompts.Hold(), true), Silence, m.Output(),
		NewPlayer(prompts.MustGet(prompts.Queue), false), Forward(a.leg),
	}
	for _, s := range steps {
		must(t, b.leg.SetAudioOutput(s))
		time.Sleep(150 * time.Millisecond)
	}
	must(t, b.leg.SendDTMF(context.Background(), "4"))
	time.Sleep(150 * time.Millisecond)
	cancel()
	time.Sleep(40 * time.Millisecond)
	ps := b.c.packets()
	if len(ps) < 30 {
		t.Fatalf("only %d packets", len(ps))
	}
	markers := 0
	for i := 1; i < len(ps); i++ {
		p, q := ps[i-1].hdr, ps[i].hdr
		if q.SSRC != p.SSRC {
			t.Fatal("SSRC changed")
		}
		if q.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d -> %d", i, p.SequenceNumber, q.SequenceNumber)
		}
		if int32(q.Timestamp-p.Timestamp) < 0 {
			t.Fatalf("packet %d: timestamp went back %d -> %d", i, p.Timestamp, q.Timestamp)
		}
		if q.Marker {
			markers++
		}
	}
	if markers < 4 {
		t.Fatalf("%d marker bits, want one per switch", markers)
	}
}
