package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/pion/rtp"
)

// farEnd plays a SIP phone's media: a real UDP socket sending and receiving plain RTP.
type farEnd struct {
	t    testing.TB
	conn *net.UDPConn
	pt   uint8
	tePT uint8
	alaw bool
	dst  *net.UDPAddr
	seq  uint16
	ts   uint32

	mu  sync.Mutex
	got []rxPacket
	src []*net.UDPAddr
}

func newFarEnd(t testing.TB, alaw bool, tePT uint8) *farEnd {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	f := &farEnd{t: t, conn: c, tePT: tePT, alaw: alaw}
	if alaw {
		f.pt = 8
	}
	go f.read()
	t.Cleanup(func() { _ = c.Close() })
	return f
}

func (f *farEnd) port() int { return f.conn.LocalAddr().(*net.UDPAddr).Port }

// offer is an SDP offer as a SIP phone writes it, for port (0: the far end's own).
func (f *farEnd) offer(port int, dir Direction) string {
	if port == 0 {
		port = f.port()
	}
	codec := "0 PCMU"
	if f.alaw {
		codec = "8 PCMA"
	}
	pt, name, _ := strings.Cut(codec, " ")
	return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP %s %d\r\na=rtpmap:%s %s/8000\r\na=rtpmap:%d telephone-event/8000\r\n"+
		"a=fmtp:%d 0-16\r\na=ptime:20\r\na=%s\r\n", port, pt, f.tePT, pt, name, f.tePT, f.tePT, dir)
}

// connectTo sets where the far end sends: the leg's RTP port.
func (f *farEnd) connectTo(l *RTPLeg) {
	f.dst = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.LocalPort()}
}

func (f *farEnd) read() {
	buf := make([]byte, 1500)
	for {
		n, src, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if n >= 2 && buf[1] >= 200 && buf[1] <= 204 {
			continue // RTCP on the RTP port (not expected, ignored)
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		f.mu.Lock()
		f.got = append(f.got, rxPacket{hdr: p.Header, payload: append([]byte(nil), p.Payload...)})
		f.src = append(f.src, src)
		f.mu.Unlock()
	}
}

func (f *farEnd) send(pt uint8, marker bool, ts uint32, payload []byte) {
	f.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: f.seq,
		Timestamp: ts, SSRC: 0x5151, Marker: marker}, Payload: payload}).Marshal()
	must(f.t, err)
	_, _ = f.conn.WriteToUDP(b, f.dst)
}

// sendULaw sends one 20 ms frame given in µ-law, encoded in the far end's law.
func (f *farEnd) sendULaw(ulaw []byte) {
	f.ts += 160
	p := ulaw
	if f.alaw {
		p = audio.ULawToALaw(make([]byte, len(ulaw)), ulaw)
	}
	f.send(f.pt, false, f.ts, p)
}

// sendDigitNoMarker sends a carrier-style event that never sets the Marker bit.
func (f *farEnd) sendDigitNoMarker(d rune) {
	code, _ := dtmf.Code(d)
	f.ts += 160
	start := f.ts
	for i := 1; i <= 4; i++ {
		f.send(f.tePT, false, start, dtmf.Event{Code: code, Volume: 10, Duration: uint16(i * 160)}.Marshal(make([]byte, 4)))
	}
	for range 3 {
		f.send(f.tePT, false, start, dtmf.Event{Code: code, End: true, Volume: 10, Duration: 800}.Marshal(make([]byte, 4)))
	}
	f.ts += 800
}

func (f *farEnd) tone(ctx context.Context, freq float64) func() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tone := audio.NewTone(freq, 6000)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		buf := make([]byte, 160)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				tone.FillULaw(buf)
				f.sendULaw(buf)
			}
		}
	}()
	return wg.Wait
}

func (f *farEnd) packets() []rxPacket {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rxPacket(nil), f.got...)
}

// audioPCM decodes the far end's last n audio packets (in its law).
func (f *farEnd) audioPCM(n int) []int16 {
	var frames [][]byte
	ps := f.packets()
	for i := len(ps) - 1; i >= 0 && len(frames) < n; i-- {
		if ps[i].hdr.PayloadType == f.pt {
			frames = append(frames, ps[i].payload)
		}
	}
	var pcm []int16
	for i := len(frames) - 1; i >= 0; i-- {
		for _, b := range frames[i] {
			if f.alaw {
				pcm = append(pcm, audio.ALawDecodeSample(b))
			} else {
				pcm = append(pcm, audio.DecodeSample(b))
			}
		}
	}
	return pcm
}

func (f *farEnd) audioCount() int {
	n := 0
	for _, p := range f.packets() {
		if p.hdr.PayloadType == f.pt {
			n++
		}
	}
	return n
}

