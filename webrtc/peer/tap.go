package peer

import (
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/pion/rtp"
)

// Tap is the recording tap of the media port (adapter/media/tap.go): it decodes the inputs of
// the legs it is set to, as the Mixer does, and on every tick of the engine's clock hands the
// sink the clipped sum of the left legs and of the right legs (silence when none spoke). It costs
// one decode per received packet and one 160-sample sum per channel per tick.
type Tap struct {
	eng  *Engine
	sink media.TapSink

	mu     sync.Mutex // guards inputs and closed
	inputs map[*audioPath]*tapInput
	closed bool

	// Owned by the clock goroutine.
	last        time.Time // the tick of the last frame: ticks the clock missed become silence
	sum         [2][audio.FrameSamples]int32
	left, right [audio.FrameSamples]int16
}

type tapInput struct {
	t       *Tap
	side    int // 0 left, 1 right
	fifo    [mixDepth * audio.FrameSamples]int16
	n       int
	removed bool
}

var (
	_ media.Tapper = Port{}
	_ media.Tap    = (*Tap)(nil)
)

// NewTap returns a tap ticking into sink, with no legs yet.
func (e *Engine) NewTap(sink media.TapSink) *Tap {
	t := &Tap{eng: e, sink: sink, inputs: map[*audioPath]*tapInput{}}
	e.clock.add(t)
	return t
}

// NewTap is Engine.NewTap for the media port.
func (p Port) NewTap(sink media.TapSink) media.Tap { return p.E.NewTap(sink) }

// Set chooses the legs of each channel.
func (t *Tap) Set(left, right []media.Leg) {
	want := map[*audioPath]int{}
	for side, legs := range [][]media.Leg{left, right} {
		for _, l := range legs {
			if al, ok := l.(AudioLeg); ok && al.path().eng == t.eng {
				want[al.path()] = side
			}
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	var add, drop []*audioPath
	var addIn, dropIn []*tapInput
	for p, in := range t.inputs {
		if side, ok := want[p]; !ok || side != in.side {
			in.removed = true
			delete(t.inputs, p)
			drop, dropIn = append(drop, p), append(dropIn, in)
		}
	}
	for p, side := range want {
		if t.inputs[p] == nil {
			in := &tapInput{t: t, side: side}
			t.inputs[p] = in
			add, addIn = append(add, p), append(addIn, in)
		}
	}
	t.mu.Unlock()
	for i, p := range drop { // the input's own lock is taken without t.mu (deliver holds input, then t.mu)
		p.in.removeSink(dropIn[i])
	}
	for i, p := range add {
		p.in.addSink(addIn[i])
	}
}

// Close stops the tap: no frame is handed to the sink after it returns but one in progress.
func (t *Tap) Close() {
	t.mu.Lock()
	t.closed = true
	ins := t.inputs
	t.inputs = map[*audioPath]*tapInput{}
	for _, in := range ins {
		in.removed = true // read by deliver under t.mu
	}
	t.mu.Unlock()
	for p, in := range ins {
		p.in.removeSink(in)
	}
	t.eng.clock.remove(t)
}

// deliver runs on the input leg's reader goroutine: decode into the input's queue.
func (in *tapInput) deliver(_ *rtp.Header, payload []byte, te bool, _ time.Time) {
	if te {
		return
	}
	t := in.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if in.removed {
		return
	}
	if len(payload) > len(in.fifo) {
		payload = payload[len(payload)-len(in.fifo):]
	}
	if over := in.n + len(payload) - len(in.fifo); over > 0 {
		copy(in.fifo[:], in.fifo[over:in.n])
		in.n -= over
	}
	audio.Decode(in.fifo[in.n:], payload)
	in.n += len(payload)
}

// maxGap is the most silence a late tick fills in (the clock's ticker drops ticks when the
// process is starved; the file keeps the call's timeline).
const maxGap = 50

// tick runs on the clock goroutine: one frame of each channel to the sink, after a frame of
// silence for each tick the clock missed since the last one.
func (t *Tap) tick(now time.Time) {
	if t.last.IsZero() {
		t.last = now
	} else {
		t.last = t.last.Add(Ptime) // this tick's due time
		for n := 0; now.Sub(t.last) >= Ptime && n < maxGap; n++ {
			clear(t.left[:])
			clear(t.right[:])
			t.sink.Frame(t.left[:], t.right[:])
			t.last = t.last.Add(Ptime)
		}
		if now.Sub(t.last) >= Ptime { // too far behind: start the timeline again from now
			t.last = now
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	clear(t.sum[0][:])
	clear(t.sum[1][:])
	for _, in := range t.inputs {
		if in.n < audio.FrameSamples {
			continue
		}
		s := &t.sum[in.side]
		for i, v := range in.fifo[:audio.FrameSamples] {
			s[i] += int32(v)
		}
		copy(in.fifo[:], in.fifo[audio.FrameSamples:in.n])
		in.n -= audio.FrameSamples
	}
	t.mu.Unlock()
	for i := range t.left {
		t.left[i], t.right[i] = audio.Clip(t.sum[0][i]), audio.Clip(t.sum[1][i])
	}
	t.sink.Frame(t.left[:], t.right[:])
}
