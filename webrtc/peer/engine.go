package peer

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Engine creates legs that share one pion API (codecs, transport settings, optional UDP mux)
// and one media clock. Create one per process; its methods are safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	api   *webrtc.API
	mux   ice.UDPMux
	clock *clock
	ports *rtpPorts // RTP legs' sockets

	// fwdLat is the forwarding delay of relayed packets (see latency.go, ForwardLatency).
	fwdLat LatencyHistogram

	mu      sync.Mutex // guards legs, rtpLegs and closed
	legs    map[*Leg]struct{}
	rtpLegs map[*RTPLeg]struct{}
	closed  bool
	nextID  uint64
}

// NewEngine builds the pion API from cfg and starts the media clock.
func NewEngine(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	me, err := newMediaEngine(cfg.TelephoneEventPT)
	if err != nil {
		return nil, fmt.Errorf("peer: media engine: %w", err)
	}
	se, mux, err := newSettingEngine(cfg)
	if err != nil {
		return nil, err
	}
	// No interceptors: audio-only PCMU needs no NACK, TWCC or RTCP-driven bitrate control, and
	// skipping them saves a goroutine and a copy per stream. Video will register its own.
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	return &Engine{cfg: cfg, log: cfg.Logger, api: api, mux: mux, clock: newClock(),
		ports: newRTPPorts(cfg.RTPPortMin, cfg.RTPPortMax),
		legs:  map[*Leg]struct{}{}, rtpLegs: map[*RTPLeg]struct{}{}}, nil
}

// Close closes every leg still open, stops the clock and releases the UDP mux.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	legs := make([]interface{ Close() error }, 0, len(e.legs)+len(e.rtpLegs))
	for l := range e.legs {
		legs = append(legs, l)
	}
	for l := range e.rtpLegs {
		legs = append(legs, l)
	}
	e.mu.Unlock()
	for _, l := range legs {
		_ = l.Close()
	}
	e.clock.stop()
	if e.mux != nil {
		return e.mux.Close()
	}
	return nil
}

// Legs returns the number of open legs (WebRTC and RTP).
func (e *Engine) Legs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.legs) + len(e.rtpLegs)
}

// MuxAddr returns the local address of the shared UDP mux socket, or "" without one.
func (e *Engine) MuxAddr() string {
	if e.mux == nil {
		return ""
	}
	addrs := e.mux.GetListenAddresses()
	if len(addrs) == 0 {
		return ""
	}
	return addrs[0].String()
}

// legID returns id, or a new one with prefix when id is empty; ErrClosed once the engine closed.
func (e *Engine) legID(id, prefix string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", ErrClosed
	}
	e.nextID++
	if id == "" {
		id = prefix + strconv.FormatUint(e.nextID, 10)
	}
	return id, nil
}

func (e *Engine) forget(l *Leg) {
	e.mu.Lock()
	delete(e.legs, l)
	e.mu.Unlock()
}
