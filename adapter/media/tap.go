package media

// This file extends the port for call recording (docs/recording.md): a tap hears chosen legs'
// inputs, the customer's side on one channel and the agents' on the other, and hands a frame of
// both every 20 ms to a sink, silence included, so that the recording keeps the call's timeline.

// TapSink receives a tap's audio: every 20 ms, 160 samples (8 kHz linear PCM) per channel. Frame
// runs on the media clock and must not block; it must not keep the slices.
type TapSink interface {
	Frame(left, right []int16)
}

// Tap is a running tap. Methods are safe for concurrent use.
type Tap interface {
	// Set chooses the legs heard on each channel (replacing the earlier choice); a leg's muted
	// input is not heard. Legs of another engine are ignored.
	Set(left, right []Leg)
	// Close stops the frames.
	Close()
}

// Tapper is an Engine that can tap its legs.
type Tapper interface {
	NewTap(sink TapSink) Tap
}
