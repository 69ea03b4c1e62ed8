// Package holdvideo owns the "please hold" video the server shows a video caller in the IVR,
// in the queue and on hold (docs/video.md): a four-second VP8 loop (320x180, 15 fps, a card
// saying "Please hold" with a moving highlight), captured once from Chromium's canvas encoder by
// gen/ and embedded as an IVF file. Its first frame is a keyframe, so the loop can restart (or
// answer a keyframe request) at frame 0.
package holdvideo

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

//go:embed hold.ivf
var ivf []byte

// Frame is one VP8 frame of the loop and its time from the loop's start.
type Frame struct {
	At   time.Duration
	Data []byte // a whole VP8 frame (RFC 6386), shared: do not modify
	Key  bool
}

var (
	once   sync.Once
	frames []Frame
	err    error
)

// Frames returns the loop's frames, in order, starting with a keyframe.
func Frames() ([]Frame, error) {
	once.Do(func() { frames, err = Parse(ivf) })
	return frames, err
}

// Parse reads a VP8 IVF file.
func Parse(b []byte) ([]Frame, error) {
	if len(b) < 32 || string(b[:4]) != "DKIF" || string(b[8:12]) != "VP80" {
		return nil, errors.New("holdvideo: not a VP8 IVF file")
	}
	hl := int(binary.LittleEndian.Uint16(b[6:]))
	rate, scale := binary.LittleEndian.Uint32(b[16:]), binary.LittleEndian.Uint32(b[20:])
	if hl < 32 || hl > len(b) || rate == 0 || scale == 0 {
		return nil, errors.New("holdvideo: bad IVF header")
	}
	var out []Frame
	for i := hl; i < len(b); {
		if len(b)-i < 12 {
			return nil, fmt.Errorf("holdvideo: truncated frame header at %d", i)
		}
		n := int(binary.LittleEndian.Uint32(b[i:]))
		pts := binary.LittleEndian.Uint64(b[i+4:])
		i += 12
		if n < 3 || n > len(b)-i {
			return nil, fmt.Errorf("holdvideo: bad frame length %d at %d", n, i)
		}
		d := b[i : i+n : i+n]
		out = append(out, Frame{At: time.Duration(pts) * time.Second * time.Duration(scale) / time.Duration(rate),
			Data: d, Key: d[0]&1 == 0})
		i += n
	}
	if len(out) == 0 || !out[0].Key {
		return nil, errors.New("holdvideo: the loop must start with a keyframe")
	}
	return out, nil
}
