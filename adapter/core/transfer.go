package core

import (
	"context"
	"fmt"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// hangUpLocked: in a conference the agent leaves; otherwise the call ends.
func (t *tenant) hangUpLocked(f *fx, cl *callRT, me *agentRT) {
	if cl.parties() > 2 && cl.caller != me {
		t.leaveLocked(f, cl, me)
		return
	}
	t.endCallLocked(f, cl, endAgentHangUp, endedByAgent)
}

// leaveLocked takes a connected agent out of a call that goes on without it.
func (t *tenant) leaveLocked(f *fx, cl *callRT, a *agentRT) {
	i := cl.agentIndex(a.id)
	if i < 0 {
		return
	}
	cl.agents = append(cl.agents[:i], cl.agents[i+1:]...)
	delete(a.calls, cl.id)
	delete(cl.muted, a.id)
	if l := a.leg(); l != nil {
		if cl.mixer != nil {
			cl.mixer.Remove(l)
		}
		_ = l.SetOutput(nil)
		clearVideo(l) // media_state.go
		l.SetMuted(false)
	}
	if tm := cl.grace[a.id]; tm != nil {
		tm.Stop()
		delete(cl.grace, a.id)
	}
	now := t.core.now()
	cl.rec.endLeg(a.id, now)
	cl.rec.leaveParty(a.id, now)
	t.emit(f, event.PartyRemoved, event.PartyData{CallID: cl.id, UserID: a.id, Phone: a.id, PartyID: a.id})
	if len(a.calls) == 0 && a.state.Status == agent.InCall {
		t.agentFreeLocked(f, a, t.settingsLocked(context.Background()).WrapUpSeconds)
	}
	t.wireLocked(cl)
}

// available reports whether agent a can take a direct or transferred call now.
func (a *agentRT) available() bool {
	return (a.state.Status == agent.Online || a.state.Status == agent.Ready) && a.ringing == nil && len(a.calls) == 0 && a.leg() != nil
}

// transferLocked hands the call to a user, an extension or a queue; the transferring agent
// leaves at once (blind transfer). Variables go with the call.
func (t *tenant) transferLocked(ctx context.Context, f *fx, cl *callRT, me *agentRT, x *ctl) error {
	dest, target := x.arg, x.target
	if cl.caller == me {
		return fmt.Errorf("%w: the calling agent cannot transfer its own outgoing call", ErrInvalid)
	}
	if len(cl.agents) > 1 {
		return fmt.Errorf("%w: call %s has other agents on it; remove them (removeparty) or hang up instead of transferring", ErrConflict, cl.id)
	}
	var to *agentRT
	switch {
	case target != "":
		to = t.agents[target]
		if to == nil || !to.available() {
			return fmt.Errorf("%w: %s is offline, busy or has no healthy phone", ErrConflict, dest)
		}
	case t.settingsLocked(ctx).HasQueue(dest):
	default: // a phone number: the agent stays until it answers (sipparty.go)
		return t.dialPartyLocked(f, cl, me, dest, x.od)
	}
	t.emit(f, event.CallTransferred, event.CallTransferredData{CallID: cl.id, FromUserID: me.id, To: dest,
		Variables: cl.vars})
	t.leaveLocked(f, cl, me)
	cl.held = false
	clear(cl.tried)
	cl.tried[me.id] = true    // never offered back to the agent who passed it on
	cl.queuedAt = time.Time{} // a new queue visit: its timeout counts from now
	if to == nil {
		t.enqueueLocked(ctx, f, cl, dest, false)
		return nil
	}
	now := t.core.now()
	cl.rec.addLeg("agent", to.id, "", false, now)
	cl.rec.addParty(to.id, "", "transfer", now)
	t.ringLocked(ctx, f, cl, to)
	return nil
}

// conferenceLocked invites another agent into the call (blind conference): it rings, and once
// it answers every party hears every other through a mixer.
func (t *tenant) conferenceLocked(ctx context.Context, f *fx, cl *callRT, x *ctl) error {
	dest, target := x.arg, x.target
	if target == "" { // a phone number joins the mixer when it answers (sipparty.go)
		return t.dialPartyLocked(f, cl, nil, dest, x.od)
	}
	to := t.agents[target]
	switch {
	case cl.confRing != nil:
		return fmt.Errorf("%w: call %s is already inviting %s", ErrConflict, cl.id, cl.confRing.id)
	case cl.involves(target):
		return fmt.Errorf("%w: %s is already on call %s", ErrConflict, target, cl.id)
	case to == nil || !to.available():
		return fmt.Errorf("%w: %s is offline, busy or has no healthy phone", ErrConflict, dest)
	}
	cl.confRing, to.ringing = to, cl
	cl.rec.addLeg("agent", to.id, "", false, t.core.now())
	t.incomingLocked(f, cl, to.id)
	cl.confGen++
	gen := cl.confGen
	ring := time.Duration(t.settingsLocked(ctx).RingTimeoutSeconds) * time.Second
	t.afterFunc(ring, func(f *fx) {
		if cl.confGen == gen && cl.confRing == to && !cl.state.Terminal() {
			t.confFailedLocked(f, cl, 408, "no answer")
		}
	})
	return nil
}

func (t *tenant) confFailedLocked(f *fx, cl *callRT, code int, reason string) {
	to := cl.confRing
	cl.confRing, to.ringing = nil, nil
	cl.rec.endLeg(to.id, t.core.now())
	t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: to.id, Phone: cl.phone, Code: code, Reason: reason})
}
