// Package mediatest is an in-memory implementation of the media port (adapter/media) for tests
// of call flow: legs with a state, DTMF the test injects or reads back, players the test can
// finish, and mixers, with bookkeeping of who hears whom instead of audio. It is the port's
// contract in memory, not a model of any media stack; tests where real audio matters use real
// pion legs (webrtc/, integration/).
package mediatest

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// ErrForeign is returned for a source or leg not made by this engine.
var ErrForeign = errors.New("mediatest: foreign source or leg")

// ErrClosed is returned by operations on a closed leg.
var ErrClosed = errors.New("mediatest: leg closed")

// Engine makes in-memory legs, sources and mixers. One mutex guards every leg, player and
// mixer of the engine; callbacks run without it.
type Engine struct {
	mu   sync.Mutex
	legs []*Leg
	taps []*Tap // recording taps (tap.go)
}

var (
	_ media.Engine       = (*Engine)(nil)
	_ media.Leg          = (*Leg)(nil)
	_ media.Mixer        = (*Mixer)(nil)
	_ media.PlayerSource = (*Player)(nil)
)

// NewEngine returns an engine with no legs.
func NewEngine() *Engine { return &Engine{} }

// NewLeg returns a connected leg named id.
func (e *Engine) NewLeg(id string) *Leg {
	l := &Leg{e: e, id: id, state: media.StateConnected, done: make(chan struct{})}
	e.mu.Lock()
	e.legs = append(e.legs, l)
	e.mu.Unlock()
	return l
}

// Open reports the legs not closed yet.
func (e *Engine) Open() []*Leg {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Leg
	for _, l := range e.legs {
		if !l.closed {
			out = append(out, l)
		}
	}
	return out
}

type silence struct{}

type relay struct{ from *Leg }

// mixOut is a mixer's output; except lists inputs it leaves out besides its own (monitor.go).
type mixOut struct {
	m      *Mixer
	except *[]*Leg
}

type foreign struct{}

// Silence returns the silent source.
func (e *Engine) Silence() media.Source { return silence{} }

// Relay returns a source relaying from's input.
func (e *Engine) Relay(from media.Leg) media.Source {
	l, ok := from.(*Leg)
	if !ok || l.e != e {
		return foreign{} // every leg refuses it
	}
	return relay{l}
}

// NewPlayer returns a player of clip (its bytes name it in Hears).
func (e *Engine) NewPlayer(clip []byte, loop bool) media.PlayerSource {
	return &Player{e: e, clip: string(clip), loop: loop, done: make(chan struct{})}
}

// NewMixer returns an empty mixer.
func (e *Engine) NewMixer() media.Mixer { return &Mixer{e: e} }

// Leg is an in-memory leg.
type Leg struct {
	e       *Engine
	id      string
	state   media.State
	out     media.Source // nil: silence
	muted   bool
	closed  bool
	sent    strings.Builder
	onState func(media.State)
	onDTMF  func(rune)
	done    chan struct{}
	cbMu    sync.Mutex // serialises callbacks
	vid     videoState // video.go
}

// ID returns the leg's name.
func (l *Leg) ID() string { return l.id }

// Kind is webrtc (the kind only matters to records).
func (l *Leg) Kind() media.Kind { return media.KindWebRTC }

// State returns the leg's state.
func (l *Leg) State() media.State {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	return l.state
}

// OnState sets the state callback.
func (l *Leg) OnState(f func(media.State)) {
	l.e.mu.Lock()
	l.onState = f
	l.e.mu.Unlock()
}

// OnDTMF sets the digit callback.
func (l *Leg) OnDTMF(f func(rune)) {
	l.e.mu.Lock()
	l.onDTMF = f
	l.e.mu.Unlock()
}

// SendDTMF records digits as sent to the far end.
func (l *Leg) SendDTMF(ctx context.Context, digits string) error {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.sent.WriteString(digits)
	return ctx.Err()
}

// Sent returns every digit sent to the far end so far.
func (l *Leg) Sent() string {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	return l.sent.String()
}

// SetOutput switches what the far end hears; a player it replaces ends (not completed).
func (l *Leg) SetOutput(src media.Source) error {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	switch s := src.(type) {
	case nil, silence:
	case relay:
		if s.from.e != l.e {
			return ErrForeign
		}
	case mixOut:
		if s.m.e != l.e {
			return ErrForeign
		}
	case *Player:
		if s.e != l.e {
			return ErrForeign
		}
	default:
		return ErrForeign
	}
	if p, ok := l.out.(*Player); ok && p != src {
		p.stopLocked(false)
	}
	l.out = src
	return nil
}

// SetMuted stops relaying the leg's input.
func (l *Leg) SetMuted(m bool) {
	l.e.mu.Lock()
	l.muted = m
	l.e.mu.Unlock()
}

// Muted reports SetMuted.
func (l *Leg) Muted() bool {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	return l.muted
}

// Done closes when the leg is closed.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Close ends the leg (its player ends too) and reports StateClosed.
func (l *Leg) Close() error {
	l.e.mu.Lock()
	if l.closed {
		l.e.mu.Unlock()
		return nil
	}
	l.closed = true
	if p, ok := l.out.(*Player); ok {
		p.stopLocked(false)
	}
	l.out = nil
	close(l.done)
	l.e.mu.Unlock()
	l.SetState(media.StateClosed)
	return nil
}

