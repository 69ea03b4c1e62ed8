package peer

import (
	"context"

	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
)

// AudioLeg is a leg whose audio this package relays and mixes: a WebRTC *Leg or an *RTPLeg
// (SIP). Sources and mixers accept both kinds, so a call may join legs of either kind.
type AudioLeg interface {
	ID() string
	SetAudioOutput(AudioSource) error
	path() *audioPath
}

var (
	_ AudioLeg = (*Leg)(nil)
)

// audioPath is the transport-independent half of a leg: its engine, its audio input (who
// consumes what the far end says) and its audio output (the one current source of what the
// far end hears, written through the transport's writer). Both leg kinds embed it.
type audioPath struct {
	eng     *Engine
	in      input
	out     output
	dtmfSem chan struct{} // one SendDTMF at a time
}

func (p *audioPath) init(e *Engine) {
	p.eng = e
	p.in.leg = p
	p.out.leg = p
	p.out.src = Silence
	p.dtmfSem = make(chan struct{}, 1)
}

func (p *audioPath) path() *audioPath { return p }

// SetAudioOutput switches what the remote party hears; the RTP stream stays continuous.
func (p *audioPath) SetAudioOutput(src AudioSource) error {
	if src == nil {
		src = Silence
	}
	o := &p.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if src == o.src {
		return nil
	}
	if err := src.attach(o); err != nil {
		return err
	}
	o.setSourceLocked(src)
	return nil
}

// AudioOutput returns the current output source.
func (p *audioPath) AudioOutput() AudioSource {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.src
}

// SetAudioMuted mutes or unmutes the leg's input: while muted nothing of it is forwarded or
// mixed (received DTMF is still reported to OnDTMF, not relayed).
func (p *audioPath) SetAudioMuted(muted bool) { p.in.muted.Store(muted) }

// AudioMuted reports whether the input is muted.
func (p *audioPath) AudioMuted() bool { return p.in.muted.Load() }

// SendDTMF sends digits (0-9 * # A-D) as RFC 4733 telephone-events on the leg's audio stream
// (on the payload type the far end negotiated), 100 ms per tone and 100 ms apart, and returns
// after the last end packet was written. The audio output is suppressed during each event.
// Concurrent calls queue. Invalid digits fail with a *dtmf.InvalidDigitError before anything is
// sent; when ctx ends, the tone in progress is ended properly and ctx's error returned.
func (p *audioPath) SendDTMF(ctx context.Context, digits string) error {
	s, err := dtmf.NewSender(digits)
	if err != nil {
		return err
	}
	select {
	case p.dtmfSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.dtmfSem }()
	p.out.mu.Lock()
	j, err := p.out.startDTMFLocked(s)
	p.out.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		j.cancel.Store(true)
		<-j.done // the end packets go out within 60 ms
		return ctx.Err()
	}
}
