package media

import (
	"context"
	"errors"
)

// ErrNoRoute: the account has no way to reach a phone number (no trunk, SIP off).
var ErrNoRoute = errors.New("media: no outbound route")

// Dialer places calls to phone numbers over an account's trunk; the SIP edge implements it.
type Dialer interface {
	// Dial prepares a call from acct to phone and returns its leg at once, with start, which
	// sends the call (run it outside any lock, after the call exists in the core). Progress is
	// reported through ev, in order, on the dialer's goroutine. Closing the leg ends the call:
	// CANCEL before the answer, BYE after. ErrNoRoute when acct cannot dial out.
	Dial(ctx context.Context, acct, phone string, ev DialEvents) (leg Leg, start func(), err error)
}

// DialEvents are an outbound call's progress. Every field may be nil.
type DialEvents struct {
	// Ringing: a provisional answer without SDP (180); no far-end audio yet, so the caller's
	// side plays a ringback tone of its own until early media or the answer.
	Ringing func()
	// EarlyMedia: a provisional answer with SDP (183); the far end's audio (ringback,
	// announcements) flows on the leg.
	EarlyMedia func()
	// Answered: 200; the call is up.
	Answered func()
	// Failed: a final refusal with its SIP status (486, 404, 603, ...; 408 after the ring
	// timeout); the leg is closed.
	Failed func(code int, reason string)
	// Ended: the far end hung up after the answer.
	Ended func()
}
