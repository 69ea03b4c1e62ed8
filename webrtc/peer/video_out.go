package peer

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// videoOut is a leg's outbound video stream. Every packet goes through write, which maps the
// producer's sequence numbers and timestamps onto the stream's, so the far end sees one
// continuous stream (one SSRC) across source switches. After a switch nothing is written until
// the new source's next keyframe starts (asked for at once), so the far end's decoder never
// gets a delta frame of a picture it has not seen.
type videoOut struct {
	path *videoPath

	mu sync.Mutex // guards every field below; held while a packet is written

	src    VideoSource // nil: nothing is sent
	closed bool

	// Binding (videoTrack.Bind): the stream's writer, SSRC and payload type per codec.
	bindID string
	w      webrtc.TrackLocalWriter
	ssrc   uint32
	pt     [codecH264 + 1]uint8
	has    [codecH264 + 1]bool

	// Stream position: the newest packet written, and the wall time its timestamp stands for.
	started bool
	seq     uint16
	ts      uint32
	wall    time.Time

	// Mapping of the current source's numbering onto the stream's (mapped=false after a switch).
	mapped bool
	seqOff uint16
	tsOff  uint32

	hdr  rtp.Header
	sent atomic.Uint64
}

func (o *videoOut) bind(id string, w webrtc.TrackLocalWriter, ssrc uint32, pts map[videoCodec]uint8) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bindID, o.w, o.ssrc = id, w, ssrc
	o.has = [codecH264 + 1]bool{}
	for c, pt := range pts {
		o.pt[c], o.has[c] = pt, true
	}
	o.mapped = false
}

func (o *videoOut) unbind(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bindID == id {
		o.w = nil
	}
}

// setSource switches the current source (nil: none) and asks the new one for a keyframe.
func (o *videoOut) setSource(src VideoSource) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	if sameVideoSource(o.src, src) {
		o.mu.Unlock()
		return nil
	}
	if src != nil {
		if err := src.attachVideo(o); err != nil {
			o.mu.Unlock()
			return err
		}
	}
	old := o.src
	o.src, o.mapped = src, false
	if old != nil {
		old.detachVideo(o)
	}
	o.mu.Unlock()
	if src != nil {
		src.keyframe(0)
	}
	return nil
}

// source returns the current source.
func (o *videoOut) source() VideoSource {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.src
}

// write sends one packet of src, numbered in src's own space; it reports whether it was
// written, and wantKey when the output waits for a keyframe (the caller asks src for one,
// outside mu). Packets of another source, of a codec the far end did not negotiate, empty
// (padding-only) packets and, until the first keyframe after a switch, delta frames are dropped.
func (o *videoOut) write(src VideoSource, h *rtp.Header, c videoCodec, payload []byte, now time.Time) (written, wantKey bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.src != src || o.closed || o.w == nil || !o.has[c] || len(payload) == 0 {
		return false, false
	}
	if !o.mapped {
		if !isKeyframeStart(c, payload) {
			return false, true
		}
		first := o.nextTS(now)
		o.seqOff = o.seq + 1 - h.SequenceNumber
		o.tsOff = first - h.Timestamp
		o.mapped = true
	}
	outSeq, outTS := h.SequenceNumber+o.seqOff, h.Timestamp+o.tsOff
	hd := &o.hdr
	*hd = rtp.Header{Version: 2, PayloadType: o.pt[c], SequenceNumber: outSeq, Timestamp: outTS,
		SSRC: o.ssrc, Marker: h.Marker}
	if _, err := o.w.WriteRTP(hd, payload); err != nil {
		return false, false
	}
	o.sent.Add(1)
	if int16(outSeq-o.seq) > 0 { // newest so far (a retransmitted older packet keeps the position)
		o.seq, o.ts, o.wall = outSeq, outTS, now
	}
	return true, false
}

// nextTS is the timestamp the stream stands at now (90 kHz), at least one tick past the last.
// Caller holds mu.
func (o *videoOut) nextTS(now time.Time) uint32 {
	if !o.started {
		o.started = true
		o.seq = uint16(rand.Uint32())
		o.ts = rand.Uint32()
		o.wall = now
		return o.ts
	}
	ticks := now.Sub(o.wall) * videoClockRate / time.Second
	return o.ts + uint32(max(ticks, 1))
}

// sourceSeq maps a sequence number of the stream back to the current source's numbering (for
// NACKs); ok is false when no source is mapped.
func (o *videoOut) sourceSeq(seq uint16) (VideoSource, uint16, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.src == nil || !o.mapped {
		return nil, 0, false
	}
	return o.src, seq - o.seqOff, true
}

func (o *videoOut) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	if o.src != nil {
		o.src.detachVideo(o)
		o.src = nil
	}
}
