package peer

import (
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
	"github.com/pion/rtp"
)

// mixDepth bounds each input's queue, in 20 ms frames: older audio is dropped so mixing adds at
// most this much latency when a sender's clock runs fast.
const mixDepth = 3

// Mixer is a conference bridge: it decodes its inputs, and every 20 ms (on the engine's clock)
// sends each of its outputs the clipped sum of all inputs except that output's own leg, µ-law
// encoded. Inputs and outputs are independent sets: a leg is usually both (Add), a silent
// monitor only an output. Methods are safe for concurrent use.
type Mixer struct {
	eng *Engine

	mu      sync.Mutex // guards everything below
	inputs  map[*audioPath]*mixInput
	outputs map[*mixOutput]struct{}
	closed  bool
	sum     [audio.FrameSamples]int32
	ready   []*mixOutput // scratch: outputs to write this tick
}

type mixInput struct {
	m       *Mixer
	leg     *audioPath
	fifo    [mixDepth * audio.FrameSamples]int16
	n       int // samples queued
	cur     [audio.FrameSamples]int16
	hasCur  bool // cur holds this tick's frame
	removed bool
}

type mixOutput struct {
	m      *Mixer
	out    *output
	except []*audioPath // inputs this output leaves out besides its own (monitor_mixer.go)
	seq    uint16
	ts     uint32
	buf    [audio.FrameSamples]byte
}

// NewMixer returns an empty mixer ticked by the engine's clock while it has outputs.
func (e *Engine) NewMixer() *Mixer {
	return &Mixer{eng: e, inputs: map[*audioPath]*mixInput{}, outputs: map[*mixOutput]struct{}{}}
}

// Add makes leg a full participant: its input is mixed for the others and its output is set to
// this mixer (it hears everybody but itself).
func (m *Mixer) Add(leg AudioLeg) error {
	if err := m.AddInput(leg); err != nil {
		return err
	}
	return leg.SetAudioOutput(m.Output())
}

// Remove takes leg out of the mix: its input is no longer mixed and, if its output is this
// mixer, the output switches to Silence.
func (m *Mixer) Remove(l AudioLeg) {
	m.RemoveInput(l)
	leg := l.path()
	leg.out.mu.Lock()
	if mo, ok := leg.out.src.(*mixOutput); ok && mo.m == m {
		leg.out.setSourceLocked(Silence)
	}
	leg.out.mu.Unlock()
}

// AddInput mixes leg's (unmuted) input into every output.
func (m *Mixer) AddInput(l AudioLeg) error {
	leg := l.path()
	if leg.eng != m.eng {
		return ErrForeignSource
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.inputs[leg]; ok {
		return nil
	}
	in := &mixInput{m: m, leg: leg}
	m.inputs[leg] = in
	leg.in.addSink(in)
	return nil
}

// RemoveInput stops mixing leg's input.
func (m *Mixer) RemoveInput(l AudioLeg) { m.removeInput(l.path()) }

func (m *Mixer) removeInput(leg *audioPath) {
	m.mu.Lock()
	in, ok := m.inputs[leg]
	if ok {
		delete(m.inputs, leg)
		in.removed = true
	}
	m.mu.Unlock()
	if ok {
		leg.in.removeSink(in)
	}
}

// Output returns a new source for one leg's output: the mix minus that leg's own input.
func (m *Mixer) Output() AudioSource { return &mixOutput{m: m} }

// Len returns the number of inputs.
func (m *Mixer) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.inputs)
}

// Close removes every input and switches every output leg to Silence.
func (m *Mixer) Close() {
	m.mu.Lock()
	m.closed = true
	legs := make([]*audioPath, 0, len(m.inputs))
	for l := range m.inputs {
		legs = append(legs, l)
	}
	outs := make([]*output, 0, len(m.outputs))
	for mo := range m.outputs {
		outs = append(outs, mo.out)
	}
	m.mu.Unlock()
	for _, l := range legs {
		m.removeInput(l)
	}
	for _, o := range outs {
		o.mu.Lock()
		if mo, ok := o.src.(*mixOutput); ok && mo.m == m {
			o.setSourceLocked(Silence)
		}
		o.mu.Unlock()
	}
	m.eng.clock.remove(m)
}

func (mo *mixOutput) attach(o *output) error {
	m := mo.m
	if o.leg.eng != m.eng {
		return ErrForeignSource
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case mo.out != nil:
		return ErrSourceInUse
	}
	mo.out = o
	m.outputs[mo] = struct{}{}
	if len(m.outputs) == 1 {
		m.eng.clock.add(m)
	}
	return nil
}

func (mo *mixOutput) detach(*output) {
	m := mo.m
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.outputs, mo)
	if len(m.outputs) == 0 { // under m.mu, as attach adds it: a concurrent attach is not undone
		m.eng.clock.remove(m)
	}
}

// deliver runs on the input leg's reader goroutine: decode into the input's queue.
func (in *mixInput) deliver(h *rtp.Header, payload []byte, te bool, _ time.Time) {
	if te {
		return
	}
	m := in.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.removed {
		return
	}
	if len(payload) > len(in.fifo) {
		payload = payload[len(payload)-len(in.fifo):]
	}
	if over := in.n + len(payload) - len(in.fifo); over > 0 { // drop the oldest
		copy(in.fifo[:], in.fifo[over:in.n])
		in.n -= over
	}
	audio.Decode(in.fifo[in.n:], payload)
	in.n += len(payload)
}

// tick runs on the clock goroutine.
func (m *Mixer) tick(now time.Time) {
	m.mu.Lock()
	clear(m.sum[:])
	for _, in := range m.inputs {
		in.hasCur = in.n >= audio.FrameSamples
		if !in.hasCur {
			continue
		}
		copy(in.cur[:], in.fifo[:audio.FrameSamples])
		copy(in.fifo[:], in.fifo[audio.FrameSamples:in.n])
		in.n -= audio.FrameSamples
		for i, s := range in.cur {
			m.sum[i] += int32(s)
		}
	}
	m.ready = m.ready[:0]
	for mo := range m.outputs {
		own := m.inputs[mo.out.leg]
		for i := range mo.buf {
			v := m.sum[i]
			if own != nil && own.hasCur {
				v -= int32(own.cur[i])
			}
			mo.buf[i] = audio.EncodeSample(audio.Clip(v))
		}
		if mo.except != nil {
			mo.mixExceptLocked(own)
		}
		m.ready = append(m.ready, mo)
	}
	ready := m.ready
	m.mu.Unlock()
	// Written outside m.mu: output locks are taken before m.mu elsewhere (attach). Only the clock
	// goroutine touches mo.buf/seq/ts and m.ready, so they are stable here.
	for _, mo := range ready {
		mo.out.write(mo, mo.seq, mo.ts, false, false, mo.buf[:], now)
		mo.seq++
		mo.ts += audio.FrameSamples
	}
}
