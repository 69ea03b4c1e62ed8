package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Candidate is a trickled ICE candidate, the JSON shape of the browser's RTCIceCandidateInit
// ({"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}).
type Candidate = webrtc.ICECandidateInit

// State is a leg's connection state (the W3C RTCPeerConnectionState); it is the media port's.
type State = media.State

// Connection states.
const (
	StateNew          = media.StateNew
	StateConnecting   = media.StateConnecting
	StateConnected    = media.StateConnected
	StateDisconnected = media.StateDisconnected // consent lost; may come back to Connected
	StateFailed       = media.StateFailed       // terminal: close the leg
	StateClosed       = media.StateClosed
)

func stateOf(s webrtc.PeerConnectionState) State {
	switch s {
	case webrtc.PeerConnectionStateConnecting:
		return StateConnecting
	case webrtc.PeerConnectionStateConnected:
		return StateConnected
	case webrtc.PeerConnectionStateDisconnected:
		return StateDisconnected
	case webrtc.PeerConnectionStateFailed:
		return StateFailed
	case webrtc.PeerConnectionStateClosed:
		return StateClosed
	}
	return StateNew
}

// LegOptions configure a new leg.
type LegOptions struct {
	// ID names the leg in logs and as its media stream id; empty: "leg-N".
	ID string
}

// LegStats are a leg's packet counters.
type LegStats struct {
	PacketsIn  uint64 // RTP packets received (audio and telephone-event), muted or not
	PacketsOut uint64 // RTP packets written on the leg's audio stream
}

// Leg is one server-side peer connection carrying one party's audio (see the package doc).
// Its methods are safe for concurrent use. Callbacks (OnCandidate, OnState, OnDTMF) run one at a
// time, in order, on the leg's own event goroutine; they may call any Leg method, including
// Close, and a slow callback delays only this leg's later callbacks.
type Leg struct {
	audioPath
	video videoPath // video_leg.go
	id    string
	pc    *webrtc.PeerConnection
	track *audioTrack

	mu        sync.Mutex // guards the fields below
	pending   []Candidate
	remoteSet bool
	sender    *webrtc.RTPSender
	closing   bool

	onCand  atomic.Pointer[func(*Candidate)]
	onState atomic.Pointer[func(State)]

	events
	digits
	lastState State // event goroutine only

	workers   sync.WaitGroup // reader and RTCP drain goroutines
	closeOnce sync.Once
	closeErr  error
}

// NewLeg creates a leg with a sendrecv audio track whose output is Silence. Negotiate it with
// Answer (remote offer) or Offer/AcceptAnswer (server offer).
func (e *Engine) NewLeg(opts LegOptions) (*Leg, error) {
	id, err := e.legID(opts.ID, "leg-")
	if err != nil {
		return nil, err
	}
	opts.ID = id
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy: webrtc.BundlePolicyMaxBundle,
	})
	if err != nil {
		return nil, fmt.Errorf("peer: new peer connection: %w", err)
	}
	l := &Leg{id: opts.ID, pc: pc, events: newEvents()}
	l.audioPath.init(e)
	l.video.init(e, opts.ID, pc)
	l.track = &audioTrack{streamID: opts.ID, out: &l.out}

	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		var ci *Candidate
		if c != nil {
			j := c.ToJSON()
			ci = &j
		}
		l.post(func() {
			if f := l.onCand.Load(); f != nil {
				(*f)(ci)
			}
		})
	})
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) {
		// pion calls this on a new goroutine per change, so calls may overtake each other:
		// report the current state, in the event goroutine's order, and only when it changed.
		l.post(func() {
			s := stateOf(l.pc.ConnectionState())
			if s == l.lastState {
				return
			}
			l.lastState = s
			if f := l.onState.Load(); f != nil {
				(*f)(s)
			}
		})
	})
	pc.OnTrack(l.handleTrack)

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = pc.Close()
		return nil, ErrClosed
	}
	e.legs[l] = struct{}{}
	e.mu.Unlock()
	go l.eventLoop()
	return l, nil
}

