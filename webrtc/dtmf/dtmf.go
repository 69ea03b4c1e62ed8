// Package dtmf owns RFC 4733 telephone-events for DTMF: validating digits, encoding and parsing the
// 4-byte event payload, a Receiver that turns a packet stream (with retransmitted end packets and
// duration updates) into each digit exactly once, and a Sender that plans the packets of a digit
// string one 20 ms tick at a time. It knows nothing about RTP sockets; the peer package puts the
// packets on the leg's audio stream.
package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ClockRate is the telephone-event clock rate negotiated on every leg (audio/telephone-event/8000).
const ClockRate = 8000

// ErrInvalidDigit is matched (errors.Is) by every *InvalidDigitError.
var ErrInvalidDigit = errors.New("dtmf: invalid digit")

// ErrShortPayload is returned by Parse for a payload shorter than 4 bytes.
var ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")

// ErrNotDTMF is returned by Parse for an event code outside 0-15 (not a DTMF digit).
var ErrNotDTMF = errors.New("dtmf: event code is not a DTMF digit")

// InvalidDigitError says which character of a digit string is not one of 0-9 * # A-D.
type InvalidDigitError struct {
	Digit rune
	Index int
}

func (e *InvalidDigitError) Error() string {
	return fmt.Sprintf("dtmf: invalid digit %q at index %d (want 0-9, *, #, A-D)", e.Digit, e.Index)
}

// Is makes errors.Is(err, ErrInvalidDigit) true.
func (e *InvalidDigitError) Is(target error) bool { return target == ErrInvalidDigit }

const digits = "0123456789*#ABCD"

// Code returns the RFC 4733 event code (0-15) of a digit. Lower-case a-d are accepted.
func Code(d rune) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, true
	}
	return 0, false
}

// Digit returns the digit of an event code 0-15.
func Digit(code uint8) (rune, bool) {
	if code > 15 {
		return 0, false
	}
	return rune(digits[code]), true
}

// Validate checks that s is a non-empty string of DTMF digits; the error is an *InvalidDigitError.
func Validate(s string) error {
	if s == "" {
		return &InvalidDigitError{Digit: 0, Index: 0}
	}
	for i, r := range s {
		if _, ok := Code(r); !ok {
			return &InvalidDigitError{Digit: r, Index: i}
		}
	}
	return nil
}

// Event is one RFC 4733 telephone-event payload (section 2.3).
type Event struct {
	Code     uint8  // 0-15 for DTMF
	End      bool   // E bit
	Volume   uint8  // 0-63, power in -dBm0
	Duration uint16 // in timestamp units since the event's RTP timestamp
}

// Digit returns the event's digit, or 0 when Code is not DTMF.
func (e Event) Digit() rune {
	d, _ := Digit(e.Code)
	return d
}

// Marshal writes the 4-byte payload into dst (len ≥ 4) and returns dst[:4].
func (e Event) Marshal(dst []byte) []byte {
	dst = dst[:4]
	dst[0] = e.Code
	dst[1] = e.Volume & 0x3F
	if e.End {
		dst[1] |= 0x80
	}
	binary.BigEndian.PutUint16(dst[2:], e.Duration)
	return dst
}

// Parse decodes the first event of a telephone-event payload. Redundant (RFC 2198) blocks are
// not negotiated, so only the first 4 bytes are read.
func Parse(p []byte) (Event, error) {
	if len(p) < 4 {
		return Event{}, ErrShortPayload
	}
	e := Event{
		Code:     p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(p[2:]),
	}
	if e.Code > 15 {
		return e, ErrNotDTMF
	}
	return e, nil
}
