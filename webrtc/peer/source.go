package peer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/pion/rtp"
)

// AudioSource is what a leg's output plays. Implementations are this package's: Silence,
// Forward(leg), *Player and Mixer.Output(). A source value other than Silence and Forward
// serves one leg at a time.
type AudioSource interface {
	// attach is called with o.mu held when o switches to the source.
	attach(o *output) error
	// detach is called with o.mu held when o switches away from the source or closes.
	detach(o *output)
}

// Silence sends nothing: the remote plays silence. It is every leg's initial source.
var Silence AudioSource = silence{}

type silence struct{}

func (silence) attach(*output) error { return nil }
func (silence) detach(*output)       {}

// Forward relays from's input to the leg packet by packet, without decoding (the payload bytes
// are copied onto the output stream with its own SSRC, sequence numbers and timestamps; the
// telephone-event payload type is translated). Each call returns a new source value.
func Forward(from AudioLeg) AudioSource { return &forward{from: from.path()} }

type forward struct {
	from *audioPath
	out  *output
}

func (f *forward) attach(o *output) error {
	switch {
	case f.out != nil:
		return ErrSourceInUse
	case f.from == o.leg:
		return ErrSelfForward
	case f.from.eng != o.leg.eng:
		return ErrForeignSource
	}
	f.out = o
	f.from.in.addSink(f)
	return nil
}

func (f *forward) detach(*output) { f.from.in.removeSink(f) }

// deliver runs on the source leg's reader goroutine; now is when the reader got the packet
// from pion. A packet actually written is timed into the engine's forwarding-delay histogram.
func (f *forward) deliver(h *rtp.Header, payload []byte, te bool, now time.Time) {
	if f.out.write(f, h.SequenceNumber, h.Timestamp, te, h.Marker, payload, now) {
		f.from.eng.fwdLat.Observe(time.Since(now))
	}
}

// Player plays a µ-law clip (160 bytes per 20 ms) on one leg, once or in a loop, ticked by the
// engine's clock. Its Done channel closes when playback ends for any reason: the clip played
// to the end (Completed reports true), the leg switched to another source, or the leg closed.
// A Player is used once: create a new one for every playback.
type Player struct {
	clip []byte
	loop bool

	out      atomic.Pointer[output] // set while attached
	used     atomic.Bool
	doneOnce sync.Once
	done     chan struct{}
	complete atomic.Bool

	// Owned by the clock goroutine.
	pos int
	seq uint16
	ts  uint32
	buf [audio.FrameSamples]byte
}

// NewPlayer returns a Player of clip (shared, not modified). loop repeats it until the source
// is switched; an empty clip finishes at once.
func NewPlayer(clip []byte, loop bool) *Player {
	return &Player{clip: clip, loop: loop, done: make(chan struct{})}
}

// Done closes when the playback ended (see Player).
func (p *Player) Done() <-chan struct{} { return p.done }

// Completed reports whether a once-player played its clip to the end.
func (p *Player) Completed() bool { return p.complete.Load() }

func (p *Player) attach(o *output) error {
	if !p.used.CompareAndSwap(false, true) {
		return ErrSourceInUse
	}
	p.out.Store(o)
	o.leg.eng.clock.add(p)
	return nil
}

func (p *Player) detach(o *output) {
	if p.out.CompareAndSwap(o, nil) {
		o.leg.eng.clock.remove(p)
	}
	p.finish()
}

func (p *Player) finish() { p.doneOnce.Do(func() { close(p.done) }) }

func (p *Player) tick(now time.Time) {
	o := p.out.Load()
	if o == nil {
		return
	}
	if p.pos >= len(p.clip) {
		if !p.loop || len(p.clip) == 0 {
			p.complete.Store(true)
			if p.out.CompareAndSwap(o, nil) {
				o.leg.eng.clock.remove(p)
			}
			p.finish()
			return
		}
		p.pos = 0
	}
	n := copy(p.buf[:], p.clip[p.pos:])
	for i := n; i < len(p.buf); i++ {
		p.buf[i] = audio.Silence
	}
	p.pos += n
	o.write(p, p.seq, p.ts, false, false, p.buf[:], now)
	p.seq++
	p.ts += audio.FrameSamples
}
