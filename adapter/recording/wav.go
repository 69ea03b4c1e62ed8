package recording

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The file format: RIFF/WAVE, PCM, 2 channels (left: the customer, right: the agents), 8000 Hz,
// 16-bit little-endian, one 44-byte header then the interleaved samples.
const (
	Rate        = 8000
	Channels    = 2
	headerSize  = 44
	bytesPerSec = Rate * Channels * 2
	// FrameSamples is one 20 ms frame per channel.
	FrameSamples = Rate / 50
	// syncEvery is how many frames go by between two header updates: the file on disk is a
	// valid WAV of everything up to the last update (one second), whatever happens after.
	syncEvery = 50
)

// Writer writes a stereo WAV sequentially through a buffer: nothing but the buffer (32 KiB) is
// held in memory, and every second the buffer is flushed and the header's sizes are rewritten,
// so that a process killed mid-call leaves a playable file up to the last second.
type Writer struct {
	f       *os.File
	bw      *bufio.Writer
	data    int64 // sample bytes written (buffered or not)
	frames  int
	scratch [FrameSamples * Channels * 2]byte
}

// Create creates path (mode 0600) with a header of an empty recording.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, bw: bufio.NewWriterSize(f, 32<<10)}
	if _, err := w.bw.Write(header(0)); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// header is the 44-byte WAV header of a recording of data sample bytes.
func header(data int64) []byte {
	h := make([]byte, headerSize)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+data))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], Channels)
	binary.LittleEndian.PutUint32(h[24:], Rate)
	binary.LittleEndian.PutUint32(h[28:], bytesPerSec)
	binary.LittleEndian.PutUint16(h[32:], Channels*2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(data))
	return h
}

// WriteFrame appends one 20 ms frame: FrameSamples samples of each channel.
func (w *Writer) WriteFrame(left, right []int16) error {
	b := w.scratch[:]
	for i := 0; i < FrameSamples; i++ {
		var l, r int16
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		binary.LittleEndian.PutUint16(b[i*4:], uint16(l))
		binary.LittleEndian.PutUint16(b[i*4+2:], uint16(r))
	}
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	w.data += int64(len(b))
	w.frames++
	if w.frames%syncEvery == 0 {
		return w.Sync()
	}
	return nil
}

// Sync flushes the buffer and rewrites the header's sizes to cover everything written.
func (w *Writer) Sync() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	h := header(w.data)
	if _, err := w.f.WriteAt(h[4:8], 4); err != nil {
		return err
	}
	_, err := w.f.WriteAt(h[40:44], 40)
	return err
}

// Bytes is the file's size once synced.
func (w *Writer) Bytes() int64 { return headerSize + w.data }

// Duration is the length of what was written, in milliseconds.
func (w *Writer) DurationMS() int64 { return w.data * 1000 / bytesPerSec }

// Close syncs and closes the file.
func (w *Writer) Close() error {
	err := w.Sync()
	return errors.Join(err, w.f.Close())
}

// WAV is a decoded recording: its channels as 8 kHz samples.
type WAV struct {
	Left, Right []int16
	Declared    int64 // the header's data size
}

// Decode reads a stereo 16-bit WAV as this package writes it, trusting the header's data size
// (the samples after it, written since the last header update, are not part of the file yet).
func Decode(r io.Reader) (WAV, error) {
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(r, h); err != nil {
		return WAV{}, fmt.Errorf("recording: header: %w", err)
	}
	if string(h[0:4]) != "RIFF" || string(h[8:16]) != "WAVEfmt " || string(h[36:40]) != "data" ||
		binary.LittleEndian.Uint16(h[22:]) != Channels || binary.LittleEndian.Uint32(h[24:]) != Rate ||
		binary.LittleEndian.Uint16(h[34:]) != 16 {
		return WAV{}, errors.New("recording: not a stereo 8 kHz 16-bit WAV")
	}
	n := int64(binary.LittleEndian.Uint32(h[40:]))
	if riff := int64(binary.LittleEndian.Uint32(h[4:])); riff != 36+n {
		return WAV{}, fmt.Errorf("recording: RIFF size %d does not match data size %d", riff, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return WAV{}, fmt.Errorf("recording: %d data bytes declared: %w", n, err)
	}
	out := WAV{Declared: n, Left: make([]int16, n/4), Right: make([]int16, n/4)}
	for i := range out.Left {
		out.Left[i] = int16(binary.LittleEndian.Uint16(body[i*4:]))
		out.Right[i] = int16(binary.LittleEndian.Uint16(body[i*4+2:]))
	}
	return out, nil
}

// repair rewrites the header of a file left by a crash to cover every whole frame on disk.
func repair(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	data := max(st.Size()-headerSize, 0)
	data -= data % 4
	h := header(data)
	if _, err := f.WriteAt(h[4:8], 4); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(h[40:44], 40); err != nil {
		return 0, err
	}
	return data, f.Truncate(headerSize + data)
}