// Closed reports whether the leg was closed.
func (l *Leg) Closed() bool {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	return l.closed
}

// SetState moves the leg to s and runs its state callback (as the far end would cause).
func (l *Leg) SetState(s media.State) {
	l.e.mu.Lock()
	l.state = s
	f := l.onState
	l.e.mu.Unlock()
	if f != nil {
		l.cbMu.Lock()
		defer l.cbMu.Unlock()
		f(s)
	}
}

// Press reports digits from the far end, one callback each.
func (l *Leg) Press(digits string) {
	l.e.mu.Lock()
	f := l.onDTMF
	l.e.mu.Unlock()
	if f == nil {
		return
	}
	l.cbMu.Lock()
	defer l.cbMu.Unlock()
	for _, d := range digits {
		f(d)
	}
}

// Hears says what the far end of l hears now: the ids of the legs whose (unmuted) input
// reaches it, sorted, or "player:<clip>" for a player, or nothing for silence.
func (l *Leg) Hears() []string {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	switch s := l.out.(type) {
	case relay:
		if !s.from.muted && !s.from.closed {
			return []string{s.from.id}
		}
	case mixOut:
		var ids []string
		for _, in := range s.m.inputs {
			if in != l && !in.muted && !in.closed && !s.skips(in) {
				ids = append(ids, in.id)
			}
		}
		sort.Strings(ids)
		return ids
	case *Player:
		return []string{"player:" + s.clip}
	}
	return nil
}

// Player returns the player the leg plays now, nil if none.
func (l *Leg) Player() *Player {
	l.e.mu.Lock()
	defer l.e.mu.Unlock()
	p, _ := l.out.(*Player)
	return p
}

// Player is an in-memory player: it plays until Finish (a once-player completes) or until it
// is replaced.
type Player struct {
	e         *Engine
	clip      string
	loop      bool
	done      chan struct{}
	ended     bool
	completed bool
}

// Clip returns the clip's bytes as a string.
func (p *Player) Clip() string { return p.clip }

// Loop reports whether the player loops.
func (p *Player) Loop() bool { return p.loop }

// Done closes when playback ends.
func (p *Player) Done() <-chan struct{} { return p.done }

// Completed reports whether a once-player reached its end.
func (p *Player) Completed() bool {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return p.completed
}

// Finish plays a once-player to its end (a loop player cannot finish).
func (p *Player) Finish() {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if !p.loop {
		p.stopLocked(true)
	}
}

func (p *Player) stopLocked(completed bool) {
	if p.ended {
		return
	}
	p.ended, p.completed = true, completed
	close(p.done)
}

// Mixer is an in-memory conference bridge.
type Mixer struct {
	e      *Engine
	inputs []*Leg
	closed bool
}

func (m *Mixer) leg(l media.Leg) (*Leg, error) {
	ml, ok := l.(*Leg)
	if !ok || ml.e != m.e {
		return nil, ErrForeign
	}
	return ml, nil
}

// Add mixes l's input and sets its output to the mix.
func (m *Mixer) Add(l media.Leg) error {
	if err := m.AddInput(l); err != nil {
		return err
	}
	return l.SetOutput(mixOut{m: m})
}

// Remove takes l out; its output falls back to silence if it was this mix.
func (m *Mixer) Remove(l media.Leg) {
	m.RemoveInput(l)
	ml, err := m.leg(l)
	if err != nil {
		return
	}
	m.e.mu.Lock()
	if o, ok := ml.out.(mixOut); ok && o.m == m {
		ml.out = nil
	}
	m.e.mu.Unlock()
}

// AddInput mixes l's input.
func (m *Mixer) AddInput(l media.Leg) error {
	ml, err := m.leg(l)
	if err != nil {
		return err
	}
	m.e.mu.Lock()
	defer m.e.mu.Unlock()
	if !slices.Contains(m.inputs, ml) {
		m.inputs = append(m.inputs, ml)
	}
	return nil
}

// RemoveInput stops mixing l's input.
func (m *Mixer) RemoveInput(l media.Leg) {
	ml, err := m.leg(l)
	if err != nil {
		return
	}
	m.e.mu.Lock()
	m.inputs = slices.DeleteFunc(m.inputs, func(x *Leg) bool { return x == ml })
	m.e.mu.Unlock()
}

// Output returns the mix as a source.
func (m *Mixer) Output() media.Source { return mixOut{m: m} }

// Len reports how many inputs are mixed.
func (m *Mixer) Len() int {
	m.e.mu.Lock()
	defer m.e.mu.Unlock()
	return len(m.inputs)
}

// Close ends the mix: legs that heard it hear silence.
func (m *Mixer) Close() {
	m.e.mu.Lock()
	defer m.e.mu.Unlock()
	m.closed = true
	for _, l := range m.e.legs {
		if o, ok := l.out.(mixOut); ok && o.m == m {
			l.out = nil
		}
	}
	m.inputs = nil
}