// ID returns the leg's id.
func (l *Leg) ID() string { return l.id }

// OnCandidate sets the handler of local ICE candidates to trickle to the remote; it is called
// with nil when gathering is complete.
func (l *Leg) OnCandidate(f func(c *Candidate)) { l.onCand.Store(&f) }

// OnState sets the connection state handler.
func (l *Leg) OnState(f func(State)) { l.onState.Store(&f) }

// OnDTMF sets the handler of digits received as RFC 4733 telephone-events (each digit once,
// also while the input is muted). Digits received before it is set are delivered first.
func (l *Leg) OnDTMF(f func(digit rune)) {
	l.digits.set(f)
	l.post(l.digits.release)
}

// State returns the current connection state.
func (l *Leg) State() State { return stateOf(l.pc.ConnectionState()) }

// Done is closed once the leg is closed and its event goroutine has exited.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Stats returns the leg's packet counters.
func (l *Leg) Stats() LegStats {
	return LegStats{PacketsIn: l.in.recv.Load(), PacketsOut: l.out.sent.Load()}
}

// Answer applies a remote offer (first or renegotiation) and returns the answer SDP. Candidates
// are trickled through OnCandidate; use GatheredSDP for a non-trickle peer. An offer without a
// PCMU audio m-line fails with ErrNoAudio and leaves the leg untouched.
func (l *Leg) Answer(offer string) (string, error) {
	if err := checkAudio(offer); err != nil {
		return "", err
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("peer: set remote offer: %w", err)
	}
	if err := l.ensureSender(); err != nil {
		return "", err
	}
	if err := l.ensureVideo(offer); err != nil {
		return "", err
	}
	if err := l.remoteApplied(); err != nil {
		return "", err
	}
	ans, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("peer: create answer: %w", err)
	}
	if err := l.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("peer: set local answer: %w", err)
	}
	return ans.SDP, nil
}

// Offer creates a server offer (the first one, or a renegotiation later, e.g. to add video),
// applies it locally and returns its SDP. Complete it with AcceptAnswer.
func (l *Leg) Offer() (string, error) {
	if err := l.ensureSender(); err != nil {
		return "", err
	}
	off, err := l.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("peer: create offer: %w", err)
	}
	if err := l.pc.SetLocalDescription(off); err != nil {
		return "", fmt.Errorf("peer: set local offer: %w", err)
	}
	return off.SDP, nil
}

// AcceptAnswer applies the remote answer to the last Offer. An answer that rejected audio
// fails with ErrNoAudio.
func (l *Leg) AcceptAnswer(answer string) error {
	if err := checkAudio(answer); err != nil {
		return err
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("peer: set remote answer: %w", err)
	}
	return l.remoteApplied()
}

// GatheredSDP waits until ICE gathering finished and returns the local description with every
// candidate in it (for peers that do not trickle).
func (l *Leg) GatheredSDP(ctx context.Context) (string, error) {
	select {
	case <-webrtc.GatheringCompletePromise(l.pc):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	d := l.pc.LocalDescription()
	if d == nil {
		return "", ErrNotConnected
	}
	return d.SDP, nil
}

// AddCandidate adds a remote trickled candidate; candidates arriving before the remote
// description are kept and applied with it. An empty candidate string (end of candidates) is
// ignored.
func (l *Leg) AddCandidate(c Candidate) error {
	if c.Candidate == "" {
		return nil
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	if !l.remoteSet {
		l.pending = append(l.pending, c)
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	if err := l.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("peer: add candidate: %w", err)
	}
	return nil
}

func (l *Leg) remoteApplied() error {
	l.mu.Lock()
	l.remoteSet = true
	pend := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, c := range pend {
		if err := l.pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("peer: add candidate: %w", err)
		}
	}
	return nil
}

// ensureSender adds the outbound audio track once (reusing an offered audio transceiver).
func (l *Leg) ensureSender() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return ErrClosed
	}
	if l.sender != nil {
		return nil
	}
	s, err := l.pc.AddTrack(l.track)
	if err != nil {
		return fmt.Errorf("peer: add audio track: %w", err)
	}
	l.sender = s
	l.workers.Add(1)
	go l.drainRTCP(s.Read)
	return nil
}

