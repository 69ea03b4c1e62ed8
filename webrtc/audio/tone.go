package audio

import "math"

// Tone is a phase-continuous sine generator at a fixed frequency and amplitude. Successive calls
// to Fill or FillULaw continue the waveform without clicks. A Tone is not safe for concurrent use.
type Tone struct {
	amp   float64
	phase float64 // radians, kept in [0, 2π)
	step  float64 // radians per sample
}

// NewTone returns a generator of freq Hz at amplitude amp (linear peak, 0..32767).
func NewTone(freq float64, amp int16) *Tone {
	return &Tone{amp: float64(amp), step: 2 * math.Pi * freq / Rate}
}

// Fill writes len(dst) samples of the tone.
func (t *Tone) Fill(dst []int16) {
	for i := range dst {
		dst[i] = int16(t.amp * math.Sin(t.phase))
		t.phase += t.step
		if t.phase >= 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}

// FillULaw writes len(dst) µ-law encoded samples of the tone.
func (t *Tone) FillULaw(dst []byte) {
	var buf [FrameSamples]int16
	for len(dst) > 0 {
		n := min(len(dst), len(buf))
		t.Fill(buf[:n])
		Encode(dst, buf[:n])
		dst = dst[n:]
	}
}
