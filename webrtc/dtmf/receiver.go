package dtmf

// Receiver turns the telephone-event packets of one RTP stream into digits, each exactly once:
// an event is identified by its RTP timestamp (RFC 4733 section 2.5.1.1: every packet of an event,
// including the three retransmitted end packets, carries the event's start timestamp), so duration
// updates and end retransmits of the same event are ignored. A digit is reported on the first packet
// seen of its event, so a lost start packet still yields the digit from an update or end packet.
// A Receiver is not safe for concurrent use: feed it from the stream's reader goroutine.
type Receiver struct {
	have bool
	ts   uint32
	code uint8
}

// Push feeds one telephone-event packet (its RTP timestamp and payload). It returns the digit and
// true when the packet starts a new event.
func (r *Receiver) Push(timestamp uint32, payload []byte) (rune, bool) {
	ev, err := Parse(payload)
	if err != nil {
		return 0, false
	}
	if r.have && timestamp == r.ts && ev.Code == r.code {
		return 0, false // update or retransmit of the current event
	}
	if r.have && int32(timestamp-r.ts) < 0 {
		return 0, false // a late packet of an older event
	}
	r.have, r.ts, r.code = true, timestamp, ev.Code
	return ev.Digit(), true
}

// Reset forgets the current event (e.g. when the stream's SSRC changes).
func (r *Receiver) Reset() { *r = Receiver{} }
