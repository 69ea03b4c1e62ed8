package prompt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Rate is the sample rate of every prompt the media port plays: 8 kHz, sent as PCMU (µ-law) to
// web and SIP callers alike (webrtc/prompts holds the shipped ones in the same format).
const Rate = 8000

// ErrBadWAV is returned for audio that is not a 16-bit PCM RIFF/WAVE.
var ErrBadWAV = errors.New("prompt: not a 16-bit PCM WAV")

// PCM is decoded mono audio.
type PCM struct {
	Rate    int
	Samples []int16
}

// ParseWAV reads a 16-bit PCM RIFF/WAVE, mixing its channels down to mono. A data chunk whose
// declared size runs past the end (espeak-ng --stdout streams, so it writes 0x7ffff000) is
// read to the end.
func ParseWAV(b []byte) (PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return PCM{}, fmt.Errorf("%w: no RIFF/WAVE header", ErrBadWAV)
	}
	var channels, rate int
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size < len(body) {
			body = body[:size]
		}
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return PCM{}, fmt.Errorf("%w: short fmt chunk", ErrBadWAV)
			}
			if f, bits := binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint16(body[14:]); f != 1 || bits != 16 {
				return PCM{}, fmt.Errorf("%w: format %d, %d bits", ErrBadWAV, f, bits)
			}
			channels, rate = int(binary.LittleEndian.Uint16(body[2:])), int(binary.LittleEndian.Uint32(body[4:]))
			if channels < 1 || rate < 4000 || rate > 192000 {
				return PCM{}, fmt.Errorf("%w: %d channels at %d Hz", ErrBadWAV, channels, rate)
			}
		case "data":
			if channels == 0 {
				return PCM{}, fmt.Errorf("%w: data before fmt", ErrBadWAV)
			}
			return PCM{Rate: rate, Samples: mono(body, channels)}, nil
		}
		p += 8 + size + size%2 // chunks are word-aligned
	}
	return PCM{}, fmt.Errorf("%w: no data chunk", ErrBadWAV)
}

// mono averages the interleaved little-endian channels of body.
func mono(body []byte, channels int) []int16 {
	frame := 2 * channels
	out := make([]int16, len(body)/frame)
	for i := range out {
		sum := 0
		for c := 0; c < channels; c++ {
			sum += int(int16(binary.LittleEndian.Uint16(body[i*frame+2*c:])))
		}
		out[i] = int16(sum / channels)
	}
	return out
}

// taps is the half-width, in input samples, of the resampler's windowed-sinc kernel.
const taps = 16

// maxPhases bounds the precomputed kernel table of Resample (phases x 2*taps weights).
const maxPhases = 4096

// Resample converts in to rate out with a band-limited (Blackman-windowed sinc) interpolator
// whose cutoff is cutoff Hz (below both Nyquist frequencies): each output sample is the sum of
// the 2*taps nearest input samples weighted by the low-pass kernel at its fractional position.
// Output sample i sits at input position i*in/out, whose fraction takes out/gcd(in, out)
// values (160 for 22,050 -> 8,000 Hz): the weights of each are computed once (polyphase).
func Resample(in PCM, out int, cutoff float64) []int16 {
	if in.Rate == out || len(in.Samples) == 0 {
		return append([]int16(nil), in.Samples...)
	}
	phases := out / gcd(in.Rate, out)
	if phases > maxPhases {
		return resampleDirect(in, out, cutoff)
	}
	fc := cutoff / float64(in.Rate) // cycles per input sample
	table := make([][2 * taps]float64, phases)
	for p := range table {
		frac := float64(p) * float64(in.Rate) / float64(out)
		frac -= math.Floor(frac)
		for j := range table[p] {
			table[p][j] = kernel(frac-float64(j-taps+1), fc)
		}
	}
	n := int(int64(len(in.Samples)) * int64(out) / int64(in.Rate))
	res := make([]int16, n)
	for i := range res {
		k0 := int(int64(i) * int64(in.Rate) / int64(out))
		w := &table[i%phases]
		var acc, wsum float64
		for j, k := 0, k0-taps+1; j < 2*taps; j, k = j+1, k+1 {
			if k >= 0 && k < len(in.Samples) {
				acc += w[j] * float64(in.Samples[k])
				wsum += w[j]
			}
		}
		if wsum != 0 {
			acc /= wsum // unity gain at DC, also at the edges
		}
		res[i] = clip(acc)
	}
	return res
}

// resampleDirect is Resample computing every weight as it goes (rates with too many phases).
func resampleDirect(in PCM, out int, cutoff float64) []int16 {
	fc := cutoff / float64(in.Rate)
	n := int(int64(len(in.Samples)) * int64(out) / int64(in.Rate))
	res := make([]int16, n)
	step := float64(in.Rate) / float64(out)
	for i := range res {
		t := float64(i) * step
		k0 := int(math.Floor(t))
		var acc, wsum float64
		for k := k0 - taps + 1; k <= k0+taps; k++ {
			if k < 0 || k >= len(in.Samples) {
				continue
			}
			w := kernel(t-float64(k), fc)
			acc += w * float64(in.Samples[k])
			wsum += w
		}
		if wsum != 0 {
			acc /= wsum
		}
		res[i] = clip(acc)
	}
	return res
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// kernel is the low-pass impulse response (cutoff fc cycles per sample) at offset x samples,
// under a Blackman window taps samples wide on each side.
func kernel(x, fc float64) float64 {
	if math.Abs(x) >= taps {
		return 0
	}
	s := 2 * fc
	if x != 0 {
		s = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
	}
	p := (x + taps) / (2 * taps) // 0..1 across the window
	return s * (0.42 - 0.5*math.Cos(2*math.Pi*p) + 0.08*math.Cos(4*math.Pi*p))
}

// HighPass removes rumble below f Hz (a first-order filter), as the telephone band does.
func HighPass(x []int16, rate int, f float64) []int16 {
	rc := 1 / (2 * math.Pi * f)
	a := rc / (rc + 1/float64(rate))
	out := make([]int16, len(x))
	var prevIn, prevOut float64
	for i, s := range x {
		v := a * (prevOut + float64(s) - prevIn)
		prevIn, prevOut = float64(s), v
		out[i] = clip(v)
	}
	return out
}

// Normalize scales x so that its peak is at dbfs decibels below full scale (silence is kept).
func Normalize(x []int16, dbfs float64) []int16 {
	peak := 0
	for _, s := range x {
		peak = max(peak, abs(int(s)))
	}
	out := make([]int16, len(x))
	if peak == 0 {
		return out
	}
	g := 32767 * math.Pow(10, -dbfs/20) / float64(peak)
	for i, s := range x {
		out[i] = clip(float64(s) * g)
	}
	return out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func clip(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}

// WAV encodes 8 kHz mono 16-bit PCM as a RIFF/WAVE file, for a browser to preview.
func WAV(pcm []int16) []byte {
	data := 2 * len(pcm)
	b := make([]byte, 44+data)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], Rate)
	binary.LittleEndian.PutUint32(b[28:], 2*Rate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}
