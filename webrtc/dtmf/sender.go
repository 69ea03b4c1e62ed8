package dtmf

// Timing of generated events, in 20 ms ticks (160 timestamp units each at 8 kHz).
const (
	TickSamples = 160
	// ToneTicks is the tone length: 5 ticks = 100 ms.
	ToneTicks = 5
	// EndRepeats is how many packets carry the E bit (RFC 4733 section 2.5.1.4 recommends 3);
	// they go out on successive ticks so a short loss burst cannot swallow all of them.
	EndRepeats = 3
	// GapTicks are ticks of normal audio between one digit's last end packet and the next digit's
	// first packet. A digit thus takes (ToneTicks+EndRepeats+GapTicks)·20 ms = 200 ms.
	GapTicks = 2
	// Volume is the generated event volume (-10 dBm0).
	Volume = 10
)

// Packet is one telephone-event packet the Sender asks to be written during a tick.
type Packet struct {
	Payload [4]byte
	// Marker is set on the first packet of an event (RFC 4733 section 2.5.1.3).
	Marker bool
	// NewEvent asks the writer to allocate the event's RTP timestamp (the stream's current
	// position); every later packet of the event reuses it.
	NewEvent bool
	// Duration is the event's duration so far, in timestamp units.
	Duration uint16
}

// Step is what the Sender wants done during one 20 ms tick.
type Step struct {
	// Packet is valid when Send is true.
	Packet Packet
	Send   bool
	// Busy means the stream's audio must stay suppressed during this tick (an event is in
	// progress, including its end packets).
	Busy bool
	// Done is true on the tick that hands out the last end packet of the last digit, and on every
	// call after it.
	Done bool
}

// Sender plans the packets of a digit string: per digit ToneTicks packets (marker on the first,
// duration growing by 160 each), then EndRepeats packets with the E bit and the final duration,
// one per tick, then GapTicks ticks of normal audio. Not safe for concurrent use.
type Sender struct {
	codes []uint8
	idx   int    // current digit
	tick  int    // ticks into the current digit
	dur   uint16 // duration of the current event so far
}

// NewSender validates digits (0-9 * # A-D, case-insensitive letters) and returns a Sender.
func NewSender(digits string) (*Sender, error) {
	if err := Validate(digits); err != nil {
		return nil, err
	}
	s := &Sender{}
	for _, r := range digits {
		c, _ := Code(r)
		s.codes = append(s.codes, c)
	}
	return s, nil
}

// Cancel makes the sender finish early: a tone in progress is ended properly (its end packets
// still go out), no further digit starts.
func (s *Sender) Cancel() {
	if s.idx >= len(s.codes) {
		return
	}
	if s.tick == 0 || s.tick >= ToneTicks+EndRepeats {
		s.codes = s.codes[:s.idx] // between digits: stop now
		return
	}
	s.codes = s.codes[:s.idx+1]
	if s.tick < ToneTicks {
		s.tick = ToneTicks
	}
}

// Next returns the plan for the next tick.
func (s *Sender) Next() Step {
	if s.idx >= len(s.codes) {
		return Step{Done: true}
	}
	code := s.codes[s.idx]
	t := s.tick
	s.tick++
	switch {
	case t < ToneTicks:
		s.dur = uint16((t + 1) * TickSamples)
		var p Packet
		Event{Code: code, Volume: Volume, Duration: s.dur}.Marshal(p.Payload[:])
		p.Marker, p.NewEvent, p.Duration = t == 0, t == 0, s.dur
		return Step{Packet: p, Send: true, Busy: true}
	case t < ToneTicks+EndRepeats:
		var p Packet
		Event{Code: code, End: true, Volume: Volume, Duration: s.dur}.Marshal(p.Payload[:])
		p.Duration = s.dur
		st := Step{Packet: p, Send: true, Busy: true}
		if t == ToneTicks+EndRepeats-1 && s.idx == len(s.codes)-1 {
			s.idx, s.tick = len(s.codes), 0
			st.Done = true
		}
		return st
	default:
		if s.tick >= ToneTicks+EndRepeats+GapTicks {
			s.idx, s.tick = s.idx+1, 0
		}
		return Step{}
	}
}
