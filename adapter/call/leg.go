package call

import "fmt"

// LegState is the state of one leg: one party's media path through the switch.
type LegState string

const (
	LegNew       LegState = "new"
	LegRinging   LegState = "ringing"
	LegConnected LegState = "connected"
	LegHeld      LegState = "held"
	LegEnded     LegState = "ended"
)

var legTransitions = map[LegState][]LegState{
	LegNew:       {LegRinging, LegConnected, LegEnded},
	LegRinging:   {LegConnected, LegEnded},
	LegConnected: {LegHeld, LegEnded},
	LegHeld:      {LegConnected, LegEnded},
}

// LegTransitionError is returned for an illegal leg transition.
type LegTransitionError struct {
	LegID    string
	From, To LegState
}

func (e *LegTransitionError) Error() string {
	return fmt.Sprintf("leg %s cannot go from %s to %s", e.LegID, e.From, e.To)
}

// MoveLeg checks and returns the new leg state.
func MoveLeg(id string, from, to LegState) (LegState, error) {
	for _, s := range legTransitions[from] {
		if s == to {
			return to, nil
		}
	}
	return from, &LegTransitionError{LegID: id, From: from, To: to}
}
