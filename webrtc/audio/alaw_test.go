package audio

import (
	"math"
	"testing"
)

// Reference codes of G.711 A-law (13-bit magnitude, segment, mantissa, even bits inverted),
// worked by hand from the standard's segment table.
func TestALawKnownCodes(t *testing.T) {
	cases := []struct {
		pcm  int16
		code byte
	}{
		{0, 0xD5}, {-1, 0x55}, {8, 0xD5}, {16, 0xD4}, {1000, 0xFA}, {4095, 0x9A}, {32767, 0xAA}, {-32768, 0x2A},
	}
	for _, c := range cases {
		if got := ALawEncodeSample(c.pcm); got != c.code {
			t.Errorf("ALawEncodeSample(%d) = %#x, want %#x", c.pcm, got, c.code)
		}
	}
	if ALawEncodeSample(0) != ALawSilence {
		t.Errorf("zero sample is not ALawSilence")
	}
}

// Every code decodes to a value that encodes back to the same code (the table is a bijection
// on its 256 output levels), and decode is odd-symmetric.
func TestALawRoundTripAndSymmetry(t *testing.T) {
	for i := range 256 {
		a := byte(i)
		v := ALawDecodeSample(a)
		if got := ALawEncodeSample(v); got != a {
			t.Fatalf("code %#x decodes to %d which encodes to %#x", a, v, got)
		}
		if ALawDecodeSample(a^0x80) != -v {
			t.Fatalf("code %#x: decode not symmetric (%d vs %d)", a, v, ALawDecodeSample(a^0x80))
		}
	}
}

// A tone translated µ-law → A-law → µ-law keeps its level and frequency: the Goertzel detector
// still hears it and the error stays within one quantisation step of either law.
func TestULawALawTranslationKeepsTone(t *testing.T) {
	u := make([]byte, 800)
	NewTone(1000, 8000).FillULaw(u)
	a := ULawToALaw(make([]byte, len(u)), u)
	back := ALawToULaw(make([]byte, len(a)), a)
	pcm := Decode(make([]int16, len(back)), back)
	orig := Decode(make([]int16, len(u)), u)
	var maxErr float64
	for i := range pcm {
		maxErr = math.Max(maxErr, math.Abs(float64(pcm[i])-float64(orig[i])))
	}
	if maxErr > 600 { // a few percent of the 8000 peak: one segment step at this level
		t.Fatalf("max error after µ→A→µ = %v", maxErr)
	}
	for i := range 256 {
		if diff := math.Abs(float64(ALawDecodeSample(ulawToALaw[i])) - float64(ulawDecode[i])); diff > 1100 {
			t.Fatalf("µ-law %#x → A-law differs by %v", i, diff)
		}
	}
}
