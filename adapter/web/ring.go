package web

import (
	"bytes"
	"encoding/binary"
	"math"
)

// Ringtone is the agent pages' ringtone, generated once at start-up: a WAV file (8 kHz, 16-bit
// mono) of one 3 s ring cadence, two 0.4 s bursts of 440 + 480 Hz 0.2 s apart then silence. The
// page loops it. Generated rather than shipped as a binary so that it is code anyone can read.
var Ringtone = ringtone()

func ringtone() []byte {
	const rate, seconds = 8000, 3.0
	n := int(rate * seconds)
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(i) / rate
		on := t < 0.4 || (t >= 0.6 && t < 1.0)
		if !on {
			continue
		}
		v := 0.5*math.Sin(2*math.Pi*440*t) + 0.5*math.Sin(2*math.Pi*480*t)
		pcm[i] = int16(v * 0.6 * math.MaxInt16)
	}
	var b bytes.Buffer
	data := uint32(2 * n)
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, 36+data)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v) // fmt: PCM, mono, 8 kHz, 16-bit
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, data)
	_ = binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}
