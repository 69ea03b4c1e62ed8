package peer

import (
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// Selective outputs of the Mixer, for supervision (docs/supervision.md): an output that leaves
// out chosen inputs besides its own, so that a whispering supervisor is mixed for the agents but
// not for the customer.

var _ media.SelectiveMixer = portMixer{}

// OutputExcept returns a new source for one leg's output: the mix minus that leg's own input and
// minus the inputs of except (legs of other engines or not mixed here change nothing).
func (m *Mixer) OutputExcept(except ...AudioLeg) AudioSource {
	mo := &mixOutput{m: m, except: []*audioPath{}}
	for _, l := range except {
		mo.except = append(mo.except, l.path())
	}
	return mo
}

// OutputExcept is Mixer.OutputExcept for the media port.
func (m portMixer) OutputExcept(except ...media.Leg) media.Source {
	var legs []AudioLeg
	for _, l := range except {
		if pl, ok := l.(AudioLeg); ok {
			legs = append(legs, pl)
		}
	}
	return m.Mixer.OutputExcept(legs...)
}

// mixExceptLocked redoes mo.buf for an output with exclusions (the common case, no exclusion,
// never gets here). It runs in tick with m.mu held, after the plain mix was written.
func (mo *mixOutput) mixExceptLocked(own *mixInput) {
	m := mo.m
	var skip [4]*mixInput
	n := 0
	for _, p := range mo.except {
		if in := m.inputs[p]; in != nil && in.hasCur && in != own && n < len(skip) {
			skip[n] = in
			n++
		}
	}
	if n == 0 {
		return
	}
	for i := range mo.buf {
		v := m.sum[i]
		if own != nil && own.hasCur {
			v -= int32(own.cur[i])
		}
		for _, in := range skip[:n] {
			v -= int32(in.cur[i])
		}
		mo.buf[i] = audio.EncodeSample(audio.Clip(v))
	}
}
