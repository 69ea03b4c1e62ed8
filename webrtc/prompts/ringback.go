package prompts

import (
	"math"
	"sync"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// Ringback names the ringback tone for Library.Clip.
const Ringback = "ringback"

// RingbackTone returns 6 seconds of ringback meant to be looped: the North American cadence,
// 440 Hz + 480 Hz for 2 s, then 4 s of silence (the far end rings without sending audio of its
// own). It is synthesised once.
func RingbackTone() []byte { return ringbackOnce() }

var ringbackOnce = sync.OnceValue(func() []byte {
	const (
		on    = audio.Rate * 2
		total = audio.Rate * 6
		amp   = 4000.0
		ramp  = audio.Rate / 100 // 10 ms fade in and out: no clicks
	)
	pcm := make([]int16, total)
	for i := range on {
		t := float64(i) / audio.Rate
		env := 1.0
		if d := min(i, on-1-i); d < ramp {
			env = float64(d) / ramp
		}
		v := amp * env * (math.Sin(2*math.Pi*440*t) + math.Sin(2*math.Pi*480*t))
		pcm[i] = audio.Clip(int32(v))
	}
	return audio.Encode(make([]byte, total), pcm)
})
