package core

import (
	"context"
	"fmt"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Blind transfer and blind conference to a phone number (issue 11, PROTOCOLS.md section 6): a
// new SIP leg is dialled over the account's trunk into the running call. It is one of the call's
// parts until it ends. Nothing changes for the call's parties until the far end answers: then a
// transfer relays the remote party to it and the transferring agent leaves (call_transferred,
// wrap-up as for any transfer); a conference adds it to the call's mixer (party_added). A refusal
// (486, 404, 603, 408 ...) is call_failed with that code and leaves the call as it was. Early
// media of the new leg is not played to anyone (docs/sip.md).

// partyHooks drive a number dialled into a running call.
func (t *tenant) partyHooks() dialHooks {
	return dialHooks{
		ringing:  func(*fx, *callRT, *outDial) {},
		early:    func(*fx, *callRT, *outDial) {},
		answered: t.partyAnsweredLocked,
		failed:   t.partyFailedLocked,
		ended:    t.partyEndedLocked,
	}
}

// dialPartyLocked sends the prepared dial od into call cl; from is the transferring agent (nil
// for a conference).
func (t *tenant) dialPartyLocked(f *fx, cl *callRT, from *agentRT, dest string, od *outDial) error {
	if od == nil {
		return fmt.Errorf("%w: %q is not a user, an extension, a queue or a number this account can dial", ErrNoRoute, dest)
	}
	for _, p := range cl.parts {
		if !p.up {
			return fmt.Errorf("%w: call %s is already dialling %s", ErrConflict, cl.id, p.phone)
		}
	}
	od.id, od.used, od.from = cl.id, true, from
	cl.parts = append(cl.parts, od)
	cl.rec.addLeg(customerLegKind(od.leg), "", od.leg.ID(), false, t.core.now())
	f.after = append(f.after, od.start)
	return nil
}

func (t *tenant) partyAnsweredLocked(f *fx, cl *callRT, od *outDial) {
	if od.up || !slices.Contains(cl.parts, od) {
		return
	}
	now := t.core.now()
	od.up = true
	cl.rec.answerLeg("", od.leg.ID(), now)
	for i := range cl.rec.Legs { // answerLeg matches by user; the leg of this dial is by peer
		if l := &cl.rec.Legs[i]; l.Peer == od.leg.ID() && l.AnsweredAt == nil {
			l.AnsweredAt, l.State = &now, string(call.LegConnected)
		}
	}
	if from := od.from; from != nil && cl.agentIndex(from.id) >= 0 {
		cl.rec.addParty("", od.phone, "transfer", now)
		t.emit(f, event.CallTransferred, event.CallTransferredData{CallID: cl.id, FromUserID: from.id, To: od.phone,
			Variables: cl.vars})
		if cl.held {
			cl.held = false
			_ = cl.moveLocked(call.Connected)
		}
		t.leaveLocked(f, cl, from) // wires the call: the remote party and the new leg
	} else {
		cl.rec.addParty("", od.phone, "conference", now)
		t.wireLocked(cl)
		t.emit(f, event.PartyAdded, event.PartyData{CallID: cl.id, Phone: od.phone, PartyID: od.leg.ID()})
	}
	t.sipRecordLocked(cl)
	t.saveLocked(f, cl)
}

// partyFailedLocked: the far end refused; the call goes on as it was.
func (t *tenant) partyFailedLocked(f *fx, cl *callRT, od *outDial, code int, reason string) {
	if !t.dropPartLocked(cl, od) {
		return
	}
	userID := cl.rec.UserID
	if od.from != nil {
		userID = od.from.id
	}
	t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: userID, Phone: od.phone, Code: code, Reason: reason})
	t.saveLocked(f, cl)
}

// partyEndedLocked: the number hung up after answering; the call ends if nobody is left to talk.
func (t *tenant) partyEndedLocked(f *fx, cl *callRT, od *outDial) {
	if !t.dropPartLocked(cl, od) {
		return
	}
	t.emit(f, event.PartyRemoved, event.PartyData{CallID: cl.id, Phone: od.phone, PartyID: od.leg.ID()})
	if cl.parties() < 2 {
		t.endCallLocked(f, cl, endRemoteHangUp, endedByRemote)
		return
	}
	t.wireLocked(cl)
	t.saveLocked(f, cl)
}

// dropPartLocked takes od out of the call and ends its leg record; false if it was not in it.
func (t *tenant) dropPartLocked(cl *callRT, od *outDial) bool {
	i := slices.Index(cl.parts, od)
	if i < 0 {
		return false
	}
	t.sipRecordLocked(cl)
	cl.parts = slices.Delete(cl.parts, i, i+1)
	now := t.core.now()
	for j := range cl.rec.Legs {
		if l := &cl.rec.Legs[j]; l.Peer == od.leg.ID() && l.EndedAt == nil {
			l.EndedAt, l.State = &now, string(call.LegEnded)
		}
	}
	for j := range cl.rec.Parties {
		if p := &cl.rec.Parties[j]; p.UserID == "" && p.Phone == od.phone && p.LeftAt == nil && od.up {
			p.LeftAt = &now
		}
	}
	return true
}

// prepareControlDial readies the dial of a transfer or conference to a number, before the lock.
func (c *Core) prepareControlDial(ctx context.Context, acct string, op call.Op, x *ctl) {
	if op != call.OpTransfer && op != call.OpConference || x.target != "" || !phoneNumber.MatchString(x.arg) ||
		c.hasQueue(ctx, acct, x.arg) {
		return
	}
	t := c.tenant(acct)
	x.od = c.prepareDial(ctx, t, x.arg, t.partyHooks())
}

// partByID finds a number of the call by its party id (its leg id, as party_added gave it).
func (cl *callRT) partByID(id string) *outDial {
	for _, od := range cl.parts {
		if od.leg.ID() == id {
			return od
		}
	}
	return nil
}

// removeNumberLocked hangs up a number an agent added (remove party): BYE once it answered,
// CANCEL before; the call ends if nobody is left to talk.
func (t *tenant) removeNumberLocked(f *fx, cl *callRT, od *outDial) error {
	if !t.dropPartLocked(cl, od) {
		return fmt.Errorf("%w: %q is not a party of call %s", ErrInvalid, od.leg.ID(), cl.id)
	}
	f.after = append(f.after, func() { _ = od.leg.Close() })
	t.emit(f, event.PartyRemoved, event.PartyData{CallID: cl.id, Phone: od.phone, PartyID: od.leg.ID()})
	if cl.parties() < 2 {
		t.endCallLocked(f, cl, "party_removed", endedByAgent)
		return nil
	}
	t.wireLocked(cl)
	t.saveLocked(f, cl)
	return nil
}
