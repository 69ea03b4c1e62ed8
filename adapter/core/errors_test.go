package core

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/modes"
)

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrorKind
	}{
		{nil, ""},
		{fmt.Errorf("%w: user bob", ErrNotFound), KindNotFound},
		{store.ErrNotFound, KindNotFound},
		{fmt.Errorf("%w: %q", ErrNoRoute, "x"), KindNoRoute},
		{fmt.Errorf("%w: busy", ErrConflict), KindConflict},
		{&call.StateError{CallID: "c", Op: call.OpHold, State: call.Ended}, KindConflict},
		{&agent.TransitionError{From: agent.Offline, To: agent.Ready}, KindConflict},
		{fmt.Errorf("%w: no mic", ErrNoPhone), KindNoPhone},
		{ErrSessionEnded, KindSessionEnded},
		{fmt.Errorf("%w: not yours", ErrForbidden), KindForbidden},
		{&modes.ForbiddenError{Op: modes.Dial, Mode: "simple"}, KindForbidden},
		{fmt.Errorf("%w: 65 variables", ErrInvalid), KindInvalid},
		{errors.Join(fmt.Errorf("%w: c1", ErrNotFound), errors.New("late")), KindNotFound},
		{errors.New("disk on fire"), KindInternal},
	} {
		if got := Kind(tc.err); got != tc.want {
			t.Errorf("Kind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
