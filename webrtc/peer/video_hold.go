package peer

import (
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/holdvideo"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// videoMTU bounds the RTP payload of packetized player frames.
const videoMTU = 1200

// VideoPlayer shows a looping VP8 picture (the "please hold" video of webrtc/holdvideo) on one
// leg, ticked by the engine's clock. A keyframe request restarts the loop at its first frame,
// which is a keyframe. A leg whose far end negotiated no VP8 gets nothing. A VideoPlayer serves
// one leg once: create a new one for every use.
type VideoPlayer struct {
	frames  []holdvideo.Frame
	out     atomic.Pointer[videoOut]
	used    atomic.Bool
	restart atomic.Bool

	// Owned by the clock goroutine.
	start, loopStart time.Time
	next             int
	seq              uint16
	pay              codecs.VP8Payloader
	hdr              rtp.Header
}

// NewVideoPlayer returns a player of frames (shared, not modified; the first must be a keyframe).
func NewVideoPlayer(frames []holdvideo.Frame) *VideoPlayer {
	return &VideoPlayer{frames: frames, pay: codecs.VP8Payloader{EnablePictureID: true}}
}

// VideoHold returns a player of the embedded hold video (nothing if it failed to load).
func (p Port) VideoHold() media.Source {
	fs, err := holdvideo.Frames()
	if err != nil {
		p.E.log.Error("hold video", "err", err)
	}
	return NewVideoPlayer(fs)
}

func (p *VideoPlayer) attachVideo(o *videoOut) error {
	if !p.used.CompareAndSwap(false, true) {
		return ErrSourceInUse
	}
	p.out.Store(o)
	o.path.eng.clock.add(p)
	return nil
}

func (p *VideoPlayer) detachVideo(o *videoOut) {
	if p.out.CompareAndSwap(o, nil) {
		o.path.eng.clock.remove(p)
	}
}

func (p *VideoPlayer) keyframe(time.Duration) { p.restart.Store(true) }

func (p *VideoPlayer) tick(now time.Time) {
	o := p.out.Load()
	if o == nil || len(p.frames) == 0 {
		return
	}
	if p.start.IsZero() || p.restart.Swap(false) {
		if p.start.IsZero() {
			p.start = now
		}
		p.loopStart, p.next = now, 0
	}
	for p.next < len(p.frames) && p.frames[p.next].At <= now.Sub(p.loopStart) {
		if p.send(o, p.frames[p.next].Data, now) {
			p.restart.Store(true) // the output waits for a keyframe: start over at frame 0
			return
		}
		p.next++
	}
	if p.next == len(p.frames) { // loop: one frame interval after the last frame
		last := p.frames[len(p.frames)-1].At
		gap := last / time.Duration(max(len(p.frames)-1, 1))
		p.loopStart, p.next = p.loopStart.Add(last+gap), 0
	}
}

// send packetizes one frame onto o; it reports whether o asked for a keyframe.
func (p *VideoPlayer) send(o *videoOut, frame []byte, now time.Time) (wantKey bool) {
	ts := uint32(now.Sub(p.start) * videoClockRate / time.Second)
	pkts := p.pay.Payload(videoMTU, frame)
	for i, pl := range pkts {
		p.hdr = rtp.Header{Version: 2, SequenceNumber: p.seq, Timestamp: ts, Marker: i == len(pkts)-1}
		p.seq++
		if _, want := o.write(p, &p.hdr, codecVP8, pl, now); want {
			return true
		}
	}
	return false
}