// drainRTCP reads and discards RTCP (pion buffers it otherwise); it exits when the peer
// connection closes.
func (l *Leg) drainRTCP(read func([]byte) (int, interceptorAttrs, error)) {
	defer l.workers.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := read(buf); err != nil {
			return
		}
	}
}

// Close closes the peer connection and stops the leg's goroutines. It returns once pion and
// the leg's reader goroutines exited; the event goroutine exits right after (Done), at once
// unless Close was called from one of the leg's callbacks. Close is idempotent.
func (l *Leg) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		l.out.close()
		l.in.close()
		l.video.out.close()
		l.video.in.close()
		l.closeErr = l.pc.Close()
		l.workers.Wait()
		close(l.quit)
		if !l.inCB.Load() {
			<-l.done
		}
		l.eng.forget(l)
	})
	return l.closeErr
}

// handleTrack runs on a pion goroutine per remote track and becomes its reader.
func (l *Leg) handleTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		l.handleVideoTrack(track, recv)
		return
	}
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return
	}
	l.workers.Add(2)
	l.mu.Unlock()
	go l.drainRTCP(recv.Read)
	defer l.workers.Done()
	l.readLoop(track, recv)
}

func (l *Leg) readLoop(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	r := newReader(l, recv.GetParameters().Codecs)
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if !errors.Is(err, webrtc.ErrCodecNotFound) { // else: a payload type never negotiated
				return
			}
			continue
		}
		r.handle(buf[:n], monoNow()) // arrival time: forwarding delay, stream position
	}
}

// reader is the per-track inbound state, owned by the track's reader goroutine.
type reader struct {
	l            *Leg
	pcmuPT, tePT int
	rx           dtmf.Receiver
	ssrc         uint32
	pkt          rtp.Packet
}

func newReader(l *Leg, codecs []webrtc.RTPCodecParameters) *reader {
	r := &reader{l: l, pcmuPT: 0, tePT: -1}
	for _, c := range codecs {
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
			r.pcmuPT = int(c.PayloadType)
		case strings.EqualFold(c.MimeType, MimeTypeTelephoneEvent) && c.ClockRate == dtmf.ClockRate:
			r.tePT = int(c.PayloadType)
		}
	}
	return r
}

// handle processes one received RTP packet: DTMF detection, mute, then every sink.
func (r *reader) handle(b []byte, now time.Time) {
	pkt := &r.pkt
	if err := pkt.Unmarshal(b); err != nil {
		return
	}
	te := int(pkt.PayloadType) == r.tePT
	if !te && int(pkt.PayloadType) != r.pcmuPT {
		return
	}
	l := r.l
	l.in.recv.Add(1)
	if pkt.SSRC != r.ssrc {
		r.ssrc = pkt.SSRC
		r.rx.Reset()
	}
	if te {
		if d, ok := r.rx.Push(pkt.Timestamp, pkt.Payload); ok {
			l.post(func() { l.deliver(d) })
		}
	}
	l.in.dispatch(&pkt.Header, pkt.Payload, te, now)
}

// checkAudio accepts a session description with at least one active audio m-line offering PCMU.
func checkAudio(s string) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return fmt.Errorf("%w: unparsable SDP: %v", ErrNoAudio, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		for _, f := range m.MediaName.Formats {
			if f == "0" {
				return nil
			}
		}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToUpper(a.Value), " PCMU/8000") {
				return nil
			}
		}
	}
	return ErrNoAudio
}