func newRTPTestLeg(t testing.TB, e *Engine, codecs ...string) *RTPLeg {
	l, err := e.NewRTPLeg(RTPOptions{Codecs: codecs, BindIP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// A SIP far end and a WebRTC client talk through a Relay both ways, in µ-law (passed through
// byte for byte) and in A-law (translated at the RTP socket).
func TestRTPLegRelaysWithWebRTC(t *testing.T) {
	for _, law := range []string{CodecPCMU, CodecPCMA} {
		t.Run(law, func(t *testing.T) {
			e := newTestEngine(t, Config{RTPPortMin: 31000, RTPPortMax: 31099})
			web := dial(t, e, clientAPI(t, 101), 101)
			far := newFarEnd(t, law == CodecPCMA, 96)
			l := newRTPTestLeg(t, e)
			ans, err := l.Answer(far.offer(0, SendRecv))
			must(t, err)
			if !strings.Contains(ans, law+"/8000") || !strings.Contains(ans, "a=rtpmap:96 telephone-event") ||
				l.Codec() != law {
				t.Fatalf("answer does not pick %s with telephone-event 96:\n%s", law, ans)
			}
			far.connectTo(l)
			must(t, l.SetAudioOutput(Forward(web.leg)))
			must(t, web.leg.SetAudioOutput(Forward(l)))
			ctx, cancel := context.WithCancel(context.Background())
			waitFar := far.tone(ctx, 1000)
			waitWeb := web.c.toneSender(ctx, 1500)
			waitFor(t, 5*time.Second, "20 relayed frames each way", func() bool {
				return web.c.audioPackets() >= 20 && far.audioCount() >= 20
			})
			cancel()
			waitFar()
			waitWeb()
			if r := dominant(web.c.lastPCM(10), 1000); r < 0.8 {
				t.Fatalf("WebRTC client hears 1 kHz at ratio %.2f", r)
			}
			if r := dominant(far.audioPCM(10), 1500); r < 0.8 {
				t.Fatalf("SIP far end hears 1.5 kHz at ratio %.2f", r)
			}
			if l.State() != StateConnected {
				t.Fatalf("state %s, want connected", l.State())
			}
			if law == CodecPCMU { // no transcoding: the far end's bytes reach the browser as sent
				ref := make([]byte, 160*40)
				audio.NewTone(1000, 6000).FillULaw(ref)
				if p := web.c.packets()[0]; !bytes.Contains(ref, p.payload) {
					t.Fatal("µ-law was re-encoded on the way to WebRTC")
				}
			}
		})
	}
}

// Symmetric RTP: the SDP names a port nobody sends from; the leg answers to the source of the
// packets it receives. DTMF without the Marker bit is decoded on End, and DTMF sent to the far
// end uses the payload type it negotiated.
func TestRTPLegLatchesAndDTMF(t *testing.T) {
	e := newTestEngine(t, Config{RTPPortMin: 31100, RTPPortMax: 31199})
	far := newFarEnd(t, false, 96)
	decoy := newFarEnd(t, false, 96) // the address the SDP claims (behind NAT, never used)
	l := newRTPTestLeg(t, e, CodecPCMU)
	digits := make(chan rune, 4)
	l.OnDTMF(func(d rune) { digits <- d })
	_, err := l.Answer(far.offer(decoy.port(), SendRecv))
	must(t, err)
	far.connectTo(l)
	far.sendULaw(bytes.Repeat([]byte{audio.Silence}, 160))
	waitFor(t, 5*time.Second, "connected", func() bool { return l.State() == StateConnected })
	far.sendDigitNoMarker('5')
	select {
	case d := <-digits:
		if d != '5' {
			t.Fatalf("digit %q, want 5", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit from an event without Marker bit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, l.SendDTMF(ctx, "9"))
	if got := string(digitsOf(far.packets(), 96)); got != "9" {
		t.Fatalf("far end got digits %q on PT 96, want 9", got)
	}
	if len(decoy.packets()) != 0 {
		t.Fatal("the leg sent to the SDP address instead of latching to the packets' source")
	}
	// A stranger's packets are dropped once latched.
	stranger := newFarEnd(t, false, 96)
	stranger.connectTo(l)
	before := l.Stats().PacketsIn
	stranger.sendDigitNoMarker('1')
	far.sendULaw(bytes.Repeat([]byte{audio.Silence}, 160))
	waitFor(t, 5*time.Second, "the far end's next packet", func() bool { return l.Stats().PacketsIn > before })
	if got := l.Stats().PacketsIn - before; got != 1 {
		t.Fatalf("%d packets accepted, want only the latched far end's 1", got)
	}
}

// Offers the leg cannot take change nothing: no common law (488), unparsable or audio-less SDP.
// A sendonly re-offer (hold) is answered recvonly, shown as held, and the leg stops sending.
func TestRTPLegNegotiationRefusalsAndHold(t *testing.T) {
	e := newTestEngine(t, Config{RTPPortMin: 31200, RTPPortMax: 31299})
	l := newRTPTestLeg(t, e, CodecPCMA)
	ulaw := newFarEnd(t, false, 101)
	if _, err := l.Answer(ulaw.offer(0, SendRecv)); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("µ-law offer to an A-law leg: %v, want ErrNoCommonCodec", err)
	}
	for _, bad := range []string{"", "v=0\r\nnonsense", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\n"} {
		if _, err := l.Answer(bad); !errors.Is(err, ErrBadSDP) {
			t.Fatalf("Answer(%q) = %v, want ErrBadSDP", bad, err)
		}
	}
	if l.Codec() != "" || l.State() != StateNew {
		t.Fatal("a refused offer changed the leg")
	}
	holds := make(chan bool, 4)
	l.OnRemoteHold(func(held bool) { holds <- held })
	far := newFarEnd(t, true, 101)
	_, err := l.Answer(far.offer(0, SendRecv))
	must(t, err)
	far.connectTo(l)
	must(t, l.SetAudioOutput(NewPlayer(bytes.Repeat([]byte{0x10}, 160*500), false)))
	waitFor(t, 5*time.Second, "prompt audio at the far end", func() bool { return far.audioCount() > 3 })
	ans, err := l.Answer(far.offer(0, SendOnly))
	must(t, err)
	if !strings.Contains(ans, "a=recvonly") || !l.RemoteHeld() {
		t.Fatalf("hold re-offer: held=%v answer:\n%s", l.RemoteHeld(), ans)
	}
	if h := recvHold(t, holds); !h {
		t.Fatal("OnRemoteHold(false) for a sendonly re-offer")
	}
	if _, err := l.Answer(far.offer(0, Inactive)); err != nil { // still held: not reported again
		t.Fatal(err)
	}
	sentAtHold := l.Stats().PacketsOut
	waitFor(t, 5*time.Second, "the output to keep ticking while held", func() bool { return l.Stats().PacketsOut > sentAtHold+5 })
	n := far.audioCount()
	// Numbering advanced by 5+ packets while held; none reached the far end except those in flight.
	if got := far.audioCount(); got > n+1 {
		t.Fatalf("%d packets reached the far end while it held the call", got-n)
	}
	_, err = l.Answer(far.offer(0, SendRecv))
	must(t, err)
	waitFor(t, 5*time.Second, "audio after retrieve", func() bool { return far.audioCount() > n+3 })
	if h := recvHold(t, holds); h || len(holds) != 0 {
		t.Fatalf("after retrieve: OnRemoteHold(%v), %d more reports; want one false", h, len(holds))
	}
}

func recvHold(t *testing.T, c <-chan bool) bool {
	t.Helper()
	select {
	case h := <-c:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no OnRemoteHold report")
		return false
	}
}

// A far end that goes quiet (no RTP, no RTCP) is reported Disconnected, then Failed.
func TestRTPLegLiveness(t *testing.T) {
	e := newTestEngine(t, Config{RTPPortMin: 31300, RTPPortMax: 31399,
		RTPDisconnectedTimeout: 200 * time.Millisecond, RTPFailedTimeout: 600 * time.Millisecond})
	l := newRTPTestLeg(t, e)
	states := make(chan State, 8)
	l.OnState(func(s State) { states <- s })
	far := newFarEnd(t, false, 101)
	_, err := l.Answer(far.offer(0, SendRecv))
	must(t, err)
	far.connectTo(l)
	far.sendULaw(bytes.Repeat([]byte{audio.Silence}, 160))
	var seen []State
	deadline := time.After(10 * time.Second)
	for len(seen) == 0 || seen[len(seen)-1] != StateFailed {
		select {
		case s := <-states:
			seen = append(seen, s)
		case <-deadline:
			t.Fatalf("states %v, want ... failed", seen)
		}
	}
	want := []State{StateConnecting, StateConnected, StateDisconnected, StateFailed}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", seen, want)
	}
}

// A Mixer takes RTP and WebRTC legs alike: the SIP far end hears both browsers.
func TestMixerMixesRTPAndWebRTCLegs(t *testing.T) {
	e := newTestEngine(t, Config{RTPPortMin: 31400, RTPPortMax: 31499})
	a := dial(t, e, clientAPI(t, 101), 101)
	b := dial(t, e, clientAPI(t, 101), 101)
	far := newFarEnd(t, false, 101)
	l := newRTPTestLeg(t, e)
	_, err := l.Answer(far.offer(0, SendRecv))
	must(t, err)
	far.connectTo(l)
	m := e.Port().NewMixer()
	defer m.Close()
	for _, leg := range []media.Leg{a.leg, b.leg, l} {
		must(t, m.Add(leg))
	}
	ctx, cancel := context.WithCancel(context.Background())
	wa := a.c.toneSender(ctx, 700)
	wb := b.c.toneSender(ctx, 1900)
	wf := far.tone(ctx, 1200)
	waitFor(t, 10*time.Second, "mixed audio everywhere", func() bool {
		pf := far.audioPCM(10)
		return len(pf) >= 1600 && dominant(pf, 700) > 0.2 && dominant(pf, 1900) > 0.2 &&
			dominant(a.c.lastPCM(10), 1200) > 0.2
	})
	cancel()
	wa()
	wb()
	wf()
}
