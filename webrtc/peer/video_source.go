package peer

import (
	"time"

	"github.com/pion/rtp"
)

// VideoSource is what a leg's video output shows: Nothing (nil), VideoForward(leg) or a
// *VideoPlayer (the "please hold" picture). A VideoPlayer serves one leg at a time.
type VideoSource interface {
	// attachVideo is called with o.mu held when o switches to the source.
	attachVideo(o *videoOut) error
	// detachVideo is called with o.mu held when o switches away or closes.
	detachVideo(o *videoOut)
	// keyframe asks the producer for a keyframe, unless it was asked less than gap ago. It is
	// never called with an output's mu held.
	keyframe(gap time.Duration)
}

// VideoForward relays from's video input to a leg packet by packet, without decoding: the
// payload bytes go out unchanged, with the output's own SSRC, sequence numbers, timestamps and
// the payload type it negotiated for the codec. Each call returns a new source value; a leg
// already showing from's video keeps its stream as it is.
func VideoForward(from *Leg) VideoSource { return &videoForward{from: &from.video} }

type videoForward struct {
	from *videoPath
	out  *videoOut
}

// sameVideoSource: a switch from a forward to another forward of the same leg changes nothing.
func sameVideoSource(a, b VideoSource) bool {
	if a == b {
		return true
	}
	fa, ok1 := a.(*videoForward)
	fb, ok2 := b.(*videoForward)
	return ok1 && ok2 && fa.from == fb.from
}

func (f *videoForward) attachVideo(o *videoOut) error {
	switch {
	case f.out != nil:
		return ErrSourceInUse
	case f.from == o.path:
		return ErrSelfForward
	case f.from.eng != o.path.eng:
		return ErrForeignSource
	}
	f.out = o
	f.from.in.addSink(f)
	return nil
}

func (f *videoForward) detachVideo(*videoOut) { f.from.in.removeSink(f) }

func (f *videoForward) keyframe(gap time.Duration) { f.from.in.requestKeyframe(gap) }

// deliverVideo runs on the source leg's reader goroutine.
func (f *videoForward) deliverVideo(h *rtp.Header, c videoCodec, payload []byte, now time.Time) {
	if _, wantKey := f.out.write(f, h, c, payload, now); wantKey {
		f.from.in.requestKeyframe(keyframeRetry)
	}
}
