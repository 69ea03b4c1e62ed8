package core

import (
	"context"
	"fmt"
	"maps"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/modes"
)

// MaxVariables is the most variables a call may carry (the schema limits one update to the same).
const MaxVariables = 64

// MakeCall has userID's phone dial phone: a user id or extension rings that agent, a queue
// name enqueues the call, anything else fails with call_failed 404 (no outbound route yet).
func (c *Core) MakeCall(ctx context.Context, a Actor, userID, phone string, vars map[string]string) (CallView, error) {
	if err := c.checkMode(ctx, a, modes.Dial); err != nil {
		return CallView{}, err
	}
	if a.Role == auth.RoleAgent && a.UserID != userID || a.Role == auth.RoleCustomer {
		return CallView{}, fmt.Errorf("%w: an agent can dial only from its own phone", ErrForbidden)
	}
	if len(vars) > MaxVariables {
		return CallView{}, fmt.Errorf("%w: at most %d variables", ErrInvalid, MaxVariables)
	}
	target, _ := c.resolveUser(ctx, a.Account, phone)
	t := c.tenant(a.Account)
	var od *outDial // a dial over the trunk, prepared outside the lock
	if target == "" && !c.hasQueue(ctx, a.Account, phone) {
		od = c.prepareDial(ctx, t, phone, t.outboundHooks())
		defer od.release()
	}
	var v CallView
	offline := false
	err := t.exec(ctx, func(f *fx) error {
		caller := t.agents[userID]
		switch {
		case caller == nil || caller.state.Status == agent.Offline:
			offline = true
			return nil
		case len(caller.calls) > 0 || caller.ringing != nil:
			return fmt.Errorf("%w: user %s is busy", ErrConflict, userID)
		case caller.leg() == nil:
			return fmt.Errorf("%w: %s has no phone with a connected peer connection and a granted microphone", ErrNoPhone, userID)
		case target == userID:
			return fmt.Errorf("%w: a user cannot call itself", ErrInvalid)
		}
		v = t.dialLocked(ctx, f, caller, phone, target, vars, od, nil)
		return nil
	})
	if offline {
		return CallView{}, c.offlineError(ctx, a.Account, userID)
	}
	return v, err
}

// dialLocked places the caller's call to phone: a queue, another agent (target) or no route;
// with primary, it is the consult call of primary (consult.go).
func (t *tenant) dialLocked(ctx context.Context, f *fx, caller *agentRT, phone, target string, vars map[string]string, od *outDial, primary *callRT) CallView {
	isQueue := t.settingsLocked(ctx).HasQueue(phone)
	direction := "outbound"
	if target != "" || isQueue {
		direction = "internal"
	}
	cl := t.newCallLocked(direction, "internal", phone, caller.name, []string{"audio"}, maps.Clone(vars))
	cl.caller = caller
	caller.calls[cl.id] = cl
	if primary != nil {
		t.linkConsultLocked(f, primary, cl, od)
	}
	now := t.core.now()
	cl.rec.addLeg("agent", caller.id, caller.owner.ID, true, now)
	cl.rec.addParty(caller.id, "", "caller", now)
	cl.rec.UserID = caller.id
	ch, err := caller.state.CallStarted(now)
	_ = t.applyChange(f, caller, ch, err)
	t.emit(f, event.OutgoingCall, event.OutgoingCallData{CallID: cl.id, UserID: caller.id, Phone: phone, Variables: cl.vars,
		ConsultOf: cl.cons.of})
	switch {
	case isQueue:
		cl.queue, cl.rec.Queue = phone, phone // incoming_call names the queue, as the record does
		t.incomingLocked(f, cl, "")
		t.enqueueLocked(ctx, f, cl, phone, false)
	case target != "":
		callee := t.agents[target]
		if callee == nil || callee.state.Status == agent.Offline || callee.state.Status == agent.DND ||
			len(callee.calls) > 0 || callee.ringing != nil || callee.leg() == nil {
			t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: caller.id, Phone: phone, Code: 486, Reason: "busy or unavailable",
				ConsultOf: cl.cons.of})
			t.endCallLocked(f, cl, "busy", endedBySystem)
			break
		}
		cl.rec.addLeg("agent", callee.id, "", false, now)
		cl.rec.addParty(callee.id, "", "callee", now)
		t.ringLocked(ctx, f, cl, callee)
	case t.dialOutLocked(f, cl, caller, phone, od): // a phone number over the trunk (sip.go)
	default:
		t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: caller.id, Phone: phone, Code: 404, Reason: "no outbound route",
			ConsultOf: cl.cons.of})
		t.endCallLocked(f, cl, endNoRoute, endedBySystem)
	}
	if !cl.state.Terminal() {
		t.saveLocked(f, cl)
	}
	return cl.view()
}

// resolveUser maps a destination to a user id: the id itself or an extension. A destination
// that cannot be a user id (auth.ValidUserID) or an extension (digits only) is not looked up,
// so dialling an E.164 number ("+1...") costs no store read.
func (c *Core) resolveUser(ctx context.Context, acct, dest string) (string, error) {
	if auth.ValidUserID(dest) {
		if u, err := c.store.User(ctx, acct, dest); err == nil {
			return u.ID, nil
		}
	}
	if allDigits(dest) {
		if u, err := c.store.UserByExtension(ctx, acct, dest); err == nil {
			return u.ID, nil
		}
	}
	return "", ErrNotFound
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// SetVariables merges variables into a call's set (an empty value removes a key) and emits
// data_updated with the whole set.
func (c *Core) SetVariables(ctx context.Context, a Actor, callID string, vars map[string]string) (CallView, error) {
	if err := c.checkMode(ctx, a, modes.SetData); err != nil {
		return CallView{}, err
	}
	t := c.tenant(a.Account)
	var v CallView
	err := t.exec(ctx, func(f *fx) error {
		cl := t.calls[callID]
		if cl == nil {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		if a.Role == auth.RoleAgent && !cl.involves(a.UserID) {
			return fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
		}
		next := maps.Clone(cl.vars)
		for k, val := range vars {
			if val == "" {
				delete(next, k)
			} else {
				next[k] = val
			}
		}
		if len(next) > MaxVariables {
			return fmt.Errorf("%w: a call carries at most %d variables", ErrInvalid, MaxVariables)
		}
		cl.vars = next
		cl.rec.Variables = maps.Clone(next)
		t.emit(f, event.DataUpdated, event.DataUpdatedData{CallID: cl.id, Variables: next})
		v = cl.view()
		return nil
	})
	return v, err
}

// hasQueue reports whether name is one of acct's queues (from the settings cache).
func (c *Core) hasQueue(ctx context.Context, acct, name string) bool {
	s, err := c.accounts.Settings(ctx, acct)
	return err == nil && s.HasQueue(name)
}
