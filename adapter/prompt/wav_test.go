package prompt

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/cti-adapter/cti-adapter/webrtc/audio"
)

// wavOf builds a 16-bit PCM WAV of the given channels; declared overrides the data size
// written in the header (espeak-ng --stdout writes 0x7ffff000).
func wavOf(rate, channels int, samples []int16, declared uint32, extra bool) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	if extra { // a chunk a parser must skip (odd size: padded)
		b = append(b, "LIST\x03\x00\x00\x00abc\x00"...)
	}
	f := make([]byte, 24)
	copy(f, "fmt ")
	binary.LittleEndian.PutUint32(f[4:], 16)
	binary.LittleEndian.PutUint16(f[8:], 1)
	binary.LittleEndian.PutUint16(f[10:], uint16(channels))
	binary.LittleEndian.PutUint32(f[12:], uint32(rate))
	binary.LittleEndian.PutUint32(f[16:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(f[20:], uint16(channels*2))
	binary.LittleEndian.PutUint16(f[22:], 16)
	b = append(b, f...)
	d := make([]byte, 8+2*len(samples))
	copy(d, "data")
	binary.LittleEndian.PutUint32(d[4:], declared)
	for i, s := range samples {
		binary.LittleEndian.PutUint16(d[8+2*i:], uint16(s))
	}
	return append(b, d...)
}

func tone(rate int, freq float64, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func TestParseWAV(t *testing.T) {
	s := []int16{1, -2, 300, -32768, 32767, 0}
	p, err := ParseWAV(wavOf(22050, 1, s, uint32(2*len(s)), true))
	if err != nil || p.Rate != 22050 || len(p.Samples) != len(s) || p.Samples[3] != -32768 || p.Samples[4] != 32767 {
		t.Fatalf("mono: %+v %v", p, err)
	}
	// Streamed: the declared size runs past the end; every sample present is read.
	p, err = ParseWAV(wavOf(22050, 1, s, 0x7ffff000, false))
	if err != nil || len(p.Samples) != len(s) {
		t.Fatalf("streamed: %d samples, %v", len(p.Samples), err)
	}
	// Stereo is mixed down: (100 + 300) / 2.
	p, err = ParseWAV(wavOf(16000, 2, []int16{100, 300, -50, -150}, 8, false))
	if err != nil || len(p.Samples) != 2 || p.Samples[0] != 200 || p.Samples[1] != -100 {
		t.Fatalf("stereo: %+v %v", p, err)
	}
	for name, b := range map[string][]byte{
		"empty":   nil,
		"not wav": []byte("RIFF\x00\x00\x00\x00AVI LIST"),
		"no data": wavOf(8000, 1, nil, 0, false)[:36],
		"8-bit":   func() []byte { b := wavOf(8000, 1, s, 12, false); b[34] = 8; return b }(),
		"float":   func() []byte { b := wavOf(8000, 1, s, 12, false); b[20] = 3; return b }(),
		"0 chans": func() []byte { b := wavOf(8000, 1, s, 12, false); b[22] = 0; return b }(),
	} {
		if _, err := ParseWAV(b); !errors.Is(err, ErrBadWAV) {
			t.Errorf("%s: %v, want ErrBadWAV", name, err)
		}
	}
}

// The resampler keeps a tone inside the band (its frequency and level) and removes one above
// the new Nyquist frequency instead of folding it back as an alias.
func TestResample(t *testing.T) {
	const in = 22050
	src := PCM{Rate: in, Samples: tone(in, 1000, in, 10000)} // 1 s of 1 kHz
	out := Resample(src, Rate, 3400)
	if len(out) != Rate {
		t.Fatalf("%d samples, want %d", len(out), Rate)
	}
	mid := out[Rate/4 : Rate*3/4]
	if g := audio.NewGoertzel(1000); !g.Detect(mid, 0.9, 1000) {
		t.Fatalf("1 kHz lost: ratio %.2f", g.Ratio(mid))
	}
	if rms := audio.RMS(mid); math.Abs(rms-10000/math.Sqrt2) > 300 {
		t.Fatalf("1 kHz level %.0f, want %.0f", rms, 10000/math.Sqrt2)
	}
	// 5 kHz would alias to 3 kHz at 8 kHz: it must be attenuated by at least 30 dB.
	high := Resample(PCM{Rate: in, Samples: tone(in, 5000, in, 10000)}, Rate, 3400)
	if rms := audio.RMS(high[Rate/4 : Rate*3/4]); rms > 10000/math.Sqrt2/31.6 {
		t.Fatalf("5 kHz leaks through at RMS %.0f", rms)
	}
	if got := Resample(PCM{Rate: Rate, Samples: []int16{1, 2}}, Rate, 3400); len(got) != 2 || got[1] != 2 {
		t.Fatalf("same rate: %v", got)
	}
}

func TestTelephoneShape(t *testing.T) {
	src := PCM{Rate: 22050, Samples: tone(22050, 500, 22050/2, 2000)} // 0.5 s, quiet
	clip := Telephone(src)
	want := Rate*150/1000 + Rate/2 + Rate*100/1000
	if d := len(clip) - want; d < -2 || d > 2 {
		t.Fatalf("%d bytes, want %d (150 ms + 500 ms + 100 ms)", len(clip), want)
	}
	pcm := audio.Decode(make([]int16, len(clip)), clip)
	if rms := audio.RMS(pcm[:Rate*150/1000]); rms > 50 {
		t.Fatalf("lead-in not silent: %.0f", rms)
	}
	peak := 0
	for _, s := range pcm {
		peak = max(peak, abs(int(s)))
	}
	if want := 32767 * math.Pow(10, -3.0/20); math.Abs(float64(peak)-want) > want*0.05 {
		t.Fatalf("peak %d, want about %.0f (-3 dBFS)", peak, want)
	}
}

func TestWAVRoundTrip(t *testing.T) {
	s := tone(Rate, 440, 800, 5000)
	p, err := ParseWAV(WAV(s))
	if err != nil || p.Rate != Rate || len(p.Samples) != len(s) || p.Samples[100] != s[100] {
		t.Fatalf("%+v %v", p.Rate, err)
	}
}

// The polyphase table gives the same samples as computing every weight (within rounding).
func TestResamplePolyphaseMatchesDirect(t *testing.T) {
	for _, rate := range []int{22050, 16000, 44100, 11025} {
		src := PCM{Rate: rate, Samples: tone(rate, 700, rate/2, 9000)}
		a, b := Resample(src, Rate, 3400), resampleDirect(src, Rate, 3400)
		if len(a) != len(b) {
			t.Fatalf("%d Hz: %d vs %d samples", rate, len(a), len(b))
		}
		for i := range a {
			if d := int(a[i]) - int(b[i]); d < -1 || d > 1 {
				t.Fatalf("%d Hz: sample %d: %d vs %d", rate, i, a[i], b[i])
			}
		}
	}
}

// BenchmarkResample: 5 s of espeak-ng's 22,050 Hz to 8 kHz, polyphase vs every weight computed.
func BenchmarkResample(b *testing.B) {
	src := PCM{Rate: 22050, Samples: tone(22050, 500, 22050*5, 8000)}
	b.Run("polyphase", func(b *testing.B) {
		for b.Loop() {
			Resample(src, Rate, 3400)
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			resampleDirect(src, Rate, 3400)
		}
	})
}

func BenchmarkTelephone(b *testing.B) {
	src := PCM{Rate: 22050, Samples: tone(22050, 500, 22050*5, 8000)} // 5 s of speech-length audio
	b.ReportAllocs()
	for b.Loop() {
		Telephone(src)
	}
}
