package core

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Consult calls (issue 13, PROTOCOLS.md section 8, docs/consult.md). From a connected call (the
// primary) its agent dials a consult call to a user, an extension, a queue or a phone number:
// the primary is held (the customer hears hold audio) and the consult call is an ordinary call of
// the agent's (outgoing_call ... call_disconnected, each with consult_of) linked to the primary.
// The agent alternates between the two (retrieving one holds the other), then completes the
// consult (consult_complete.go): as a transfer (the consulted party takes the agent's place on
// the primary), as a conference (it joins the primary), or cancels it (the consult call ends and
// the primary is retrieved). A consult call that fails or ends leaves the primary held.
//
// Media: the agent has one leg for both calls. Only the call that is live (connected, not held)
// drives it: wiring a call that is not live re-wires its live partner afterwards (consultWireLocked),
// so whichever call changes, the agent hears the live one.

// consultLink links a primary call and its consult call (one each way).
type consultLink struct {
	consult *callRT // on the primary: its consult call, nil when none
	primary *callRT // on the consult call: its primary, nil once either ended
	of      string  // on the consult call: the primary's id (kept for its events after the link ends)
	dial    *outDial
}

// other is the call linked to this one, nil when none.
func (l *consultLink) other() *callRT {
	if l.consult != nil {
		return l.consult
	}
	return l.primary
}

// live reports whether the call's parties are talking (connected and not held).
func (cl *callRT) live() bool { return cl.state == call.Connected && !cl.held }

// ConsultEnd is how a consult ends (CompleteConsult).
type ConsultEnd string

// The three ways a consult ends.
const (
	ConsultTransfer   ConsultEnd = "transfer"   // the consulted party takes the primary; the agent leaves
	ConsultConference ConsultEnd = "conference" // the consulted party joins the primary
	ConsultCancel     ConsultEnd = "cancel"     // the consult call ends; the agent retrieves the primary
)

// End reasons of consult calls.
const (
	endConsultTransferred = "consult_transferred"
	endConsultConferenced = "consult_conferenced"
	endConsultCancelled   = "consult_cancelled"
)

// ErrNoConsult refuses a completion on a call that has no consult call (kind conflict).
var ErrNoConsult = fmt.Errorf("%w: no consult call", ErrConflict)

// consultAgent is the agent a consult command acts for: an agent token's own user (userID, if
// given, must be it); an integrator or admin names it (userID; "" picks the call's only agent).
func consultAgent(a Actor, userID string) (string, error) {
	switch a.Role {
	case auth.RoleAgent:
		if userID != "" && userID != a.UserID {
			return "", fmt.Errorf("%w: an agent consults only for itself", ErrForbidden)
		}
		return a.UserID, nil
	case auth.RoleIntegrator, auth.RoleAdmin:
		return userID, nil
	}
	return "", fmt.Errorf("%w: a %s token cannot consult", ErrForbidden, a.Role)
}

// Consult holds the primary call callID of the agent (consultAgent) and dials dest (a user id,
// an extension, a queue or a phone number over the account's trunk) as its consult call, which
// carries the primary's variables merged with vars. It returns the consult call.
func (c *Core) Consult(ctx context.Context, a Actor, userID, callID, dest string, vars map[string]string) (CallView, error) {
	if err := c.checkMode(ctx, a, modes.Consult); err != nil {
		return CallView{}, err
	}
	uid, err := consultAgent(a, userID)
	if err != nil {
		return CallView{}, err
	}
	if len(vars) > MaxVariables {
		return CallView{}, fmt.Errorf("%w: at most %d variables", ErrInvalid, MaxVariables)
	}
	target, _ := c.resolveUser(ctx, a.Account, dest)
	t := c.tenant(a.Account)
	var od *outDial // a consult to a number: its dial, prepared outside the lock
	if target == "" && !c.hasQueue(ctx, a.Account, dest) {
		if od = c.prepareDial(ctx, t, dest, t.consultHooks()); od == nil {
			return CallView{}, fmt.Errorf("%w: %q is not a user, an extension, a queue or a number this account can dial", ErrNoRoute, dest)
		}
		defer od.release()
	}
	var v CallView
	err = t.exec(ctx, func(f *fx) error {
		p, me, err := t.consultPrimaryLocked(callID, uid)
		switch {
		case err != nil:
			return err
		case target == me.id:
			return fmt.Errorf("%w: a user cannot consult itself", ErrInvalid)
		case len(p.agents) > 1 || len(p.parts) > 0:
			return fmt.Errorf("%w: call %s has other parties; consult from a call with one agent", ErrConflict, p.id)
		}
		if !p.held {
			t.holdRetrieveLocked(f, p, me, true)
		}
		merged := maps.Clone(p.vars)
		maps.Copy(merged, vars)
		v = t.dialLocked(ctx, f, me, dest, target, merged, od, p)
		return nil
	})
	return v, err
}

// consultPrimaryLocked finds the primary callID and its agent uid ("" = its only agent), which
// must be a connected agent of it with no other call.
func (t *tenant) consultPrimaryLocked(callID, uid string) (*callRT, *agentRT, error) {
	p := t.calls[callID]
	if p == nil {
		return nil, nil, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	if uid == "" && len(p.agents) == 1 {
		uid = p.agents[0].id
	}
	me := t.agents[uid]
	switch {
	case uid == "":
		return nil, nil, fmt.Errorf("%w: call %s has no single agent; name user_id", ErrInvalid, callID)
	case me == nil || p.agentIndex(uid) < 0:
		return nil, nil, fmt.Errorf("%w: call %s is not one of %s's connected calls", ErrForbidden, callID, uid)
	case p.cons.primary != nil:
		return nil, nil, fmt.Errorf("%w: call %s is itself a consult call", ErrConflict, callID)
	case p.cons.consult != nil:
		return nil, nil, fmt.Errorf("%w: call %s already has consult call %s", ErrConflict, callID, p.cons.consult.id)
	case p.state != call.Connected && p.state != call.Held:
		return nil, nil, &call.StateError{CallID: callID, Op: "consult", State: p.state}
	case len(me.calls) > 1:
		return nil, nil, fmt.Errorf("%w: %s is on another call besides %s", ErrConflict, uid, callID)
	}
	return p, me, nil
}

// linkConsultLocked makes cl the consult call of p (dialLocked, as soon as cl exists); their
// records name each other.
func (t *tenant) linkConsultLocked(f *fx, p, cl *callRT, od *outDial) {
	p.cons.consult = cl
	cl.cons = consultLink{primary: p, of: p.id, dial: od}
	cl.rec.ConsultOf = p.id
	p.rec.Consults = append(slices.Clone(p.rec.Consults), cl.id) // saved records keep their own
	t.saveLocked(f, p)
}

// consultWireLocked runs after every wiring of cl: if cl is not live and its linked call is, the
// linked call is wired again so that it drives the shared agent's leg. A live call also applies
// its calling agent's mute (wireLocked mutes the answering agents' legs only), so that the
// agent's mute on a consult call holds, and the primary's, wired meanwhile, does not leak into it.
func (t *tenant) consultWireLocked(cl *callRT) {
	if o := cl.cons.other(); o != nil && !cl.live() && o.live() {
		t.wireLocked(o)
		return
	}
	if l := cl.caller.leg(); l != nil && cl.live() {
		l.SetMuted(cl.muted[cl.caller.id])
	}
}

// alternateLocked runs before me retrieves cl: me's live linked call goes on hold, so that the
// agent talks on one call at a time.
func (t *tenant) alternateLocked(f *fx, cl *callRT, me *agentRT) {
	if o := cl.cons.other(); o != nil && o.live() && (o.agentIndex(me.id) >= 0 || o.caller == me) {
		t.holdRetrieveLocked(f, o, me, true)
	}
}

// consultEndedLocked unlinks an ended call from its partner, which is wired again (releasing the
// ended call silenced the shared agent's leg). The consult call keeps consult_of for its events.
func (t *tenant) consultEndedLocked(cl *callRT) {
	o := cl.cons.other()
	if o == nil {
		return
	}
	if cl.cons.consult != nil {
		o.cons.primary = nil
	} else {
		o.cons.consult = nil
	}
	cl.cons.consult, cl.cons.primary = nil, nil
	if !o.state.Terminal() {
		t.wireLocked(o)
	}
}

// consultHooks drive a consult call to a number: an outbound call of the agent until a
// completion moves the number into the primary, then one of the primary's parts.
func (t *tenant) consultHooks() dialHooks {
	out, party := t.outboundHooks(), t.partyHooks()
	pick := func(cl *callRT, od *outDial) dialHooks {
		if slices.Contains(cl.parts, od) {
			return party
		}
		return out
	}
	return dialHooks{
		ringing:  func(f *fx, cl *callRT, od *outDial) { pick(cl, od).ringing(f, cl, od) },
		early:    func(f *fx, cl *callRT, od *outDial) { pick(cl, od).early(f, cl, od) },
		answered: func(f *fx, cl *callRT, od *outDial) { pick(cl, od).answered(f, cl, od) },
		failed:   func(f *fx, cl *callRT, od *outDial, code int, r string) { pick(cl, od).failed(f, cl, od, code, r) },
		ended:    func(f *fx, cl *callRT, od *outDial) { pick(cl, od).ended(f, cl, od) },
	}
}
