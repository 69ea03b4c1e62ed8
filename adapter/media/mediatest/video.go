package mediatest

import (
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// The in-memory video of the media port (adapter/media/video.go): a leg made with
// NewVideoLeg carries video; what its far end sees is bookkeeping (Sees), and every switch to a
// new source counts a keyframe request at the leg that source shows (Keyframes), as the real
// port sends a PLI.

var (
	_ media.VideoLeg    = (*Leg)(nil)
	_ media.VideoEngine = (*Engine)(nil)
)

type videoState struct {
	on        bool
	out       media.Source // videoRelay, *holdPicture or nil
	keyframes int
}

type videoRelay struct{ from *Leg }

// holdPicture is one hold-video player; each VideoHold call makes a new one.
type holdPicture struct{ e *Engine }

// NewVideoLeg returns a connected leg named id that carries video.
func (e *Engine) NewVideoLeg(id string) *Leg {
	l := e.NewLeg(id)
	l.vid.on = true
	return l
}

// VideoRelay returns a source showing from's video.
func (e *Engine) VideoRelay(from media.Leg) media.Source {
	l, ok := from.(*Leg)
	if !ok || l.e != e {
		return foreign{}
	}
	return videoRelay{l}
}

// VideoHold returns a new hold-picture source.
func (e *Engine) VideoHold() media.Source { return &holdPicture{e: e} }

// HasVideo reports whether the leg was made with NewVideoLeg.
func (l *Leg) HasVideo() bool { return l.vid.on }

// SetVideoOutput switches what the far end sees; a new relay counts a keyframe request at its leg.
func (l *Leg) SetVideoOutput(src media.Source) error {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	switch s := src.(type) {
	case nil:
	case videoRelay:
		if s.from.e != l.e || s.from == l {
			return ErrForeign
		}
		if cur, ok := l.vid.out.(videoRelay); !ok || cur.from != s.from {
			s.from.vid.keyframes++
		}
	case *holdPicture:
		if s.e != l.e {
			return ErrForeign
		}
	default:
		return ErrForeign
	}
	l.vid.out = src
	return nil
}

// RequestKeyframe counts a keyframe request.
func (l *Leg) RequestKeyframe() {
	l.e.mu.Lock()
	l.vid.keyframes++
	l.e.mu.Unlock()
}

// Keyframes reports how many keyframes were asked of the leg's far end.
func (l *Leg) Keyframes() int {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	return l.vid.keyframes
}

// Sees says what the far end of l sees now: the id of the leg whose video it shows, "hold"
// for the hold picture, or "" for nothing.
func (l *Leg) Sees() string {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	switch s := l.vid.out.(type) {
	case videoRelay:
		if !s.from.closed {
			return s.from.id
		}
	case *holdPicture:
		return "hold"
	}
	return ""
}
