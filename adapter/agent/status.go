// Package agent holds the agent status model of PROTOCOLS.md section 2: the statuses, the
// transitions between them, and the single per-agent truth that every session of an agent mirrors.
package agent

import "fmt"

// Status is an agent's status as every protocol reports it.
type Status string

const (
	Offline       Status = "offline"         // not logged in
	Online        Status = "online"          // logged in: direct and transferred calls only
	Ready         Status = "ready"           // also takes queue calls
	DND           Status = "dnd"             // not ready; Reason carries the reason code
	InCall        Status = "in_call"         // on at least one call
	AfterCallWork Status = "after_call_work" // wrap-up after a call
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Offline, Online, Ready, DND, InCall, AfterCallWork:
		return true
	}
	return false
}

// Available reports whether a status is one an agent returns to after a call and chooses by hand.
func (s Status) Available() bool { return s == Online || s == Ready || s == DND }

// allowed lists every legal transition. Logout (to Offline) is legal from every status; the core
// ends the agent's calls first.
var allowed = map[Status][]Status{
	Offline:       {Online},
	Online:        {Ready, DND, InCall, Offline},
	Ready:         {Online, DND, InCall, Offline},
	DND:           {Online, Ready, DND, InCall, Offline},
	InCall:        {AfterCallWork, Online, Ready, DND, Offline},
	AfterCallWork: {Online, Ready, DND, InCall, Offline},
}

// TransitionError is returned for a transition the model forbids.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("agent cannot go from %s to %s", e.From, e.To)
}

// CanTransition reports whether from -> to is legal. Only DND may "change" to itself (a new reason).
func CanTransition(from, to Status) bool {
	for _, s := range allowed[from] {
		if s == to {
			return true
		}
	}
	return false
}
