package peer

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The test client plays the browser: a pion peer with PCMU + telephone-event (on its own
// payload type), sending raw RTP on one SSRC and recording what it receives.

type rxPacket struct {
	hdr     rtp.Header
	payload []byte
	at      time.Time
}

type rawTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   map[string]uint8
}

func (t *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), map[string]uint8{}
	var first *webrtc.RTPCodecParameters
	for i, c := range ctx.CodecParameters() {
		t.pt[strings.ToLower(c.MimeType)] = uint8(c.PayloadType)
		if strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU) {
			first = &ctx.CodecParameters()[i]
		}
	}
	if first == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	return *first, nil
}
func (t *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *rawTrack) ID() string                            { return "mic" }
func (t *rawTrack) RID() string                           { return "" }
func (t *rawTrack) StreamID() string                      { return "browser" }
func (t *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

type client struct {
	t     testing.TB
	pc    *webrtc.PeerConnection
	track *rawTrack
	tePT  uint8

	mu       sync.Mutex
	got      []rxPacket
	keep     bool // record packets (functional tests); the load test only counts
	onPacket func(h *rtp.Header, payload []byte, at time.Time)
	remote   bool
	pending  []webrtc.ICECandidateInit
	rxCount  atomic.Uint64
	readers  sync.WaitGroup

	seq uint16
	ts  uint32
}

func clientAPI(t testing.TB, tePT uint8) *webrtc.API {
	m := &webrtc.MediaEngine{}
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0}, webrtc.RTPCodecTypeAudio))
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-15"},
		PayloadType:        webrtc.PayloadType(tePT)}, webrtc.RTPCodecTypeAudio))
	var s webrtc.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newClient(t testing.TB, api *webrtc.API, tePT uint8, keep bool) *client {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	c := &client{t: t, pc: pc, track: &rawTrack{}, tePT: tePT, keep: keep, seq: 1000, ts: 5000}
	_, err = pc.AddTrack(c.track)
	must(t, err)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.readers.Add(1)
		defer c.readers.Done()
		buf := make([]byte, 1500)
		var p rtp.Packet
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				if strings.Contains(err.Error(), "codec not found") {
					continue
				}
				return
			}
			if p.Unmarshal(buf[:n]) != nil {
				continue
			}
			now := time.Now()
			c.rxCount.Add(1)
			if c.onPacket != nil {
				c.onPacket(&p.Header, p.Payload, now)
			}
			if c.keep {
				c.mu.Lock()
				c.got = append(c.got, rxPacket{hdr: p.Header.Clone(), payload: append([]byte(nil), p.Payload...), at: now})
				c.mu.Unlock()
			}
		}
	})
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	_ = c.pc.Close()
	c.readers.Wait()
}

// connect negotiates c (offerer) with leg (answerer), trickling candidates both ways.
func connect(t testing.TB, c *client, leg *Leg) {
	t.Helper()
	c.pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic != nil {
			_ = leg.AddCandidate(ic.ToJSON())
		}
	})
	leg.OnCandidate(func(ci *Candidate) {
		if ci != nil {
			c.addCandidate(*ci)
		}
	})
	offer, err := c.pc.CreateOffer(nil)
	must(t, err)
	must(t, c.pc.SetLocalDescription(offer))
	answer, err := leg.Answer(offer.SDP)
	must(t, err)
	must(t, c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	c.remoteApplied()
}

func (c *client) addCandidate(ci webrtc.ICECandidateInit) {
	c.mu.Lock()
	if !c.remote {
		c.pending = append(c.pending, ci)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = c.pc.AddICECandidate(ci)
}

func (c *client) remoteApplied() {
	c.mu.Lock()
	c.remote = true
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ci := range p {
		_ = c.pc.AddICECandidate(ci)
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval: cond, not this, is the synchronisation
	}
}

func (c *client) connected() bool {
	c.track.mu.Lock()
	bound := c.track.w != nil
	c.track.mu.Unlock()
	return bound && c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// send writes one packet on the client's single SSRC.
func (c *client) send(pt uint8, marker bool, ts uint32, payload []byte) {
	c.track.mu.Lock()
	w, ssrc := c.track.w, c.track.ssrc
	c.track.mu.Unlock()
	if w == nil {
		return
	}
	c.seq++
	_, _ = w.WriteRTP(&rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: c.seq, Timestamp: ts, SSRC: ssrc, Marker: marker}, payload)
}

// sendAudio writes one 20 ms PCMU frame.
func (c *client) sendAudio(payload []byte) {
	c.ts += 160
	c.send(0, false, c.ts, payload)
}

// sendDigit writes a browser-like RFC 4733 event: 5 updates (one duplicated) and 3 end packets.
func (c *client) sendDigit(d rune) {
	code, _ := dtmf.Code(d)
	c.ts += 160
	start := c.ts
	for i := 1; i <= 5; i++ {
		p := dtmf.Event{Code: code, Volume: 10, Duration: uint16(i * 160)}.Marshal(make([]byte, 4))
		c.send(c.tePT, i == 1, start, p)
		if i == 2 {
			c.send(c.tePT, false, start, p) // duplicate
		}
		time.Sleep(20 * time.Millisecond) // pacing, not synchronisation: one update per 20 ms, like RTCDTMFSender
	}
	for range 3 {
		c.send(c.tePT, false, start, dtmf.Event{Code: code, End: true, Volume: 10, Duration: 800}.Marshal(make([]byte, 4)))
	}
	c.ts += 800
}

// toneSender sends a continuous tone until ctx ends; it returns a wait function.
func (c *client) toneSender(ctx context.Context, freq float64) func() {
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
				c.sendAudio(buf)
			}
		}
	}()
	return wg.Wait
}

func (c *client) packets() []rxPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rxPacket(nil), c.got...)
}

// audioPackets counts the PCMU packets received.
func (c *client) audioPackets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.got {
		if p.hdr.PayloadType == 0 {
			n++
		}
	}
	return n
}

func (c *client) reset() {
	c.mu.Lock()
	c.got = nil
	c.mu.Unlock()
}

// lastPCM decodes the PCMU payloads of the last n audio packets received.
func (c *client) lastPCM(n int) []int16 {
	ps := c.packets()
	var frames [][]byte
	for i := len(ps) - 1; i >= 0 && len(frames) < n; i-- {
		if ps[i].hdr.PayloadType == 0 {
			frames = append(frames, ps[i].payload)
		}
	}
	var pcm []int16
	for i := len(frames) - 1; i >= 0; i-- {
		pcm = append(pcm, audio.Decode(make([]int16, len(frames[i])), frames[i])...)
	}
	return pcm
}
