package peer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/pion/rtp"
)

var (
	_ AudioLeg      = (*RTPLeg)(nil)
	_ media.Leg     = (*RTPLeg)(nil)
	_ media.SIPInfo = (*RTPLeg)(nil)

	_ media.RemoteHolder = (*RTPLeg)(nil)
)

// RTPOptions configure a new RTP leg.
type RTPOptions struct {
	// ID names the leg in logs; empty: "rtp-N".
	ID string
	// Codecs the leg may negotiate, in preference order (CodecPCMU, CodecPCMA); empty: both.
	Codecs []string
	// BindIP is the local address of the leg's sockets; nil: every interface.
	BindIP net.IP
	// AdvertiseIP is the address written in the leg's SDP; nil: BindIP (which must then be set).
	AdvertiseIP net.IP
	// TelephoneEventPT is the payload type offered for telephone-event (default the engine's).
	TelephoneEventPT uint8
}

// RTPLeg is one party's audio over plain RTP (a SIP call leg): a UDP socket pair from the
// engine's RTP port range, SIP-style offer/answer (Offer/AcceptAnswer or Answer), G.711 µ-law
// relayed untouched and A-law translated by table at the socket, symmetric RTP (packets go to
// where the far end's come from, once the first one arrived), RTCP for liveness, and RFC 4733
// DTMF both ways (digits reported on the End bit; the Marker bit is not needed). It shares the
// output, input, sources, mixers and DTMF sender of WebRTC legs (audioPath), so a Relay or a
// Mixer joins it with WebRTC legs. Methods are safe for concurrent use.
type RTPLeg struct {
	audioPath
	events
	digits
	id       string
	rtp      *net.UDPConn
	rtcp     *net.UDPConn
	port     int
	adIP     net.IP
	codecs   []string
	tePT     uint8
	ssrc     uint32
	sessID   uint64
	neg      atomic.Pointer[negotiated]
	dest     atomic.Pointer[net.UDPAddr] // where RTP goes (latched source or the SDP address)
	destRTCP atomic.Pointer[net.UDPAddr]
	lastRx   atomic.Int64 // monoNow of the last RTP or RTCP received, ns since monoBase
	live     atomic.Bool  // state is Connected (read per packet without mu)
	latchedA atomic.Bool  // mirrors latched (read per packet without mu)

	mu      sync.Mutex // guards the fields below
	latched bool
	ver     uint64
	offered bool // an Offer awaits its answer
	state   State
	closing bool

	onState atomic.Pointer[func(State)]
	onHold  atomic.Pointer[func(bool)]

	sipCallID atomic.Pointer[string]
	sipStatus atomic.Int32

	workers   sync.WaitGroup
	wbuf      [1500]byte // written under out.mu (the output serialises writes)
	closeOnce sync.Once
	stop      chan struct{}
}

// NewRTPLeg opens a socket pair in the RTP port range. Negotiate it with Answer (far-end
// offer) or Offer/AcceptAnswer; until then it sends nothing.
func (e *Engine) NewRTPLeg(opts RTPOptions) (*RTPLeg, error) {
	if len(opts.Codecs) == 0 {
		opts.Codecs = []string{CodecPCMU, CodecPCMA}
	}
	for _, c := range opts.Codecs {
		if c != CodecPCMU && c != CodecPCMA {
			return nil, fmt.Errorf("peer: unsupported RTP codec %q (want PCMU or PCMA)", c)
		}
	}
	if opts.AdvertiseIP == nil {
		opts.AdvertiseIP = opts.BindIP
	}
	if opts.AdvertiseIP == nil || opts.AdvertiseIP.To4() == nil || opts.AdvertiseIP.IsUnspecified() {
		return nil, errors.New("peer: RTP leg needs an IPv4 address to advertise")
	}
	if opts.TelephoneEventPT == 0 {
		opts.TelephoneEventPT = e.cfg.TelephoneEventPT
	}
	id, err := e.legID(opts.ID, "rtp-")
	if err != nil {
		return nil, err
	}
	opts.ID = id
	a, b, err := e.ports.open(opts.BindIP)
	if err != nil {
		return nil, err
	}
	l := &RTPLeg{events: newEvents(), id: opts.ID, rtp: a, rtcp: b, port: a.LocalAddr().(*net.UDPAddr).Port,
		adIP: opts.AdvertiseIP.To4(), codecs: opts.Codecs, tePT: opts.TelephoneEventPT,
		ssrc: rand.Uint32(), sessID: rand.Uint64N(1 << 62), stop: make(chan struct{})}
	l.audioPath.init(e)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_, _ = a.Close(), b.Close()
		return nil, ErrClosed
	}
	e.rtpLegs[l] = struct{}{}
	e.mu.Unlock()
	l.workers.Add(3)
	go l.readRTP()
	go l.readRTCP()
	go l.liveness()
	go l.eventLoop()
	return l, nil
}

