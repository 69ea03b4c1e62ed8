package audio

import (
	"math"
	"testing"
)

func TestULawKnownValues(t *testing.T) {
	cases := []struct {
		in   int16
		want byte
	}{{0, 0xFF}, {-1, 0x7F}, {32767, 0x80}, {-32768, 0x00}, {1000, 0xCE}, {-1000, 0x4E}}
	for _, c := range cases {
		if got := EncodeSample(c.in); got != c.want {
			t.Errorf("EncodeSample(%d) = %#x, want %#x", c.in, got, c.want)
		}
	}
	if DecodeSample(0xFF) != 0 || DecodeSample(0x80) != 32124 || DecodeSample(0x00) != -32124 {
		t.Fatalf("decode table wrong: %d %d %d", DecodeSample(0xFF), DecodeSample(0x80), DecodeSample(0x00))
	}
}

func TestULawRoundTrip(t *testing.T) {
	// Every code decodes to a value that encodes back to an equivalent code.
	for u := 0; u < 256; u++ {
		d := DecodeSample(byte(u))
		if DecodeSample(EncodeSample(d)) != d {
			t.Fatalf("code %#x: decode %d re-encodes to %#x", u, d, EncodeSample(d))
		}
	}
	// Quantisation error stays within the segment step (about 3 % of the value, ≥ 4).
	for s := -32768; s <= 32767; s += 7 {
		d := int(DecodeSample(EncodeSample(int16(s))))
		lim := max(4, int(math.Abs(float64(s))*0.07))
		if s > ulawClip || s < -ulawClip {
			lim = 700
		}
		if diff := d - s; diff > lim || diff < -lim {
			t.Fatalf("sample %d decodes to %d", s, d)
		}
	}
}

func TestGoertzelDetectsTone(t *testing.T) {
	buf := make([]int16, 800)
	NewTone(1000, 8000).Fill(buf)
	// Through µ-law as on the wire.
	u := Encode(make([]byte, len(buf)), buf)
	pcm := Decode(make([]int16, len(u)), u)
	if r := NewGoertzel(1000).Ratio(pcm); r < 0.9 {
		t.Fatalf("1 kHz ratio %.3f", r)
	}
	if r := NewGoertzel(700).Ratio(pcm); r > 0.05 {
		t.Fatalf("700 Hz ratio %.3f on a 1 kHz tone", r)
	}
	if NewGoertzel(1000).Detect(make([]int16, 800), 0.5, 50) {
		t.Fatal("detected a tone in silence")
	}
}

func TestGoertzelTwoTones(t *testing.T) {
	a, b := make([]int16, 800), make([]int16, 800)
	NewTone(700, 6000).Fill(a)
	NewTone(1500, 6000).Fill(b)
	for i := range a {
		a[i] = Clip(int32(a[i]) + int32(b[i]))
	}
	for _, f := range []float64{700, 1500} {
		if r := NewGoertzel(f).Ratio(a); r < 0.35 {
			t.Fatalf("%v Hz ratio %.3f in a two-tone mix", f, r)
		}
	}
	if r := NewGoertzel(1100).Ratio(a); r > 0.05 {
		t.Fatalf("1100 Hz ratio %.3f in a 700+1500 mix", r)
	}
}

func TestToneIsPhaseContinuous(t *testing.T) {
	whole := make([]int16, 320)
	NewTone(440, 10000).Fill(whole)
	g := NewTone(440, 10000)
	parts := make([]int16, 320)
	g.Fill(parts[:100])
	g.Fill(parts[100:])
	for i := range whole {
		if d := int(whole[i]) - int(parts[i]); d > 1 || d < -1 {
			t.Fatalf("sample %d: %d vs %d", i, whole[i], parts[i])
		}
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	pcm := make([]int16, FrameSamples)
	NewTone(1000, 8000).Fill(pcm)
	dst := make([]byte, FrameSamples)
	for b.Loop() {
		Encode(dst, pcm)
	}
}
