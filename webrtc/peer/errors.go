package peer

import "errors"

// Errors returned by this package; match with errors.Is.
var (
	// ErrNoAudio: an offer or answer has no usable audio m-line with PCMU.
	ErrNoAudio = errors.New("peer: session description has no PCMU audio")
	// ErrClosed: the leg, mixer or engine was closed.
	ErrClosed = errors.New("peer: closed")
	// ErrNotConnected: media cannot flow yet (the audio sender is not bound to a transport).
	ErrNotConnected = errors.New("peer: audio not connected yet")
	// ErrNoTelephoneEvent: the remote did not negotiate telephone-event, so DTMF cannot be sent.
	ErrNoTelephoneEvent = errors.New("peer: remote did not negotiate telephone-event")
	// ErrSourceInUse: a Player or Mixer output handed to a second leg, or a Player reused.
	ErrSourceInUse = errors.New("peer: audio source already in use")
	// ErrSelfForward: a leg cannot hear its own input.
	ErrSelfForward = errors.New("peer: a leg cannot forward its own input to itself")
	// ErrForeignSource: a source or leg created by another Engine.
	ErrForeignSource = errors.New("peer: source belongs to another engine")
)
