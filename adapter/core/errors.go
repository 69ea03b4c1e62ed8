package core

import (
	"errors"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Errors of the core. Edges do not test for them one by one: they map Kind(err) to their
// protocol's codes in one table next to their codec (docs/errors.md lists them all).
var (
	ErrNotFound     = errors.New("not found")       // no such user or call in this account
	ErrConflict     = errors.New("conflict")        // the user is offline or busy, the call is elsewhere
	ErrInvalid      = errors.New("invalid request") // a malformed argument the schema could not catch
	ErrForbidden    = errors.New("forbidden")       // the actor may not act on that user or call
	ErrNoPhone      = errors.New("no healthy phone")
	ErrNoRoute      = errors.New("no outbound route")
	ErrSessionEnded = errors.New("session ended")
	ErrRateLimited  = errors.New("rate limited") // a participant sends faster than its budget (chats)
)

// ErrorKind classifies an error of a core command for the edges.
type ErrorKind string

// Error kinds.
const (
	KindNotFound     ErrorKind = "not_found"     // ErrNotFound, store.ErrNotFound
	KindNoRoute      ErrorKind = "no_route"      // ErrNoRoute: no user, extension or queue by that name
	KindConflict     ErrorKind = "conflict"      // ErrConflict, *call.StateError, *agent.TransitionError
	KindNoPhone      ErrorKind = "no_phone"      // ErrNoPhone
	KindSessionEnded ErrorKind = "session_ended" // ErrSessionEnded
	KindRateLimited  ErrorKind = "rate_limited"  // ErrRateLimited
	KindForbidden    ErrorKind = "forbidden"     // ErrForbidden, *modes.ForbiddenError
	KindInvalid      ErrorKind = "invalid"       // ErrInvalid
	KindUnavailable  ErrorKind = "unavailable"   // ErrUnavailable (cluster.go)
	KindInternal     ErrorKind = "internal"      // anything else: logged, its text not shown
)

// Kind classifies err ("" for nil). The order matters where an error wraps several: a mode
// refusal is forbidden whatever it wraps.
func Kind(err error) ErrorKind {
	var (
		modeErr  *modes.ForbiddenError
		stateErr *call.StateError
		transErr *agent.TransitionError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &modeErr), errors.Is(err, ErrForbidden):
		return KindForbidden
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return KindNotFound
	case errors.Is(err, ErrNoRoute):
		return KindNoRoute
	case errors.Is(err, ErrNoPhone):
		return KindNoPhone
	case errors.Is(err, ErrSessionEnded):
		return KindSessionEnded
	case errors.Is(err, ErrRateLimited):
		return KindRateLimited
	case errors.Is(err, ErrConflict), errors.As(err, &stateErr), errors.As(err, &transErr):
		return KindConflict
	case errors.Is(err, ErrInvalid):
		return KindInvalid
	case errors.Is(err, ErrUnavailable):
		return KindUnavailable
	}
	return KindInternal
}
