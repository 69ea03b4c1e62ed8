package mediatest

import (
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/media"
)

var _ media.Tapper = (*Engine)(nil)

// Tap is an in-memory recording tap: it keeps which legs it hears on each channel (no audio).
type Tap struct {
	e           *Engine
	Sink        media.TapSink
	left, right []*Leg
	closed      bool
}

// NewTap returns a tap; Taps lists every tap made.
func (e *Engine) NewTap(sink media.TapSink) media.Tap {
	t := &Tap{e: e, Sink: sink}
	e.mu.Lock()
	e.taps = append(e.taps, t)
	e.mu.Unlock()
	return t
}

// Taps returns the taps made so far, oldest first.
func (e *Engine) Taps() []*Tap {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.taps)
}

// Set keeps the legs of each channel.
func (t *Tap) Set(left, right []media.Leg) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	if t.closed {
		return
	}
	t.left, t.right = t.of(left), t.of(right)
}

func (t *Tap) of(legs []media.Leg) []*Leg {
	var out []*Leg
	for _, l := range legs {
		if ml, ok := l.(*Leg); ok && ml.e == t.e {
			out = append(out, ml)
		}
	}
	return out
}

// Close stops the tap.
func (t *Tap) Close() {
	t.e.mu.Lock()
	t.closed = true
	t.e.mu.Unlock()
}

// Closed reports Close.
func (t *Tap) Closed() bool {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	return t.closed
}

// Channels returns the ids of the legs heard (unmuted) on each channel, sorted.
func (t *Tap) Channels() (left, right []string) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	ids := func(ls []*Leg) []string {
		out := []string{}
		for _, l := range ls {
			if !l.muted && !l.closed {
				out = append(out, l.id)
			}
		}
		slices.Sort(out)
		return out
	}
	return ids(t.left), ids(t.right)
}