// ID returns the leg's id.
func (l *RTPLeg) ID() string { return l.id }

// Kind reports the leg's transport: SIP.
func (l *RTPLeg) Kind() media.Kind { return media.KindSIP }

// LocalPort is the leg's RTP port (RTCP is the next one).
func (l *RTPLeg) LocalPort() int { return l.port }

// Codec returns the negotiated law (CodecPCMU or CodecPCMA), "" before negotiation.
func (l *RTPLeg) Codec() string {
	switch n := l.neg.Load(); {
	case n == nil:
		return ""
	case n.alaw:
		return CodecPCMA
	}
	return CodecPCMU
}

// FarDirection is the direction the far end gave in the last offer or answer; SendOnly or
// Inactive mean the far end put the call on hold.
func (l *RTPLeg) FarDirection() Direction {
	if n := l.neg.Load(); n != nil {
		return n.farDir
	}
	return SendRecv
}

// RemoteHeld reports whether the far end holds the call (sendonly, inactive or c=0.0.0.0).
func (l *RTPLeg) RemoteHeld() bool { return l.FarDirection().holds() }

// OnRemoteHold sets the handler of the far end's own hold (true: its offer or answer is
// sendonly, inactive or c=0.0.0.0) and resume (false), called when that changes.
func (l *RTPLeg) OnRemoteHold(f func(held bool)) { l.onHold.Store(&f) }

// OnState sets the state handler.
func (l *RTPLeg) OnState(f func(State)) { l.onState.Store(&f) }

// OnDTMF sets the handler of digits received as RFC 4733 telephone-events (each digit once,
// at its end, also while the input is muted). SIP INFO digits are the signalling's to report.
// Digits received before it is set are delivered first.
func (l *RTPLeg) OnDTMF(f func(digit rune)) {
	l.digits.set(f)
	l.post(l.digits.release)
}

// State returns the current state.
func (l *RTPLeg) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Done is closed once the leg is closed and its event goroutine has exited.
func (l *RTPLeg) Done() <-chan struct{} { return l.done }

// Stats returns the leg's packet counters.
func (l *RTPLeg) Stats() LegStats {
	return LegStats{PacketsIn: l.in.recv.Load(), PacketsOut: l.out.sent.Load()}
}

// SetOutput is SetAudioOutput for the media port: src must be a source of this package.
func (l *RTPLeg) SetOutput(src media.Source) error {
	as, err := audioSource(src)
	if err != nil {
		return err
	}
	return l.SetAudioOutput(as)
}

// SetMuted is SetAudioMuted for the media port.
func (l *RTPLeg) SetMuted(muted bool) { l.SetAudioMuted(muted) }

// Muted is AudioMuted for the media port.
func (l *RTPLeg) Muted() bool { return l.AudioMuted() }

// setState records s and reports it, in order, when it changed. Terminal states stick.
func (l *RTPLeg) setState(s State) {
	l.mu.Lock()
	if l.state == s || l.state == StateFailed || l.state == StateClosed {
		l.mu.Unlock()
		return
	}
	l.state = s
	l.live.Store(s == StateConnected)
	l.mu.Unlock()
	l.post(func() {
		if f := l.onState.Load(); f != nil {
			(*f)(s)
		}
	})
}

// Close stops the leg's goroutines and releases its ports. Idempotent.
func (l *RTPLeg) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		l.out.close()
		l.in.close()
		close(l.stop)
		_, _ = l.rtp.Close(), l.rtcp.Close()
		l.workers.Wait()
		l.mu.Lock()
		l.state = StateClosed
		l.mu.Unlock()
		close(l.quit)
		if !l.inCB.Load() {
			<-l.done
		}
		l.eng.mu.Lock()
		delete(l.eng.rtpLegs, l)
		l.eng.mu.Unlock()
	})
	return nil
}

// apply installs a negotiation: the output is (re)bound to it and the destination reset to
// the SDP address until the far end's packets latch it again.
func (l *RTPLeg) apply(n *negotiated) {
	l.mu.Lock()
	changed := true
	if old := l.neg.Load(); old != nil && old.remote.String() == n.remote.String() {
		changed = false
	}
	if changed {
		l.latched = false
		l.latchedA.Store(false)
		l.dest.Store(n.remote)
		l.destRTCP.Store(n.rtcp)
	}
	first := l.state == StateNew
	old := l.neg.Load()
	l.neg.Store(n)
	l.mu.Unlock()
	l.out.bind(l.id, rtpWriter{l}, l.ssrc, n.pt, n.tePT, n.hasTE)
	if first {
		l.setState(StateConnecting)
	}
	if was, is := old != nil && old.farDir.holds(), n.farDir.holds(); was != is {
		l.post(func() {
			if f := l.onHold.Load(); f != nil {
				(*f)(is)
			}
		})
	}
}

