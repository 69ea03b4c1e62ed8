package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// lastSeq is the sequence number of the last packet o wrote; the stream must have started.
func (o *output) lastSeq(t testing.TB) uint16 {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		t.Fatal("lastSeq: the stream has not started")
	}
	return o.seq
}

// newerThan counts the packets of ps numbered after seq (RTP sequence arithmetic).
func newerThan(ps []rxPacket, seq uint16) int {
	n := 0
	for _, p := range ps {
		if int16(p.hdr.SequenceNumber-seq) > 0 {
			n++
		}
	}
	return n
}

// audioAfterEvents counts the PCMU packets after the last telephone-event (payload type tePT)
// packet of ps; 0 if there is none.
func audioAfterEvents(ps []rxPacket, tePT uint8) int {
	n, seen := 0, false
	for _, p := range ps {
		switch p.hdr.PayloadType {
		case tePT:
			n, seen = 0, true
		case 0:
			n++
		}
	}
	if !seen {
		return 0
	}
	return n
}

// tickCounter counts the rounds of an engine's media clock.
type tickCounter struct{ n atomic.Int64 }

func (c *tickCounter) tick(time.Time) { c.n.Add(1) }

// waitTicks waits until e's media clock has run n more rounds: a window in media time (the
// rounds in which players, mixers and DTMF senders run), not wall time.
func waitTicks(t testing.TB, e *Engine, n int64) {
	t.Helper()
	c := &tickCounter{}
	e.clock.add(c)
	defer e.clock.remove(c)
	waitFor(t, 5*time.Second, fmt.Sprintf("%d clock ticks", n), func() bool { return c.n.Load() >= n })
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
	gathered := make(chan struct{})
	c := newClient(t, api, 101, true)
	c.pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic == nil { // pion reports candidates in order on one goroutine, nil last
			close(gathered)
			return
		}
		if err := leg.AddCandidate(ic.ToJSON()); err != nil { // before the offer: queued
			t.Errorf("AddCandidate before the offer: %v", err)
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
	// Every client candidate reaches the leg before the offer (queued there until Answer).
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		t.Fatal("client gathering never completed")
	}
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
	// 20 relayed frames each way (what the former 400 ms gave); the senders stop before the
	// check so the last 10 frames each side received are all relayed tone.
	waitFor(t, 5*time.Second, "20 relayed frames each way", func() bool {
		return b.c.audioPackets() >= 20 && a.c.audioPackets() >= 20
	})
	cancel()
	waitA()
	waitB()
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
	// Sentinel instead of a quiet period: digits are reported in arrival order, so an extra
	// report of any of the first four (a duplicate, an end packet counted again) shows up before
	// the '0' does.
	a.c.sendDigit('0')
	var s []rune
	for len(s) == 0 || s[len(s)-1] != '0' {
		select {
		case d := <-got:
			s = append(s, d)
		case <-time.After(2 * time.Second):
			t.Fatalf("digits so far %q", string(s))
		}
	}
	if string(s) != "1#9*0" {
		t.Fatalf("digits %q (want 1#9* and the sentinel 0)", string(s))
	}
}

// Digits that arrive before the handler is set (the far end pressed a key the moment its media
// was up, before the core took the leg) wait for it and reach it first, in order.
func TestReceiveDTMFBeforeHandler(t *testing.T) {
	e := newTestEngine(t, Config{})
	a := dial(t, e, clientAPI(t, 126), 126)
	for _, d := range "12" {
		a.c.sendDigit(d)
	}
	waitFor(t, 2*time.Second, "two digits waiting", func() bool { return len(earlyDigits(a.leg)) == 2 })
	got := make(chan rune, 10)
	a.leg.OnDTMF(func(d rune) { got <- d })
	a.c.sendDigit('3')
	var s []rune
	for len(s) < 3 {
		select {
		case d := <-got:
			s = append(s, d)
		case <-time.After(2 * time.Second):
			t.Fatalf("digits so far %q", string(s))
		}
	}
	if string(s) != "123" {
		t.Fatalf("digits %q, want 123 (the two early ones first)", string(s))
	}
}

