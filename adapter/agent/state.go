package agent

import (
	"errors"
	"time"
)

// ErrUnchanged is returned when a request would leave the status and reason as they are. Callers
// treat it as success without an event (setting ready when ready is not a change).
var ErrUnchanged = errors.New("agent status unchanged")

// Change describes one status change; it becomes a status_changed event.
type Change struct {
	UserID         string
	From, To       Status
	PreviousReason string
	Reason         string
	At             time.Time
}

// State is the one truth about an agent's status. It is a plain value: the core keeps one per
// agent, guarded by that agent's lock, and every session renders it.
type State struct {
	UserID string
	Status Status
	Reason string
	Since  time.Time
	// Resume is the status (and reason) the agent returns to after its calls and wrap-up end.
	Resume       Status
	ResumeReason string
}

// New returns the state of a logged-out agent.
func New(userID string) State { return State{UserID: userID, Status: Offline} }

// Set moves the agent to status `to` with `reason` (used by DND only; others clear it). It refuses
// transitions the model forbids with a *TransitionError and no-op requests with ErrUnchanged.
// While an agent is in a call, choosing an available status changes where the agent returns
// afterwards instead of the current status; in wrap-up, it ends the wrap-up at once.
func (s *State) Set(to Status, reason string, now time.Time) (Change, error) {
	if to != DND {
		reason = ""
	}
	if s.Status == InCall && to.Available() {
		if s.Resume == to && s.ResumeReason == reason {
			return Change{}, ErrUnchanged
		}
		s.Resume, s.ResumeReason = to, reason
		return Change{}, ErrUnchanged
	}
	if s.Status == to && s.Reason == reason {
		return Change{}, ErrUnchanged
	}
	if !CanTransition(s.Status, to) {
		return Change{}, &TransitionError{From: s.Status, To: to}
	}
	return s.apply(to, reason, now), nil
}

func (s *State) apply(to Status, reason string, now time.Time) Change {
	c := Change{UserID: s.UserID, From: s.Status, To: to, PreviousReason: s.Reason, Reason: reason, At: now}
	if to.Available() {
		s.Resume, s.ResumeReason = to, reason
	}
	s.Status, s.Reason, s.Since = to, reason, now
	return c
}

// Login moves an offline agent to online. Logging in again is not a change.
func (s *State) Login(now time.Time) (Change, error) {
	if s.Status != Offline {
		return Change{}, ErrUnchanged
	}
	return s.Set(Online, "", now)
}

// Logout moves the agent to offline from any status.
func (s *State) Logout(now time.Time) (Change, error) {
	if s.Status == Offline {
		return Change{}, ErrUnchanged
	}
	c := s.apply(Offline, "", now)
	s.Resume, s.ResumeReason = Online, ""
	return c, nil
}

// CallStarted moves the agent into in_call, remembering where to return.
func (s *State) CallStarted(now time.Time) (Change, error) {
	if s.Status == InCall {
		return Change{}, ErrUnchanged
	}
	return s.Set(InCall, "", now)
}

// CallEnded leaves in_call: into after_call_work when wrapUp is set, else straight back to the
// status the agent had (or chose during the call).
func (s *State) CallEnded(wrapUp bool, now time.Time) (Change, error) {
	if s.Status != InCall {
		return Change{}, &TransitionError{From: s.Status, To: AfterCallWork}
	}
	if wrapUp {
		return s.apply(AfterCallWork, "", now), nil
	}
	return s.resume(now), nil
}

// WrapUpDone ends after_call_work and returns the agent to its resume status.
func (s *State) WrapUpDone(now time.Time) (Change, error) {
	if s.Status != AfterCallWork {
		return Change{}, ErrUnchanged
	}
	return s.resume(now), nil
}

func (s *State) resume(now time.Time) Change {
	to, reason := s.Resume, s.ResumeReason
	if !to.Available() {
		to, reason = Online, ""
	}
	return s.apply(to, reason, now)
}
