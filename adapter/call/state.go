// Package call holds the call model: a call's states and legs, the transitions each allows, and
// the typed errors a refused call control returns. Media and routing live elsewhere; this package
// only decides what may happen next.
package call

import "fmt"

// State is the state of a call as a whole.
type State string

const (
	New       State = "new"       // created, not yet routed
	IVR       State = "ivr"       // the caller is in the entry menu
	Queued    State = "queued"    // waiting in a queue for a ready agent
	Dialing   State = "dialing"   // outbound: the far end is being called
	Ringing   State = "ringing"   // an agent's phone is alerting
	Connected State = "connected" // parties are talking
	Held      State = "held"      // the customer side is on hold
	Ended     State = "ended"     // terminal
)

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return s == Ended }

var transitions = map[State][]State{
	New:       {IVR, Queued, Ringing, Dialing, Ended},
	IVR:       {Queued, Ringing, Ended},
	Queued:    {Ringing, Ended},
	Dialing:   {Ringing, Connected, Ended},
	Ringing:   {Connected, Queued, Ringing, Ended}, // ringing -> ringing: RONA moves to the next agent
	Connected: {Held, Ringing, Queued, Ended},      // ringing/queued: a blind transfer
	Held:      {Connected, Ringing, Queued, Ended},
}

// CanTransition reports whether a call may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Op names a call control, for errors and mode checks.
type Op string

const (
	OpAnswer      Op = "answer"
	OpReject      Op = "reject"
	OpHangUp      Op = "hangup"
	OpHold        Op = "hold"
	OpRetrieve    Op = "retrieve"
	OpMute        Op = "mute"
	OpUnmute      Op = "unmute"
	OpDTMF        Op = "senddtmf"
	OpTransfer    Op = "transfer"
	OpConference  Op = "conference"
	OpRemoveParty Op = "removeparty"
	OpSetData     Op = "setdata"
)

// opFrom lists the call states each control is allowed in. Hold on a held call and retrieve on a
// talking call are accepted as no-ops by the edge (seed 002), so they are not listed here.
var opFrom = map[Op][]State{
	OpAnswer:      {Ringing},
	OpReject:      {Ringing},
	OpHangUp:      {IVR, Queued, Dialing, Ringing, Connected, Held},
	OpHold:        {Connected},
	OpRetrieve:    {Held},
	OpMute:        {Connected, Held},
	OpUnmute:      {Connected, Held},
	OpDTMF:        {Connected, Dialing},
	OpTransfer:    {Connected, Held},
	OpConference:  {Connected, Held},
	OpRemoveParty: {Connected, Held},
	OpSetData:     {New, IVR, Queued, Dialing, Ringing, Connected, Held},
}

// StateError is the refusal of a control the call's state does not allow.
type StateError struct {
	CallID string
	Op     Op
	State  State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("call %s: cannot %s while %s", e.CallID, e.Op, e.State)
}

// Check returns a *StateError when op is not allowed in state s.
func Check(callID string, op Op, s State) error {
	for _, ok := range opFrom[op] {
		if ok == s {
			return nil
		}
	}
	return &StateError{CallID: callID, Op: op, State: s}
}
