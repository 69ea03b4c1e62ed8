package prompts

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// The ringback is 2 s of 440 + 480 Hz then 4 s of silence, served by Library.Clip.
func TestRingbackCadenceAndTones(t *testing.T) {
	b, err := Library{}.Clip(Ringback)
	if err != nil || len(b) != 6*audio.Rate || &RingbackTone()[0] != &b[0] {
		t.Fatalf("ringback: %d bytes, %v; want 6 s, shared", len(b), err)
	}
	pcm := audio.Decode(make([]int16, len(b)), b)
	on := pcm[audio.Rate/2 : audio.Rate/2+1600]
	for _, f := range []float64{440, 480} {
		if !audio.NewGoertzel(f).Detect(on, 0.3, 300) {
			t.Fatalf("no %.0f Hz in the ringing part", f)
		}
	}
	if audio.NewGoertzel(1000).Detect(on, 0.3, 300) {
		t.Fatal("1000 Hz detected in the ringback: the detector proves nothing")
	}
	if rms := audio.RMS(pcm[3*audio.Rate:]); rms > 50 {
		t.Fatalf("the pause is not silent: RMS %.0f", rms)
	}
}
