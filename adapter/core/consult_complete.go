package core

import (
	"context"
	"fmt"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/modes"
)

// CompleteConsult ends the consult of the agent (consultAgent) on callID, the primary or its
// consult call: how is ConsultTransfer, ConsultConference or ConsultCancel. It returns the
// primary. A call with no consult call is refused with ErrNoConsult; nothing changes.
func (c *Core) CompleteConsult(ctx context.Context, a Actor, userID, callID string, how ConsultEnd) (CallView, error) {
	if err := c.checkMode(ctx, a, modes.Consult); err != nil {
		return CallView{}, err
	}
	if how != ConsultTransfer && how != ConsultConference && how != ConsultCancel {
		return CallView{}, fmt.Errorf("%w: a consult completes as transfer, conference or cancel, not %q", ErrInvalid, how)
	}
	uid, err := consultAgent(a, userID)
	if err != nil {
		return CallView{}, err
	}
	t := c.tenant(a.Account)
	var v CallView
	err = t.exec(ctx, func(f *fx) error {
		p, cons, me, err := t.consultPairLocked(callID, uid)
		if err != nil {
			return err
		}
		err = t.completeLocked(f, p, cons, me, how)
		v = p.view()
		return err
	})
	return v, err
}

// consultPairLocked finds the primary and consult call callID belongs to, and their agent.
func (t *tenant) consultPairLocked(callID, uid string) (p, cons *callRT, me *agentRT, err error) {
	cl := t.calls[callID]
	switch {
	case cl == nil:
		return nil, nil, nil, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	case cl.cons.consult != nil:
		p, cons = cl, cl.cons.consult
	case cl.cons.primary != nil:
		p, cons = cl.cons.primary, cl
	default:
		return nil, nil, nil, fmt.Errorf("%w in progress on call %s", ErrNoConsult, callID)
	}
	if uid == "" && len(p.agents) == 1 {
		uid = p.agents[0].id
	}
	if me = t.agents[uid]; me == nil || p.agentIndex(uid) < 0 {
		return nil, nil, nil, fmt.Errorf("%w: call %s is not one of %s's connected calls", ErrForbidden, callID, uid)
	}
	return p, cons, me, nil
}

// completeLocked ends the consult: cancel, or move the consulted party into the primary.
func (t *tenant) completeLocked(f *fx, p, cons *callRT, me *agentRT, how ConsultEnd) error {
	if how == ConsultCancel {
		t.endCallLocked(f, cons, endConsultCancelled, endedByAgent)
		t.holdRetrieveLocked(f, p, me, false)
		t.saveLocked(f, p)
		return nil
	}
	if cons.answered.IsZero() || cons.state != call.Connected && cons.state != call.Held {
		return fmt.Errorf("%w: consult call %s is not answered yet; wait for it or cancel it", ErrConflict, cons.id)
	}
	transfer := how == ConsultTransfer
	role, reason := "consult_conference", endConsultConferenced
	if transfer {
		role, reason = "consult_transfer", endConsultTransferred
	}
	if cons.caller == me && len(cons.agents) != 1 {
		return fmt.Errorf("%w: consult call %s has no single consulted agent", ErrConflict, cons.id)
	}
	var joined func()
	if cons.caller == me { // an agent (or a queue's agent) answered the consult call
		joined = t.moveAgentLocked(f, p, cons, me, role, transfer)
	} else { // a number answered: its leg becomes one of the primary's parts
		joined = t.moveNumberLocked(f, p, cons, me, role, transfer)
	}
	t.endCallLocked(f, cons, reason, endedByAgent)
	t.holdRetrieveLocked(f, p, me, false) // wires the primary: all its parties hear each other
	joined()
	if transfer {
		t.leaveLocked(f, p, me)
	}
	t.saveLocked(f, p)
	return nil
}

// moveAgentLocked takes the consulted agent out of the consult call into the primary and
// announces it: call_transferred or party_added. The returned func emits its call_connected on
// the primary, once the consult call's end was announced.
func (t *tenant) moveAgentLocked(f *fx, p, cons *callRT, me *agentRT, role string, transfer bool) func() {
	to := cons.agents[0]
	cons.agents = slices.Delete(cons.agents, 0, 1)
	delete(to.calls, cons.id)
	if cons.muted[to.id] {
		p.muted[to.id] = true
	}
	p.agents = append(p.agents, to)
	to.calls[p.id] = p
	now := t.core.now()
	p.rec.addLeg("agent", to.id, to.ownerID(), true, now)
	p.rec.addParty(to.id, "", role, now)
	cons.rec.endLeg(to.id, now)
	if transfer {
		p.rec.UserID = to.id
		t.emit(f, event.CallTransferred, event.CallTransferredData{CallID: p.id, FromUserID: me.id, To: cons.phone,
			ToUserID: to.id, Variables: p.vars})
	} else {
		t.emit(f, event.PartyAdded, event.PartyData{CallID: p.id, UserID: to.id, Phone: to.id, PartyID: to.id})
	}
	return func() {
		t.emit(f, event.CallConnected, event.CallConnectedData{CallID: p.id, UserID: to.id, Phone: p.phone})
	}
}

// moveNumberLocked moves the number the consult call reached into the primary as one of its
// parts (its SIP leg is not closed with the consult call) and announces it.
func (t *tenant) moveNumberLocked(f *fx, p, cons *callRT, me *agentRT, role string, transfer bool) func() {
	od := cons.cons.dial
	t.sipRecordLocked(cons)
	cons.customer = nil
	od.id, od.up, od.from = p.id, true, nil
	p.parts = append(p.parts, od)
	now := t.core.now()
	p.rec.addLeg(customerLegKind(od.leg), "", od.leg.ID(), true, now)
	p.rec.addParty("", od.phone, role, now)
	if transfer {
		t.emit(f, event.CallTransferred, event.CallTransferredData{CallID: p.id, FromUserID: me.id, To: od.phone,
			Phone: od.phone, Variables: p.vars})
	} else {
		t.emit(f, event.PartyAdded, event.PartyData{CallID: p.id, Phone: od.phone, PartyID: od.leg.ID()})
	}
	return func() {}
}

// ownerID is the id of the agent's media owner session ("" when none).
func (a *agentRT) ownerID() string {
	if a.owner == nil {
		return ""
	}
	return a.owner.ID
}
