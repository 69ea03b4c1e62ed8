// Package rtctest is a Go WebRTC client that stands in for a browser in tests: a real pion peer
// connection offering PCMU and telephone-event, sending tones and RFC 4733 digits on one SSRC
// the way Chromium does, and analysing what it hears (Goertzel tone detection, received digits).
package rtctest

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
)

// TelephoneEventPT is the payload type the client offers for telephone-event (Chromium's 126).
const TelephoneEventPT = 126

// Client is one browser-like peer.
type Client struct {
	t     testing.TB
	pc    *webrtc.PeerConnection
	track *micTrack

	mu      sync.Mutex // guards frames, digits, remote, pending
	frames  [][]byte   // last received PCMU payloads (ring of 50)
	digits  []rune
	recv    dtmf.Receiver
	remote  bool
	pending []webrtc.ICECandidateInit
	teRecv  uint8

	packets atomic.Uint64
	readers sync.WaitGroup

	sendMu sync.Mutex // guards seq, ts
	seq    uint16
	ts     uint32
}

// micTrack is a local audio track that writes raw RTP on one SSRC with the negotiated payload
// types of both PCMU and telephone-event (pion's static tracks rewrite the payload type).
type micTrack struct {
	mu   sync.Mutex
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pcmu uint8
	te   uint8
}

func (m *micTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var chosen *webrtc.RTPCodecParameters
	for i, c := range ctx.CodecParameters() {
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
			m.pcmu = uint8(c.PayloadType)
			chosen = &ctx.CodecParameters()[i]
		case strings.EqualFold(c.MimeType, peer.MimeTypeTelephoneEvent):
			m.te = uint8(c.PayloadType)
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	m.w, m.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	return *chosen, nil
}

func (m *micTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (m *micTrack) ID() string                            { return "mic" }
func (m *micTrack) RID() string                           { return "" }
func (m *micTrack) StreamID() string                      { return "rtctest" }
func (m *micTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

// New returns a client on loopback that is closed when the test ends.
func New(t testing.TB) *Client {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
		PayloadType:        0}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: peer.MimeTypeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-15"},
		PayloadType:        TelephoneEventPT}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{t: t, pc: pc, track: &micTrack{}, seq: 7000, ts: 90000}
	if _, err := pc.AddTrack(c.track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(c.read)
	t.Cleanup(c.Close)
	return c
}

func (c *Client) read(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
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
		c.packets.Add(1)
		c.mu.Lock()
		if p.PayloadType == 0 {
			c.frames = append(c.frames, append([]byte(nil), p.Payload...))
			if len(c.frames) > 50 {
				c.frames = c.frames[1:]
			}
		} else if d, ok := c.recv.Push(p.Timestamp, p.Payload); ok {
			c.digits = append(c.digits, d)
		}
		c.mu.Unlock()
	}
}

// Close closes the peer connection and waits for the reader.
func (c *Client) Close() {
	_ = c.pc.Close()
	c.readers.Wait()
}

// PC is the underlying peer connection (for state and stats).
func (c *Client) PC() *webrtc.PeerConnection { return c.pc }

// OnCandidate reports local ICE candidates (trickle).
func (c *Client) OnCandidate(f func(webrtc.ICECandidateInit)) {
	c.pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic != nil {
			f(ic.ToJSON())
		}
	})
}

// Offer creates and applies the local offer.
func (c *Client) Offer() (string, error) {
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	return o.SDP, nil
}

// Accept applies the remote answer and flushes candidates that arrived before it.
func (c *Client) Accept(answer string) error {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	c.mu.Lock()
	c.remote = true
	p := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ci := range p {
		_ = c.pc.AddICECandidate(ci)
	}
	return nil
}