// rtpWriter is the output's writer: it marshals the packet, translates µ-law audio to A-law on
// an A-law leg, and sends it to the current destination. It is called with out.mu held.
type rtpWriter struct{ l *RTPLeg }

func (w rtpWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	l := w.l
	n := l.neg.Load()
	dst := l.dest.Load()
	if n == nil || dst == nil || !n.sending {
		return 0, nil // on hold towards us (recvonly/inactive): send nothing, keep the numbering
	}
	hl, err := h.MarshalTo(l.wbuf[:])
	if err != nil || hl+len(payload) > len(l.wbuf) {
		return 0, errors.New("peer: RTP packet too large")
	}
	body := l.wbuf[hl : hl+len(payload)]
	if n.alaw && h.PayloadType == n.pt {
		audio.ULawToALaw(body, payload)
	} else {
		copy(body, payload)
	}
	return l.rtp.WriteToUDP(l.wbuf[:hl+len(payload)], dst)
}

func (w rtpWriter) Write(b []byte) (int, error) {
	if d := w.l.dest.Load(); d != nil {
		return w.l.rtp.WriteToUDP(b, d)
	}
	return 0, nil
}

// latch accepts a packet from src: the first one after each negotiation fixes the destination
// (symmetric RTP, for far ends behind NAT); later ones from elsewhere are dropped.
func (l *RTPLeg) latch(src *net.UDPAddr) bool {
	if d := l.dest.Load(); d != nil && l.latchedA.Load() {
		return d.Port == src.Port && d.IP.Equal(src.IP)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latched {
		d := l.dest.Load()
		return d.IP.Equal(src.IP) && d.Port == src.Port
	}
	l.latched = true
	l.latchedA.Store(true)
	s := *src
	l.dest.Store(&s)
	if n := l.neg.Load(); n != nil && n.rtcp.Port == n.remote.Port { // rtcp-mux
		l.destRTCP.Store(&s)
	} else {
		l.destRTCP.Store(&net.UDPAddr{IP: s.IP, Port: s.Port + 1})
	}
	return true
}

// readRTP is the leg's reader: it runs until the socket closes.
func (l *RTPLeg) readRTP() {
	defer l.workers.Done()
	buf := make([]byte, 1500)
	st := &rtpReader{conv: make([]byte, 1500)}
	for {
		nb, src, err := l.rtp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.handle(st, buf[:nb], src, monoNow())
	}
}

// rtpReader is the inbound state of an RTP leg, owned by its reader goroutine.
type rtpReader struct {
	pkt  rtp.Packet
	rx   dtmf.EndReceiver
	ssrc uint32
	conv []byte // A-law -> µ-law scratch
}

// handle processes one datagram from src: RTCP (liveness), or RTP of the negotiated law or
// telephone-event from the latched source: DTMF on End, A-law translated, then every sink.
func (l *RTPLeg) handle(st *rtpReader, b []byte, src *net.UDPAddr, now time.Time) {
	if len(b) >= 2 && b[1] >= 200 && b[1] <= 204 { // RTCP multiplexed on the RTP port
		l.alive(now)
		return
	}
	n := l.neg.Load()
	pkt := &st.pkt
	if n == nil || pkt.Unmarshal(b) != nil {
		return
	}
	te := n.hasTE && pkt.PayloadType == n.tePT
	if (!te && pkt.PayloadType != n.pt) || !l.latch(src) {
		return
	}
	l.alive(now)
	l.in.recv.Add(1)
	if pkt.SSRC != st.ssrc {
		st.ssrc = pkt.SSRC
		st.rx.Reset()
	}
	payload := pkt.Payload
	if te {
		if d, ok := st.rx.Push(pkt.Timestamp, payload); ok {
			l.ReportDTMF(d)
		}
	} else if n.alaw {
		payload = audio.ALawToULaw(st.conv, payload)
	}
	l.in.dispatch(&pkt.Header, payload, te, now)
}

// ReportDTMF reports a digit the signalling received (SIP INFO) through OnDTMF, in order with
// the digits received over RTP.
func (l *RTPLeg) ReportDTMF(d rune) {
	l.post(func() { l.deliver(d) })
}

// SetSIP records the leg's dialog Call-ID and final SIP status for call records (the SIP edge
// sets them; status 0 leaves the status unchanged).
func (l *RTPLeg) SetSIP(callID string, status int) {
	if callID != "" {
		l.sipCallID.Store(&callID)
	}
	if status != 0 {
		l.sipStatus.Store(int32(status))
	}
}

// SIPCallID is the dialog's Call-ID ("" if unset).
func (l *RTPLeg) SIPCallID() string {
	if p := l.sipCallID.Load(); p != nil {
		return *p
	}
	return ""
}

// SIPStatus is the final SIP status (0 if unset).
func (l *RTPLeg) SIPStatus() int { return int(l.sipStatus.Load()) }
