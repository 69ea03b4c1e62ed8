package prompts

import (
	"errors"
	"testing"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

func TestPromptsEmbedded(t *testing.T) {
	total := 0
	for _, n := range Names() {
		b, err := Get(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < audio.Rate { // at least a second of speech
			t.Fatalf("%s: %d bytes", n, len(b))
		}
		pcm := audio.Decode(make([]int16, len(b)), b)
		if rms := audio.RMS(pcm); rms < 500 {
			t.Fatalf("%s: RMS %.0f, looks silent", n, rms)
		}
		total += len(b)
	}
	if total > 300<<10 {
		t.Fatalf("prompts total %d bytes, budget 300 KB", total)
	}
	if _, err := Get("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatal(err)
	}
}

func TestHoldIsGentleAndNotSilent(t *testing.T) {
	h := Hold()
	if len(h) != 4*audio.Rate || &Hold()[0] != &h[0] {
		t.Fatal("hold audio not 4 s or not shared")
	}
	pcm := audio.Decode(make([]int16, len(h)), h)
	if rms := audio.RMS(pcm[:audio.Rate]); rms < 300 {
		t.Fatalf("hold audio RMS %.0f", rms)
	}
	for _, s := range pcm {
		if s > 12000 || s < -12000 {
			t.Fatalf("hold audio too loud: %d", s)
		}
	}
}
