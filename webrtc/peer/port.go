package peer

import "github.com/cti-adapter/cti-adapter/adapter/media"

// This file makes the engine the core's media port (adapter/media). The port's methods take
// and return the port's interface types; they accept only legs and sources of this engine.

var (
	_ media.Leg          = (*Leg)(nil)
	_ media.Engine       = Port{}
	_ media.Mixer        = portMixer{}
	_ media.PlayerSource = (*Player)(nil)
)

// Kind reports the leg's transport: WebRTC.
func (l *Leg) Kind() media.Kind { return media.KindWebRTC }

// SetOutput is SetAudioOutput for the media port: src must be a source of this package.
func (l *Leg) SetOutput(src media.Source) error {
	as, err := audioSource(src)
	if err != nil {
		return err
	}
	return l.SetAudioOutput(as)
}

// audioSource turns a port source into this package's: nil is Silence, a foreign source an error.
func audioSource(src media.Source) (AudioSource, error) {
	if src == nil {
		return Silence, nil
	}
	as, ok := src.(AudioSource)
	if !ok {
		return nil, ErrForeignSource
	}
	return as, nil
}

// SetMuted is SetAudioMuted for the media port.
func (l *Leg) SetMuted(muted bool) { l.SetAudioMuted(muted) }

// Muted is AudioMuted for the media port.
func (l *Leg) Muted() bool { return l.AudioMuted() }

// Port is an Engine seen as the core's media port.
type Port struct{ E *Engine }

// Port returns the engine as the core's media port.
func (e *Engine) Port() Port { return Port{E: e} }

// Silence returns the silent source.
func (Port) Silence() media.Source { return Silence }

// Relay forwards from's input; from must be a leg (WebRTC or RTP) of this package (else the leg that is given
// the source refuses it with ErrForeignSource).
func (Port) Relay(from media.Leg) media.Source {
	l, ok := from.(AudioLeg)
	if !ok {
		return foreign{}
	}
	return Forward(l)
}

// NewPlayer returns a player of clip.
func (Port) NewPlayer(clip []byte, loop bool) media.PlayerSource { return NewPlayer(clip, loop) }

// NewMixer returns a new mixer of this engine.
func (p Port) NewMixer() media.Mixer { return portMixer{p.E.NewMixer()} }

// portMixer adapts *Mixer to the port's leg type.
type portMixer struct{ *Mixer }

func (m portMixer) Add(l media.Leg) error {
	pl, ok := l.(AudioLeg)
	if !ok {
		return ErrForeignSource
	}
	return m.Mixer.Add(pl)
}

func (m portMixer) Remove(l media.Leg) {
	if pl, ok := l.(AudioLeg); ok {
		m.Mixer.Remove(pl)
	}
}

func (m portMixer) AddInput(l media.Leg) error {
	pl, ok := l.(AudioLeg)
	if !ok {
		return ErrForeignSource
	}
	return m.Mixer.AddInput(pl)
}

func (m portMixer) RemoveInput(l media.Leg) {
	if pl, ok := l.(AudioLeg); ok {
		m.Mixer.RemoveInput(pl)
	}
}

func (m portMixer) Output() media.Source { return m.Mixer.Output() }

// foreign is a source no leg of this package accepts.
type foreign struct{}

func (foreign) attach(*output) error { return ErrForeignSource }
func (foreign) detach(*output)       {}
