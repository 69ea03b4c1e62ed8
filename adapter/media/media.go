// Package media is the core's media port: the small set of interfaces the call core needs of
// media, owned by the core and implemented elsewhere. webrtc/peer implements it for WebRTC legs
// (pion peer connections) and for RTP legs over SIP trunks; tests of call flow may use an
// in-memory implementation. A call may join legs of any kind: the implementation that made two
// legs relays and mixes between them without the core knowing their kind.
//
// Sources (what a leg's far end hears) are opaque values made by the Engine that will play
// them: Silence, a Relay of another leg, a Player of a prompt clip, or a Mixer's output. Each
// leg has exactly one current source; switching it is atomic and keeps the far end's stream
// continuous.
package media

import "context"

// State is a leg's connection state (the W3C RTCPeerConnectionState names; RTP legs map their
// signalling and liveness onto the same states).
type State int

// Leg states. Failed and Closed are terminal.
const (
	StateNew State = iota
	StateConnecting
	StateConnected
	StateDisconnected // media consent or liveness lost; may come back to Connected
	StateFailed
	StateClosed
)

func (s State) String() string {
	if s < StateNew || s > StateClosed {
		return "unknown"
	}
	return [...]string{"new", "connecting", "connected", "disconnected", "failed", "closed"}[s]
}

// Kind names a leg's transport, as call records spell it.
type Kind string

// Leg kinds.
const (
	KindWebRTC Kind = "webrtc"
	KindSIP    Kind = "sip"
)

// Source is what a leg's output plays. Only the Engine that made a leg can make sources for
// it; a leg refuses a foreign source with an error.
type Source any

// Leg is one party's media: what it hears (its output, set to a Source) and what it says (its
// input, which other legs relay or a mixer mixes). Methods are safe for concurrent use;
// callbacks run one at a time, in order, never under the caller's locks.
type Leg interface {
	ID() string
	Kind() Kind
	State() State
	// OnState and OnDTMF set the leg's callbacks (replacing earlier ones).
	OnState(func(State))
	OnDTMF(func(digit rune))
	// SendDTMF sends digits (0-9 * # A-D) to the far end and returns after the last one.
	SendDTMF(ctx context.Context, digits string) error
	// SetOutput switches what the far end hears; nil means silence.
	SetOutput(Source) error
	// SetMuted stops (or resumes) relaying and mixing the leg's input; DTMF is still reported.
	SetMuted(bool)
	Muted() bool
	// Done closes when the leg has ended for good (closed here or lost at the far end).
	Done() <-chan struct{}
	Close() error
}

// Player plays a µ-law clip (8 kHz, 160 bytes per 20 ms) once or in a loop. Done closes when
// playback ends for any reason; Completed reports whether a once-player reached the end.
type Player interface {
	Done() <-chan struct{}
	Completed() bool
}

// Mixer is a conference bridge: every output hears the sum of all inputs but its own.
type Mixer interface {
	// Add makes leg a full participant (its input mixed, its output set to the mix).
	Add(Leg) error
	// Remove takes leg out (its output falls back to silence if it was this mix).
	Remove(Leg)
	// AddInput mixes leg's input without changing its output; RemoveInput undoes it.
	AddInput(Leg) error
	RemoveInput(Leg)
	// Output returns a new source for one leg: the mix minus that leg's own input.
	Output() Source
	Len() int
	Close()
}

// Engine makes the sources and mixers of the legs it created.
type Engine interface {
	Silence() Source
	// Relay forwards from's input packet by packet, without decoding.
	Relay(from Leg) Source
	// NewPlayer returns a source that plays clip (shared, never modified).
	NewPlayer(clip []byte, loop bool) PlayerSource
	NewMixer() Mixer
}

// PlayerSource is a Player that is also a Source.
type PlayerSource interface {
	Player
	Source
}