// AddCandidate adds a remote candidate, holding it until the answer is applied.
func (c *Client) AddCandidate(ci webrtc.ICECandidateInit) {
	c.mu.Lock()
	if !c.remote {
		c.pending = append(c.pending, ci)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = c.pc.AddICECandidate(ci)
}

// ConnectLeg negotiates directly with a server leg in the same process and waits until the
// connection is up and the microphone track is bound.
func (c *Client) ConnectLeg(leg *peer.Leg) {
	c.t.Helper()
	c.OnCandidate(func(ci webrtc.ICECandidateInit) { _ = leg.AddCandidate(ci) })
	leg.OnCandidate(func(ci *peer.Candidate) {
		if ci != nil {
			c.AddCandidate(*ci)
		}
	})
	offer, err := c.Offer()
	if err != nil {
		c.t.Fatal(err)
	}
	answer, err := leg.Answer(offer)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.Accept(answer); err != nil {
		c.t.Fatal(err)
	}
	c.WaitConnected(10 * time.Second)
}

// Connected reports whether the connection is up and the microphone can send.
func (c *Client) Connected() bool {
	c.track.mu.Lock()
	bound := c.track.w != nil
	c.track.mu.Unlock()
	return bound && c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// WaitConnected fails the test if the client is not connected within d.
func (c *Client) WaitConnected(d time.Duration) {
	c.t.Helper()
	Eventually(c.t, d, "client connected", c.Connected)
}

// Eventually polls cond every 5 ms until it holds, failing the test after d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *Client) write(te bool, marker bool, ts uint32, payload []byte) {
	c.track.mu.Lock()
	w, ssrc, pt := c.track.w, c.track.ssrc, c.track.pcmu
	if te {
		pt = c.track.te
	}
	c.track.mu.Unlock()
	if w == nil {
		return
	}
	c.sendMu.Lock()
	c.seq++
	seq := c.seq
	c.sendMu.Unlock()
	_, _ = w.WriteRTP(&rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}, payload)
}

// SendFrame sends one 20 ms PCMU frame.
func (c *Client) SendFrame(ulaw []byte) {
	c.sendMu.Lock()
	c.ts += 160
	ts := c.ts
	c.sendMu.Unlock()
	c.write(false, false, ts, ulaw)
}

// Speak sends a continuous tone of freq Hz every 20 ms until ctx ends; wait blocks until the
// sender goroutine has stopped.
func (c *Client) Speak(ctx context.Context, freq float64) (wait func()) {
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
				c.SendFrame(buf)
			}
		}
	}()
	return wg.Wait
}

// SendDigits sends RFC 4733 events as a browser's RTCDTMFSender does: 100 ms per tone with
// updates every 20 ms, three end packets, 70 ms apart.
func (c *Client) SendDigits(digits string) error {
	if err := dtmf.Validate(digits); err != nil {
		return err
	}
	for _, d := range digits {
		code, _ := dtmf.Code(d)
		c.sendMu.Lock()
		c.ts += 160
		start := c.ts
		c.sendMu.Unlock()
		for i := 1; i <= 5; i++ {
			c.write(true, i == 1, start, dtmf.Event{Code: code, Volume: 10, Duration: uint16(i * 160)}.Marshal(make([]byte, 4)))
			time.Sleep(20 * time.Millisecond)
		}
		for range 3 {
			c.write(true, false, start, dtmf.Event{Code: code, End: true, Volume: 10, Duration: 800}.Marshal(make([]byte, 4)))
		}
		c.sendMu.Lock()
		c.ts += 800
		c.sendMu.Unlock()
		time.Sleep(70 * time.Millisecond)
	}
	return nil
}

// Packets is the number of RTP packets received so far.
func (c *Client) Packets() uint64 { return c.packets.Load() }

// Digits returns the RFC 4733 digits received so far.
func (c *Client) Digits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.digits)
}

// recent decodes the last n received audio frames.
func (c *Client) recent(n int) []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > len(c.frames) {
		n = len(c.frames)
	}
	var pcm []int16
	for _, f := range c.frames[len(c.frames)-n:] {
		pcm = append(pcm, audio.Decode(make([]int16, len(f)), f)...)
	}
	return pcm
}

// Hears reports whether the last 200 ms of received audio carry a tone of freq Hz.
func (c *Client) Hears(freq float64) bool {
	pcm := c.recent(10)
	if len(pcm) < 1200 {
		return false
	}
	return audio.NewGoertzel(freq).Detect(pcm, 0.3, 300)
}

// Loud reports whether the last 200 ms of received audio are more than silence.
func (c *Client) Loud() bool {
	pcm := c.recent(10)
	return len(pcm) >= 1200 && audio.RMS(pcm) > 300
}

// Silent reports whether nothing audible arrived in the last 200 ms (or nothing at all).
func (c *Client) Silent() bool {
	pcm := c.recent(10)
	return len(pcm) == 0 || audio.RMS(pcm) < 100
}

// ClearAudio forgets the audio received so far, so that the next checks see only new frames.
func (c *Client) ClearAudio() {
	c.mu.Lock()
	c.frames = nil
	c.mu.Unlock()
}
