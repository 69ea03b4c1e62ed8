package dtmf

// EndReceiver turns the telephone-event packets of one RTP stream into digits, each exactly
// once, reporting a digit when its event ends (the first packet with the E bit), as SIP trunks
// expect. It never looks at the RTP Marker bit, which some carriers omit: an event is identified
// by its RTP timestamp alone. If every end packet of an event is lost, the digit is reported
// when the next event (a newer timestamp) begins. Not safe for concurrent use.
type EndReceiver struct {
	have  bool
	ts    uint32
	code  uint8
	ended bool
}

// Push feeds one telephone-event packet (its RTP timestamp and payload). It returns a digit and
// true when an event ended (or was superseded before its end was seen).
func (r *EndReceiver) Push(timestamp uint32, payload []byte) (rune, bool) {
	ev, err := Parse(payload)
	if err != nil {
		return 0, false
	}
	if r.have && timestamp == r.ts {
		if ev.End && !r.ended {
			r.ended = true
			return ev.Digit(), true
		}
		return 0, false // update or end retransmit of the current event
	}
	if r.have && int32(timestamp-r.ts) < 0 {
		return 0, false // a late packet of an older event
	}
	prevDigit, prevUnended := Event{Code: r.code}.Digit(), r.have && !r.ended
	r.have, r.ts, r.code, r.ended = true, timestamp, ev.Code, ev.End
	switch {
	case ev.End && prevUnended:
		// The previous event never ended and this one ends in its first packet: report the
		// older digit now and this one on its end retransmit (RFC 4733 sends three).
		r.ended = false
		return prevDigit, true
	case ev.End:
		return ev.Digit(), true
	case prevUnended:
		return prevDigit, true
	}
	return 0, false
}

// Reset forgets the current event (e.g. when the stream's SSRC changes).
func (r *EndReceiver) Reset() { *r = EndReceiver{} }