// earlyDigits reads the leg's waiting digits on its event goroutine.
func earlyDigits(l *Leg) []rune {
	ch := make(chan []rune, 1)
	l.post(func() { ch <- append([]rune(nil), l.early...) })
	return <-ch
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
	waitFor(t, 3*time.Second, "A's tone at B", func() bool { return b.c.audioPackets() >= 3 })

	if err := b.leg.SendDTMF(context.Background(), "12x"); !errors.Is(err, dtmf.ErrInvalidDigit) {
		t.Fatalf("invalid digit: %v", err)
	}
	start := time.Now()
	must(t, b.leg.SendDTMF(context.Background(), "12#"))
	took := time.Since(start)
	seqAtReturn := b.leg.out.lastSeq(t) // every packet written before SendDTMF returned is <= this
	// 3 digits of 200 ms, the last without its trailing gap: at least 2·200+160 ms.
	if took < 540*time.Millisecond {
		t.Fatalf("SendDTMF returned after %v, before the tones could be sent", took)
	}
	// Packets arrive in order: once 3 audio frames follow the last event packet at B, every
	// event packet is in, and audio has resumed (its content is checked below).
	waitFor(t, 3*time.Second, "audio at B after the events", func() bool { return audioAfterEvents(b.c.packets(), 101) >= 3 })
	cancel()
	ps := b.c.packets()
	if d := string(digitsOf(ps, 101)); d != "12#" {
		t.Fatalf("client received digits %q", d)
	}
	var ends int
	var lastEnd uint16
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
				lastEnd = p.hdr.SequenceNumber
			}
		}
	}
	if ends != 3 {
		t.Fatalf("%d end packets for '#'", ends)
	}
	// Was: arrival within 10 ms of the return, which a loaded machine's scheduling breaks. The
	// stream's sequence number at the return says it exactly: an end packet written after
	// SendDTMF returned is numbered after it.
	if int16(lastEnd-seqAtReturn) > 0 {
		t.Fatalf("last end packet (seq %d) written after SendDTMF returned (stream at seq %d)", lastEnd, seqAtReturn)
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
	waitFor(t, 3*time.Second, "audio both ways", func() bool { return a.c.audioPackets() >= 5 && b.c.audioPackets() >= 5 })

	// A holds B: B hears hold music, A hears nothing, nothing crosses.
	hold := NewPlayer(prompts.Hold(), true)
	must(t, b.leg.SetAudioOutput(hold))
	must(t, a.leg.SetAudioOutput(Silence))
	aSeq := a.leg.out.lastSeq(t) // anything A's leg writes from now on is numbered after this
	clip := prompts.Hold()
	isHold := func(p []byte) bool { return bytes.Contains(clip, p) || bytes.Equal(p[:80], clip[len(clip)-80:]) }
	// packets relayed before the switch may still be in flight: start counting once B's newest
	// packet is hold audio, then watch a window of 20 packets at B
	b.c.reset()
	waitFor(t, 3*time.Second, "hold audio at B", func() bool {
		ps := b.c.packets()
		return len(ps) > 0 && isHold(ps[len(ps)-1].payload)
	})
	a.c.reset()
	b.c.reset()
	// The window: B gets 20 packets of hold music while B's client keeps sending (15 packets
	// into its leg), so a relay that survived the switch to Silence would reach A in it.
	// Stragglers relayed before the switch are numbered <= aSeq and do not count.
	bIn := b.leg.Stats().PacketsIn
	waitFor(t, 3*time.Second, "20 packets at B", func() bool {
		return len(b.c.packets()) >= 20 && b.leg.Stats().PacketsIn-bIn >= 15
	})
	if n := newerThan(a.c.packets(), aSeq); n != 0 {
		t.Fatalf("held: A received %d packets", n)
	}
	ps := b.c.packets()
	if len(ps) < 20 {
		t.Fatalf("held: B received only %d packets", len(ps))
	}
	var loud int
	for _, p := range ps {
		if !isHold(p.payload) {
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
	waitFor(t, 3*time.Second, "B hears 1 kHz after retrieve", func() bool { return dominant(b.c.lastPCM(8), 1000) >= 0.8 })
	waitFor(t, 3*time.Second, "A hears 1.5 kHz after retrieve", func() bool { return dominant(a.c.lastPCM(8), 1500) >= 0.8 })
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
	waitFor(t, 3*time.Second, "A's audio at B", func() bool { return len(b.c.packets()) > 5 })
	a.leg.SetAudioMuted(true)
	if !a.leg.AudioMuted() {
		t.Fatal("not muted")
	}
	// A's reader handles packets in turn: once it counted 3 more, a packet it was relaying at
	// the moment of the mute has been written, numbered <= bSeq. Then watch A send 15 more: a
	// relay despite the mute would reach B numbered after bSeq.
	in := a.leg.Stats().PacketsIn
	waitFor(t, 3*time.Second, "A sending while muted", func() bool { return a.leg.Stats().PacketsIn-in >= 3 })
	bSeq := b.leg.out.lastSeq(t)
	b.c.reset()
	in = a.leg.Stats().PacketsIn
	waitFor(t, 3*time.Second, "A sending while muted", func() bool { return a.leg.Stats().PacketsIn-in >= 15 })
	if n := newerThan(b.c.packets(), bSeq); n != 0 {
		t.Fatalf("muted: B received %d packets while A sent %d", n, a.leg.Stats().PacketsIn-in)
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
	// Window in media time: 3 more clock rounds, in at least 2 of which a player that kept
	// ticking after Done would write again. The leg's count is then final; the client must
	// get exactly that.
	waitTicks(t, e, 3)
	if n := a.leg.Stats().PacketsOut; n != 11 {
		t.Fatalf("leg wrote %d packets, want 11", n)
	}
	waitFor(t, 2*time.Second, "11 packets at the client", func() bool { return len(a.c.packets()) >= 11 })
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
	// Once every input is feeding the mixer, 20 more mixed frames at each party; the frames
	// analysed are taken while all senders still run, so every one is a full mix.
	waitFor(t, 5*time.Second, "all inputs feeding", func() bool {
		for _, p := range ps {
			if p.leg.Stats().PacketsIn < 3 {
				return false
			}
		}
		return true
	})
	var rx []uint64
	for _, p := range ps {
		rx = append(rx, p.c.rxCount.Load())
	}
	waitFor(t, 5*time.Second, "20 mixed frames at every party", func() bool {
		for i, p := range ps {
			if p.c.rxCount.Load()-rx[i] < 20 {
				return false
			}
		}
		return true
	})
	var pcms [][]int16
	for _, p := range ps {
		pcms = append(pcms, p.c.lastPCM(15)[:160*10])
	}
	cancel()
	for _, w := range waits {
		w()
	}
	for i, pcm := range pcms {
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
	// Each source gets 5 frames on the wire (Silence, which writes none: 5 frames of A's input
	// go by), so every switch shows up in the stream.
	for _, s := range steps {
		out, in := b.leg.Stats().PacketsOut, a.leg.Stats().PacketsIn
		must(t, b.leg.SetAudioOutput(s))
		if s == Silence {
			waitFor(t, 3*time.Second, "time passing on Silence", func() bool { return a.leg.Stats().PacketsIn-in >= 5 })
			continue
		}
		waitFor(t, 3*time.Second, "5 frames of the new source", func() bool { return b.leg.Stats().PacketsOut-out >= 5 })
	}
	must(t, b.leg.SendDTMF(context.Background(), "4"))
	// In order: 5 audio frames after the event at the client means the whole stream up to
	// there is in; later packets (in flight at cancel) would only extend it.
	waitFor(t, 3*time.Second, "audio after the event at B", func() bool { return audioAfterEvents(b.c.packets(), 101) >= 5 })
	cancel()
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
