// Package audio owns the sample-level signal processing of the media layer: G.711 µ-law
// encode/decode, tone generation, mixing helpers and a Goertzel tone detector. Everything works on
// 8 kHz mono 16-bit PCM and on 160-byte (20 ms) µ-law frames; nothing here allocates per frame.
package audio

// Rate is the sample rate of every leg (G.711), FrameSamples the samples in one 20 ms packet.
const (
	Rate         = 8000
	FrameSamples = 160
	// Silence is the µ-law code of a zero sample.
	Silence byte = 0xFF
)

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// ulawDecode is the full decode table, built once at init (256 entries).
var ulawDecode = func() (t [256]int16) {
	for i := range t {
		u := ^byte(i)
		exp := (u >> 4) & 0x07
		mant := int32(u & 0x0F)
		v := ((mant << 3) + ulawBias) << exp
		v -= ulawBias
		if u&0x80 != 0 {
			v = -v
		}
		t[i] = int16(v)
	}
	return t
}()

// EncodeSample converts one linear 16-bit sample to µ-law (ITU-T G.711, with zero-trap-free bias).
func EncodeSample(s int16) byte {
	v := int32(s)
	sign := byte(0)
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := byte(7)
	for mask := int32(0x4000); v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

// DecodeSample converts one µ-law code to a linear 16-bit sample.
func DecodeSample(u byte) int16 { return ulawDecode[u] }

// Encode writes the µ-law encoding of pcm into dst (len(dst) must be >= len(pcm)) and returns
// dst[:len(pcm)].
func Encode(dst []byte, pcm []int16) []byte {
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = EncodeSample(s)
	}
	return dst
}

// Decode writes the linear samples of ulaw into dst (len(dst) must be >= len(ulaw)) and returns
// dst[:len(ulaw)].
func Decode(dst []int16, ulaw []byte) []int16 {
	dst = dst[:len(ulaw)]
	for i, u := range ulaw {
		dst[i] = ulawDecode[u]
	}
	return dst
}

// Clip saturates a 32-bit sum to the 16-bit range.
func Clip(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
