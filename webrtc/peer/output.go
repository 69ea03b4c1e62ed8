package peer

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/dtmf"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// output is a leg's outbound audio stream. Every packet, whatever produced it, goes through
// write, which maps the producer's own sequence numbers and timestamps onto the stream's so the
// wire sees one continuous stream across source switches and DTMF events.
type output struct {
	leg *audioPath

	mu sync.Mutex // guards every field below; held while a packet is written (serialises writes)

	src    AudioSource
	closed bool

	// Binding (set by audioTrack.Bind).
	bindID string
	w      webrtc.TrackLocalWriter
	ssrc   uint32
	pt     uint8 // PCMU
	tePT   uint8
	hasTE  bool

	// Stream position: last packet written.
	started bool
	seq     uint16
	ts      uint32
	wall    time.Time // wall time that ts stands for

	// Mapping of the current producer's numbering onto the stream's; recomputed on the first
	// packet after every source switch or DTMF event (mapped=false).
	mapped bool
	seqOff uint16
	tsOff  uint32

	// DTMF generation (driven by the clock through dtmfTicker).
	job  *dtmfJob
	busy bool // an event is in progress: audio is suppressed

	hdr rtp.Header // scratch header for writes

	sent atomic.Uint64 // packets written
}

type dtmfJob struct {
	s         *dtmf.Sender
	done      chan error // 1-buffered, receives exactly once
	cancel    atomic.Bool
	eventTS   uint32
	eventWall time.Time
}

// dtmfTicker adapts output to the clock's ticker interface without exporting tick on output.
type dtmfTicker struct{ o *output }

func (d dtmfTicker) tick(now time.Time) { d.o.dtmfTick(now) }

func (o *output) bind(id string, w webrtc.TrackLocalWriter, ssrc uint32, pt, tePT uint8, hasTE bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bindID, o.w, o.ssrc, o.pt, o.tePT, o.hasTE = id, w, ssrc, pt, tePT, hasTE
	o.mapped = false
}

func (o *output) unbind(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bindID == id {
		o.w = nil
	}
}

// nextTS is the timestamp the stream is at now: the last one plus the elapsed wall time, in
// whole 20 ms frames, at least one frame. Caller holds mu.
func (o *output) nextTS(now time.Time) uint32 {
	if !o.started {
		o.started = true
		o.seq = uint16(rand.Uint32())
		o.ts = rand.Uint32()
		o.wall = now
		return o.ts
	}
	frames := (now.Sub(o.wall) + Ptime/2) / Ptime
	return o.ts + uint32(max(frames, 1))*160
}

// write sends one packet of producer src, numbered in the producer's own space (seq, ts). It is
// dropped unless src is the current source, the stream is bound, and no DTMF event is going on.
// It reports whether the packet was written.
func (o *output) write(src AudioSource, seq uint16, ts uint32, te, marker bool, payload []byte, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.src != src || o.closed || o.w == nil || o.busy {
		return false
	}
	if te && !o.hasTE {
		return false
	}
	if !o.mapped {
		first := o.nextTS(now) // also starts the stream's numbering
		o.seqOff = o.seq + 1 - seq
		o.tsOff = first - ts
		o.mapped = true
		marker = true
	}
	outSeq, outTS := seq+o.seqOff, ts+o.tsOff
	pt := o.pt
	if te {
		pt = o.tePT
	}
	ok := o.send(pt, outSeq, outTS, marker, payload)
	if int16(outSeq-o.seq) > 0 { // newest so far (a reordered older packet keeps the position)
		o.seq, o.ts, o.wall = outSeq, outTS, now
	}
	return ok
}

// send writes with the stream's SSRC and reports success. Caller holds mu and checked w != nil.
func (o *output) send(pt uint8, seq uint16, ts uint32, marker bool, payload []byte) bool {
	h := &o.hdr
	*h = rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts,
		SSRC: o.ssrc, Marker: marker}
	if _, err := o.w.WriteRTP(h, payload); err != nil {
		return false
	}
	o.sent.Add(1)
	return true
}

// setSource switches the current source. Caller holds mu.
func (o *output) setSourceLocked(src AudioSource) {
	old := o.src
	o.src = src
	o.mapped = false
	if old != nil && old != src {
		old.detach(o)
	}
}

// startDTMF queues a DTMF job; the clock sends it. Caller holds mu.
func (o *output) startDTMFLocked(s *dtmf.Sender) (*dtmfJob, error) {
	switch {
	case o.closed:
		return nil, ErrClosed
	case o.w == nil:
		return nil, ErrNotConnected
	case !o.hasTE:
		return nil, ErrNoTelephoneEvent
	}
	j := &dtmfJob{s: s, done: make(chan error, 1)}
	o.job = j
	o.leg.eng.clock.add(dtmfTicker{o})
	return j, nil
}

func (o *output) dtmfTick(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j := o.job
	if j == nil {
		return
	}
	if o.closed || o.w == nil {
		o.finishDTMFLocked(ErrClosed)
		return
	}
	if j.cancel.Load() {
		j.s.Cancel()
	}
	st := j.s.Next()
	if st.Send {
		p := st.Packet
		if p.NewEvent {
			j.eventTS, j.eventWall = o.nextTS(now), now
		}
		o.seq++
		o.send(o.tePT, o.seq, j.eventTS, p.Marker, p.Payload[:])
		o.ts, o.wall = j.eventTS, j.eventWall
	}
	if o.busy && !st.Busy {
		o.mapped = false // audio resumes: remap after the event
	}
	o.busy = st.Busy
	if st.Done {
		o.finishDTMFLocked(nil)
	}
}

func (o *output) finishDTMFLocked(err error) {
	j := o.job
	if j == nil {
		return
	}
	o.job = nil
	o.busy = false
	o.mapped = false
	o.leg.eng.clock.remove(dtmfTicker{o})
	j.done <- err
}

// close detaches the source and fails a pending DTMF job.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	if o.src != nil {
		o.src.detach(o)
		o.src = nil
	}
	o.finishDTMFLocked(ErrClosed)
}
