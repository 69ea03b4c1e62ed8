package audio

import "math"

// Goertzel measures the energy of one frequency in a block of samples. Tests use it to prove that
// a tone sent by one party arrives at another: compare Power at the expected frequency with the
// block's total energy (Ratio).
type Goertzel struct {
	coeff float64
}

// NewGoertzel returns a detector for freq Hz at the package's sample rate.
func NewGoertzel(freq float64) Goertzel {
	return Goertzel{coeff: 2 * math.Cos(2*math.Pi*freq/Rate)}
}

// Power returns the squared magnitude of the frequency component in samples.
func (g Goertzel) Power(samples []int16) float64 {
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + g.coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - g.coeff*s1*s2
}

// Ratio returns the share (0..1) of the block's energy that lies at the detector's frequency.
// A pure tone at the frequency gives about 1; silence or other tones give about 0.
func (g Goertzel) Ratio(samples []int16) float64 {
	var energy float64
	for _, x := range samples {
		energy += float64(x) * float64(x)
	}
	if energy == 0 {
		return 0
	}
	// For a sinusoid filling the block, Power ≈ (N/2)·Σx²·... normalise by N/2.
	return g.Power(samples) / (energy * float64(len(samples)) / 2)
}

// Detect reports whether freq dominates the block: Ratio above threshold and the block not
// near-silent (RMS above minRMS).
func (g Goertzel) Detect(samples []int16, threshold, minRMS float64) bool {
	if len(samples) == 0 {
		return false
	}
	var energy float64
	for _, x := range samples {
		energy += float64(x) * float64(x)
	}
	if math.Sqrt(energy/float64(len(samples))) < minRMS {
		return false
	}
	return g.Ratio(samples) >= threshold
}

// RMS returns the root mean square of samples.
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var energy float64
	for _, x := range samples {
		energy += float64(x) * float64(x)
	}
	return math.Sqrt(energy / float64(len(samples)))
}
