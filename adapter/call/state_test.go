package call

import (
	"errors"
	"testing"
)

var allStates = []State{New, IVR, Queued, Dialing, Ringing, Connected, Held, Ended}

func TestCallTransitionTable(t *testing.T) {
	legal := map[[2]State]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			legal[[2]State{from, to}] = true
		}
	}
	// Spot-check the rules that matter to callers, then the whole matrix against the table.
	must := []struct {
		from, to State
		ok       bool
	}{
		{Queued, Ringing, true}, {Ringing, Queued, true}, {Ringing, Ringing, true},
		{Connected, Held, true}, {Held, Connected, true}, {Held, Held, false},
		{Ended, Connected, false}, {Queued, Connected, false}, {IVR, Connected, false},
		{Dialing, Connected, true}, {New, Connected, false},
	}
	for _, m := range must {
		if CanTransition(m.from, m.to) != m.ok {
			t.Errorf("CanTransition(%s, %s) != %v", m.from, m.to, m.ok)
		}
	}
	for _, from := range allStates {
		for _, to := range allStates {
			if CanTransition(from, to) != legal[[2]State{from, to}] {
				t.Errorf("CanTransition(%s, %s) disagrees with the table", from, to)
			}
		}
		if from.Terminal() != (len(transitions[from]) == 0) {
			t.Errorf("%s Terminal() disagrees with the table", from)
		}
	}
}

func TestCheckOps(t *testing.T) {
	tests := []struct {
		op Op
		in State
		ok bool
	}{
		{OpAnswer, Ringing, true}, {OpAnswer, Connected, false}, {OpAnswer, Queued, false},
		{OpReject, Ringing, true}, {OpReject, Connected, false},
		{OpHold, Connected, true}, {OpHold, Held, false}, {OpHold, Ringing, false},
		{OpRetrieve, Held, true}, {OpRetrieve, Connected, false},
		{OpMute, Connected, true}, {OpMute, Ringing, false},
		{OpDTMF, Connected, true}, {OpDTMF, Held, false},
		{OpTransfer, Connected, true}, {OpTransfer, Held, true}, {OpTransfer, Ringing, false},
		{OpConference, Connected, true}, {OpConference, Queued, false},
		{OpRemoveParty, Connected, true}, {OpRemoveParty, Ended, false},
		{OpHangUp, Queued, true}, {OpHangUp, Ended, false},
		{OpSetData, Ended, false}, {OpSetData, Queued, true},
	}
	for _, tt := range tests {
		err := Check("c1", tt.op, tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%s, %s) = %v", tt.op, tt.in, err)
			continue
		}
		var se *StateError
		if !tt.ok && (!errors.As(err, &se) || se.Op != tt.op || se.State != tt.in || se.CallID != "c1") {
			t.Errorf("Check(%s, %s): want *StateError naming them, got %v", tt.op, tt.in, err)
		}
	}
}

func TestMoveLeg(t *testing.T) {
	tests := []struct {
		from, to LegState
		ok       bool
	}{
		{LegNew, LegRinging, true}, {LegRinging, LegConnected, true}, {LegConnected, LegHeld, true},
		{LegHeld, LegConnected, true}, {LegHeld, LegEnded, true}, {LegEnded, LegConnected, false},
		{LegRinging, LegHeld, false}, {LegNew, LegHeld, false},
	}
	for _, tt := range tests {
		got, err := MoveLeg("l1", tt.from, tt.to)
		if tt.ok && (err != nil || got != tt.to) {
			t.Errorf("MoveLeg(%s, %s) = %s, %v", tt.from, tt.to, got, err)
		}
		var le *LegTransitionError
		if !tt.ok && (!errors.As(err, &le) || got != tt.from) {
			t.Errorf("MoveLeg(%s, %s) accepted or wrong error: %s, %v", tt.from, tt.to, got, err)
		}
	}
}
