package agent

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestCanTransitionTable(t *testing.T) {
	all := []Status{Offline, Online, Ready, DND, InCall, AfterCallWork}
	legal := map[[2]Status]bool{
		{Offline, Online}: true,
		{Online, Ready}:   true, {Online, DND}: true, {Online, InCall}: true, {Online, Offline}: true,
		{Ready, Online}: true, {Ready, DND}: true, {Ready, InCall}: true, {Ready, Offline}: true,
		{DND, Online}: true, {DND, Ready}: true, {DND, DND}: true, {DND, InCall}: true, {DND, Offline}: true,
		{InCall, AfterCallWork}: true, {InCall, Online}: true, {InCall, Ready}: true, {InCall, DND}: true, {InCall, Offline}: true,
		{AfterCallWork, Online}: true, {AfterCallWork, Ready}: true, {AfterCallWork, DND}: true, {AfterCallWork, InCall}: true, {AfterCallWork, Offline}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := CanTransition(from, to); got != legal[[2]Status{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name       string
		from       State
		to         Status
		reason     string
		wantStatus Status
		wantReason string
		wantErr    error
		wantEvent  bool
	}{
		{"offline cannot become ready", State{Status: Offline}, Ready, "", Offline, "", &TransitionError{}, false},
		{"online to ready", State{Status: Online}, Ready, "", Ready, "", nil, true},
		{"ready to dnd with reason", State{Status: Ready}, DND, "lunch", DND, "lunch", nil, true},
		{"reason change alone is a change", State{Status: DND, Reason: "lunch"}, DND, "meeting", DND, "meeting", nil, true},
		{"same reason is no change", State{Status: DND, Reason: "lunch"}, DND, "lunch", DND, "lunch", ErrUnchanged, false},
		{"ready again is no change", State{Status: Ready}, Ready, "", Ready, "", ErrUnchanged, false},
		{"reason dropped outside dnd", State{Status: Online}, Ready, "ignored", Ready, "", nil, true},
		{"in call: choice deferred", State{Status: InCall}, DND, "break", InCall, "", ErrUnchanged, false},
		{"wrap-up: a choice ends it", State{Status: AfterCallWork}, Ready, "", Ready, "", nil, true},
		{"wrap-up to offline", State{Status: AfterCallWork}, Offline, "", Offline, "", nil, true},
		{"offline to in_call refused", State{Status: Offline}, InCall, "", Offline, "", &TransitionError{}, false},
		{"unknown status refused", State{Status: Online}, Status("away"), "", Online, "", &TransitionError{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.from
			c, err := s.Set(tt.to, tt.reason, t0)
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			case *TransitionError:
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("want TransitionError, got %v", err)
				}
				_ = want
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("want %v, got %v", tt.wantErr, err)
				}
			}
			if s.Status != tt.wantStatus || s.Reason != tt.wantReason {
				t.Fatalf("state %s/%q, want %s/%q", s.Status, s.Reason, tt.wantStatus, tt.wantReason)
			}
			if (c.To != "") != tt.wantEvent {
				t.Fatalf("change %+v, want event %v", c, tt.wantEvent)
			}
			if tt.wantEvent && (c.From != tt.from.Status || c.PreviousReason != tt.from.Reason) {
				t.Fatalf("change %+v does not record the previous status", c)
			}
		})
	}
}

func TestCallCycleReturnsToChosenStatus(t *testing.T) {
	s := New("a1")
	mustChange(t, s.Login, t0)
	if _, err := s.Set(Ready, "", t0); err != nil {
		t.Fatal(err)
	}
	mustChange(t, s.CallStarted, t0)
	// the agent picks DND during the call: applied after it
	if _, err := s.Set(DND, "break", t0); !errors.Is(err, ErrUnchanged) || s.Status != InCall {
		t.Fatalf("in-call choice applied at once: %v %s", err, s.Status)
	}
	c, err := s.CallEnded(true, t0)
	if err != nil || c.To != AfterCallWork {
		t.Fatalf("wrap-up: %+v %v", c, err)
	}
	c, err = s.WrapUpDone(t0)
	if err != nil || c.To != DND || c.Reason != "break" || c.From != AfterCallWork {
		t.Fatalf("resume: %+v %v", c, err)
	}
	// no wrap-up: straight back
	mustChange(t, s.CallStarted, t0)
	c, err = s.CallEnded(false, t0)
	if err != nil || c.To != DND || c.Reason != "break" {
		t.Fatalf("resume without wrap-up: %+v %v", c, err)
	}
	if _, err := s.CallEnded(false, t0); err == nil {
		t.Fatal("CallEnded outside a call accepted")
	}
	mustChange(t, s.Logout, t0)
	if s.Status != Offline {
		t.Fatal("logout did not go offline")
	}
	if _, err := s.Logout(t0); !errors.Is(err, ErrUnchanged) {
		t.Fatal("second logout was a change")
	}
	// after logout and login the agent starts online, not in the old DND
	mustChange(t, s.Login, t0)
	mustChange(t, s.CallStarted, t0)
	if c, _ := s.CallEnded(false, t0); c.To != Online {
		t.Fatalf("resume after relogin went to %s", c.To)
	}
}

func mustChange(t *testing.T, f func(time.Time) (Change, error), now time.Time) {
	t.Helper()
	if c, err := f(now); err != nil || c.To == "" {
		t.Fatalf("expected a change, got %+v %v", c, err)
	}
}
