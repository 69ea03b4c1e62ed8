// Package peer owns the server side of every WebRTC media connection: an Engine (pion API,
// ICE/transport settings, one shared 20 ms media clock) and the Legs it creates, one pion
// PeerConnection each. A Leg negotiates PCMU plus telephone-event only, trickles ICE both ways,
// reports connection state and received DTMF digits, and sends DTMF on its own audio stream.
//
// Media model. Every leg has one audio input (what the remote party says) and one audio output
// (what the remote party hears). The output has exactly one current AudioSource, switchable at
// any time with continuous RTP sequence numbers and timestamps on the wire:
//
//   - Silence: nothing is sent (the browser plays silence);
//   - Forward(other): the other leg's input, relayed packet by packet without decoding;
//   - a *Player: a µ-law clip (IVR prompt, hold audio), once or looping, with a Done channel;
//   - Mixer.Output(): the sum of a Mixer's inputs minus the leg's own input (conference).
//
// An input can be muted (SetAudioMuted): nothing of it is forwarded or mixed. Hold, conference,
// transfer and owner handover are compositions of these two controls, driven by the core.
//
// Players, mixers and DTMF generation are ticked by the Engine's single clock goroutine; relayed
// packets are written by the source leg's reader goroutine. Video will add a second media kind
// per leg (its own input/output pair, forward-only) without changing the audio model.
package peer
