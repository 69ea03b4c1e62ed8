package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/modes"
)

// MaxVariables is the most variables a call may carry (the schema limits one update to the same).
const MaxVariables = 64

// WebCaller describes a customer calling from a web page.
type WebCaller struct {
	DisplayName string
	Phone       string   // what the customer gave as a number or id ("" for anonymous)
	Media       []string // audio, plus video / screen when offered
}

// WebCall is a customer's call as its signalling edge sees it.
type WebCall struct {
	ID   string
	done <-chan struct{}
}

// Done is closed when the call has ended (the edge then closes the customer's connection).
func (w *WebCall) Done() <-chan struct{} { return w.done }

// StartWebCall begins a customer's web call on its negotiated leg: incoming_call is appended at
// once, then the IVR greets the caller and waits for a digit choosing a queue.
func (c *Core) StartWebCall(ctx context.Context, acct string, who WebCaller, leg media.Leg) (*WebCall, error) {
	if who.DisplayName == "" {
		who.DisplayName = defaultDisplayID
	}
	if len(who.Media) == 0 {
		who.Media = []string{"audio"}
	}
	phone := who.Phone
	if phone == "" {
		phone = "anonymous"
	}
	t := c.tenant(acct)
	var f fx
	t.mu.Lock()
	cl := t.newCallLocked("inbound", "webrtc", phone, who.DisplayName, who.Media, nil)
	cl.customer = leg
	t.addLegRec(cl, "customer", "", leg.ID(), true)
	t.addPartyRec(cl, "", phone, "caller")
	_ = cl.moveLocked(call.IVR)
	t.incomingLocked(&f, cl, "")
	if leg.State() == media.StateConnected {
		t.greetLocked(ctx, cl)
	} else {
		cl.greetPending = true // the greeting starts when media flows (see OnState below)
	}
	t.saveLocked(cl)
	id := cl.id
	t.mu.Unlock()
	leg.OnDTMF(func(d rune) { c.customerDigit(acct, id, d) })
	leg.OnState(func(s media.State) {
		switch s {
		case media.StateConnected:
			c.customerConnected(acct, id)
		case media.StateFailed, media.StateClosed:
			_ = c.CustomerHangUp(context.Background(), acct, id)
		}
	})
	switch leg.State() { // changed between the checks above and OnState
	case media.StateConnected:
		c.customerConnected(acct, id)
	case media.StateFailed, media.StateClosed:
		_ = c.CustomerHangUp(context.Background(), acct, id)
	}
	return &WebCall{ID: id, done: cl.done}, c.finish(ctx, &f)
}

// customerConnected starts the IVR greeting once the customer's media flows.
func (c *Core) customerConnected(acct, callID string) {
	t := c.tenant(acct)
	t.mu.Lock()
	defer t.mu.Unlock()
	if cl := t.calls[callID]; cl != nil && cl.greetPending && cl.state == call.IVR {
		cl.greetPending = false
		t.greetLocked(context.Background(), cl)
	}
}

// greetLocked plays the IVR greeting and arms the menu timeout (then the default queue).
func (t *tenant) greetLocked(ctx context.Context, cl *callRT) {
	s := t.settingsLocked(ctx)
	greeting := s.IVR.Greeting
	if greeting == "" {
		greeting = PromptWelcome
	}
	t.playLocked(cl, greeting)
	clip, _ := t.core.opts.Prompts.Clip(greeting)
	wait := time.Duration(len(clip)/8)*time.Millisecond + time.Duration(s.IVR.TimeoutSeconds)*time.Second
	t.afterLocked(cl, wait, func(ctx context.Context, f *fx) {
		t.enqueueLocked(ctx, f, cl, t.settingsLocked(ctx).IVR.DefaultQueue, false)
	})
}

// customerDigit handles a DTMF digit from the customer: in the IVR it picks a queue.
func (c *Core) customerDigit(acct, callID string, d rune) {
	ctx := context.Background()
	t := c.tenant(acct)
	var f fx
	t.mu.Lock()
	cl := t.calls[callID]
	if cl != nil && cl.state == call.IVR {
		digit := string(d)
		cl.vars["ivr_digits"] += digit
		if q, ok := t.settingsLocked(ctx).QueueFor(digit); ok {
			cl.vars["ivr_choice"] = digit
			cl.vars["queue"] = q
			t.emit(&f, event.DataUpdated, map[string]any{"call_id": cl.id, "variables": maps.Clone(cl.vars)})
			t.enqueueLocked(ctx, &f, cl, q, false)
		} else if p := t.playLocked(cl, PromptInvalid); p != nil {
			cl.promptOf = "" // replay the greeting after it
			gen := cl.gen
			go func() {
				<-p.Done()
				t.mu.Lock()
				if cl.gen == gen && cl.state == call.IVR && p.Completed() {
					t.greetLocked(ctx, cl)
				}
				t.mu.Unlock()
			}()
		}
	}
	t.mu.Unlock()
	_ = c.finish(ctx, &f)
}

// CustomerHangUp ends a web call from the customer's side.
func (c *Core) CustomerHangUp(ctx context.Context, acct, callID string) error {
	t := c.tenant(acct)
	var f fx
	t.mu.Lock()
	cl := t.calls[callID]
	if cl == nil {
		t.mu.Unlock()
		return fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	t.endCallLocked(&f, cl, endRemoteHangUp, endedByRemote)
	t.mu.Unlock()
	return c.finish(ctx, &f)
}

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
	var f fx
	t.mu.Lock()
	caller := t.agents[userID]
	switch {
	case caller == nil || caller.state.Status == agent.Offline:
		t.mu.Unlock()
		if _, err := c.store.User(ctx, a.Account, userID); err != nil {
			return CallView{}, fmt.Errorf("%w: user %s", ErrNotFound, userID)
		}
		return CallView{}, fmt.Errorf("%w: user %s is offline", ErrConflict, userID)
	case len(caller.calls) > 0 || caller.ringing != nil:
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: user %s is busy", ErrConflict, userID)
	case caller.leg() == nil:
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: %s has no phone with a connected peer connection and a granted microphone", ErrNoPhone, userID)
	case target == userID:
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: a user cannot call itself", ErrInvalid)
	}
	s := t.settingsLocked(ctx)
	isQueue := s.HasQueue(phone)
	direction := "outbound"
	if target != "" || isQueue {
		direction = "internal"
	}
	cl := t.newCallLocked(direction, "internal", phone, caller.name, []string{"audio"}, maps.Clone(vars))
	cl.caller = caller
	caller.calls[cl.id] = cl
	t.addLegRec(cl, "agent", caller.id, caller.owner.ID, true)
	t.addPartyRec(cl, caller.id, "", "caller")
	cl.rec.UserID = caller.id
	ch, err := caller.state.CallStarted(c.now())
	_ = t.applyChange(&f, caller, ch, err)
	t.emit(&f, event.OutgoingCall, map[string]any{"call_id": cl.id, "user_id": caller.id, "phone": phone, "variables": maps.Clone(cl.vars)})
	switch {
	case isQueue:
		t.incomingLocked(&f, cl, "")
		t.enqueueLocked(ctx, &f, cl, phone, false)
	case target != "":
		callee := t.agents[target]
		if callee == nil || callee.state.Status == agent.Offline || callee.state.Status == agent.DND ||
			len(callee.calls) > 0 || callee.ringing != nil || callee.leg() == nil {
			t.emit(&f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": caller.id, "phone": phone, "code": 486, "reason": "busy or unavailable"})
			t.endCallLocked(&f, cl, "busy", endedBySystem)
			break
		}
		t.addLegRec(cl, "agent", callee.id, "", false)
		t.addPartyRec(cl, callee.id, "", "callee")
		t.ringLocked(ctx, &f, cl, callee)
	default:
		t.emit(&f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": caller.id, "phone": phone, "code": 404, "reason": "no outbound route"})
		t.endCallLocked(&f, cl, endNoRoute, endedBySystem)
	}
	v := cl.view()
	if !cl.state.Terminal() {
		t.saveLocked(cl)
	}
	t.mu.Unlock()
	return v, c.finish(ctx, &f)
}

// resolveUser maps a destination to a user id: the id itself or an extension.
func (c *Core) resolveUser(ctx context.Context, acct, dest string) (string, error) {
	if u, err := c.store.User(ctx, acct, dest); err == nil {
		return u.ID, nil
	}
	if u, err := c.store.UserByExtension(ctx, acct, dest); err == nil {
		return u.ID, nil
	}
	return "", ErrNotFound
}

// SetVariables merges variables into a call's set (an empty value removes a key) and emits
// data_updated with the whole set.
func (c *Core) SetVariables(ctx context.Context, a Actor, callID string, vars map[string]string) (CallView, error) {
	if err := c.checkMode(ctx, a, modes.SetData); err != nil {
		return CallView{}, err
	}
	t := c.tenant(a.Account)
	var f fx
	t.mu.Lock()
	cl := t.calls[callID]
	if cl == nil {
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	if a.Role == auth.RoleAgent && !cl.involves(a.UserID) {
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
	}
	next := maps.Clone(cl.vars)
	for k, v := range vars {
		if v == "" {
			delete(next, k)
		} else {
			next[k] = v
		}
	}
	if len(next) > MaxVariables {
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: a call carries at most %d variables", ErrInvalid, MaxVariables)
	}
	cl.vars = next
	cl.rec.Variables = maps.Clone(next)
	t.emit(&f, event.DataUpdated, map[string]any{"call_id": cl.id, "variables": maps.Clone(next)})
	v := cl.view()
	t.mu.Unlock()
	return v, c.finish(ctx, &f)
}

func (cl *callRT) involves(uid string) bool {
	if cl.caller != nil && cl.caller.id == uid || cl.ringing != nil && cl.ringing.id == uid || cl.confRing != nil && cl.confRing.id == uid {
		return true
	}
	return cl.agentIndex(uid) >= 0
}

func (cl *callRT) agentIndex(uid string) int {
	for i, a := range cl.agents {
		if a.id == uid {
			return i
		}
	}
	return -1
}

// opMode maps a call control to the mode operation that governs it.
var opMode = map[call.Op]modes.Op{
	call.OpAnswer: modes.Answer, call.OpReject: modes.Reject, call.OpHangUp: modes.HangUp,
	call.OpHold: modes.Hold, call.OpRetrieve: modes.Retrieve, call.OpMute: modes.Mute, call.OpUnmute: modes.Unmute,
	call.OpDTMF: modes.DTMF, call.OpTransfer: modes.Transfer, call.OpConference: modes.Conference,
	call.OpRemoveParty: modes.RemoveParty,
}

// Control performs a call control for the actor's agent: answer, reject, hangup, hold,
// retrieve, mute, unmute, senddtmf (arg: digits), transfer and conference (arg: user id,
// extension or queue), removeparty (arg: the user id of the party). Hold on a held call and
// retrieve on a talking call succeed without action.
func (c *Core) Control(ctx context.Context, a Actor, callID string, op call.Op, arg string) (CallView, error) {
	mop, ok := opMode[op]
	if !ok {
		return CallView{}, fmt.Errorf("%w: unknown call control %q", ErrInvalid, op)
	}
	if err := c.checkMode(ctx, a, mop); err != nil {
		return CallView{}, err
	}
	if a.Role != auth.RoleAgent {
		return CallView{}, fmt.Errorf("%w: call controls need an agent token", ErrForbidden)
	}
	if op == call.OpDTMF {
		if !validDigits(arg) {
			return CallView{}, fmt.Errorf("%w: digits must be 1-32 of 0-9 * # A-D", ErrInvalid)
		}
	}
	var target string
	if op == call.OpTransfer || op == call.OpConference {
		target, _ = c.resolveUser(ctx, a.Account, arg)
	}
	t := c.tenant(a.Account)
	var f fx
	t.mu.Lock()
	cl := t.calls[callID]
	if cl == nil {
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
	}
	if !cl.involves(a.UserID) {
		t.mu.Unlock()
		return CallView{}, fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
	}
	me := t.agents[a.UserID]
	var sendDTMF media.Leg
	err := t.controlLocked(ctx, &f, cl, me, op, arg, target, &sendDTMF)
	v := cl.view()
	t.mu.Unlock()
	if err != nil {
		return v, errors.Join(err, c.finish(ctx, &f))
	}
	if err := c.finish(ctx, &f); err != nil {
		return v, err
	}
	if sendDTMF != nil {
		if err := sendDTMF.SendDTMF(ctx, arg); err != nil {
			return v, fmt.Errorf("send dtmf: %w", err)
		}
		_, err = c.hub.Publish(ctx, a.Account, event.DTMFSent, map[string]any{"call_id": callID, "user_id": a.UserID, "digits": arg})
	}
	return v, err
}

func (t *tenant) controlLocked(ctx context.Context, f *fx, cl *callRT, me *agentRT, op call.Op, arg, target string, sendDTMF *media.Leg) error {
	ringingMe := cl.ringing == me || cl.confRing == me
	switch op {
	case call.OpAnswer:
		if !ringingMe {
			return call.Check(cl.id, op, call.Connected)
		}
		if me.leg() == nil {
			return fmt.Errorf("%w: %s cannot answer: no phone with a connected peer connection and a granted microphone", ErrNoPhone, me.id)
		}
		t.answerLocked(f, cl, me)
		return nil
	case call.OpReject:
		if !ringingMe {
			return call.Check(cl.id, op, call.Connected)
		}
		if cl.confRing == me {
			t.confFailedLocked(f, cl, 603, "declined")
			return nil
		}
		cl.stopTimer()
		t.ringFailedLocked(ctx, f, cl, false)
		return nil
	}
	if ringingMe {
		if op == call.OpHangUp { // hanging up while alerted is a rejection
			return t.controlLocked(ctx, f, cl, me, call.OpReject, arg, target, sendDTMF)
		}
		return call.Check(cl.id, op, call.Ringing)
	}
	// Every other control needs a talking party: a connected agent or the calling agent.
	if op == call.OpHold && cl.held || op == call.OpRetrieve && cl.state == call.Connected && !cl.held {
		return nil // seed 002: succeed without action
	}
	state := cl.state
	if cl.held {
		state = call.Held
	}
	if err := call.Check(cl.id, op, state); err != nil {
		return err
	}
	switch op {
	case call.OpHangUp:
		t.hangUpLocked(f, cl, me)
	case call.OpHold, call.OpRetrieve:
		cl.held = op == call.OpHold
		if cl.held {
			_ = cl.moveLocked(call.Held)
			t.emit(f, event.CallHeld, map[string]any{"call_id": cl.id, "user_id": me.id})
		} else {
			_ = cl.moveLocked(call.Connected)
			t.emit(f, event.CallRetrieved, map[string]any{"call_id": cl.id, "user_id": me.id})
		}
		t.wireLocked(cl)
	case call.OpMute, call.OpUnmute:
		on := op == call.OpMute
		if cl.muted[me.id] != on {
			cl.muted[me.id] = on
			name := event.CallUnmuted
			if on {
				name = event.CallMuted
			}
			t.emit(f, name, map[string]any{"call_id": cl.id, "user_id": me.id})
		}
		t.wireLocked(cl)
	case call.OpDTMF:
		if cl.held {
			return &call.StateError{CallID: cl.id, Op: op, State: call.Held}
		}
		l := cl.remoteLeg()
		if cl.caller == me && len(cl.agents) > 0 {
			l = cl.agents[0].leg()
		}
		if l == nil {
			return fmt.Errorf("%w: the other party has no media", ErrConflict)
		}
		*sendDTMF = l
	case call.OpTransfer:
		return t.transferLocked(ctx, f, cl, me, arg, target)
	case call.OpConference:
		return t.conferenceLocked(ctx, f, cl, me, arg, target)
	case call.OpRemoveParty:
		i := cl.agentIndex(arg)
		if i < 0 || len(cl.agents) < 2 && cl.caller == nil {
			return fmt.Errorf("%w: %q is not a removable party of call %s", ErrInvalid, arg, cl.id)
		}
		t.leaveLocked(f, cl, cl.agents[i])
		if cl.parties() < 2 {
			t.endCallLocked(f, cl, "party_removed", endedByAgent)
		}
	}
	return nil
}

// parties counts who is still on the call: the connected agents plus the remote party.
func (cl *callRT) parties() int {
	n := len(cl.agents)
	if cl.customer != nil || cl.caller != nil {
		n++
	}
	return n
}

// answerLocked connects an alerted agent: the call's answerer, or a conference invitee.
func (t *tenant) answerLocked(f *fx, cl *callRT, me *agentRT) {
	now := t.core.now()
	conf := cl.confRing == me
	if conf {
		cl.confRing = nil
	} else {
		cl.ringing = nil
		_ = cl.moveLocked(call.Connected)
		cl.held = false
		if cl.answered.IsZero() {
			cl.answered = now
			cl.rec.AnsweredAt = &now
		}
	}
	me.ringing = nil
	cl.agents = append(cl.agents, me)
	me.calls[cl.id] = cl
	cl.rec.UserID = me.id
	cl.rec.State = string(call.Connected)
	t.answerLegRec(cl, me.id)
	if !t.hasLegRec(cl, me.id) {
		t.addLegRec(cl, "agent", me.id, me.owner.ID, true)
	}
	t.addPartyRec(cl, me.id, "", map[bool]string{true: "conference", false: "agent"}[conf])
	ch, err := me.state.CallStarted(now)
	_ = t.applyChange(f, me, ch, err)
	t.wireLocked(cl)
	if conf {
		t.emit(f, event.PartyAdded, map[string]any{"call_id": cl.id, "user_id": me.id, "phone": me.id, "party_id": me.id})
	} else {
		t.emit(f, event.CallConnected, map[string]any{"call_id": cl.id, "user_id": me.id, "phone": cl.phone})
	}
	t.saveLocked(cl)
}

func (t *tenant) hasLegRec(cl *callRT, uid string) bool {
	for _, l := range cl.rec.Legs {
		if l.UserID == uid && l.EndedAt == nil {
			return true
		}
	}
	return false
}

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
	if cl.mixer != nil {
		if l := a.leg(); l != nil {
			cl.mixer.Remove(l)
		}
	}
	if l := a.leg(); l != nil {
		_ = l.SetOutput(nil)
		l.SetMuted(false)
	}
	if tm := cl.grace[a.id]; tm != nil {
		tm.Stop()
		delete(cl.grace, a.id)
	}
	t.endLegRec(cl, a.id)
	t.leavePartyRec(cl, a.id)
	t.emit(f, event.PartyRemoved, map[string]any{"call_id": cl.id, "user_id": a.id, "phone": a.id, "party_id": a.id})
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
func (t *tenant) transferLocked(ctx context.Context, f *fx, cl *callRT, me *agentRT, dest, target string) error {
	if cl.caller == me {
		return fmt.Errorf("%w: the calling agent cannot transfer its own outgoing call", ErrInvalid)
	}
	if len(cl.agents) > 1 {
		return fmt.Errorf("%w: call %s has other agents on it; remove them (removeparty) or hang up instead of transferring", ErrConflict, cl.id)
	}
	s := t.settingsLocked(ctx)
	var to *agentRT
	switch {
	case target != "":
		to = t.agents[target]
		if to == nil || !to.available() {
			return fmt.Errorf("%w: %s is offline, busy or has no healthy phone", ErrConflict, dest)
		}
	case s.HasQueue(dest):
	default:
		return fmt.Errorf("%w: %q is not a user, an extension or a queue", ErrNoRoute, dest)
	}
	t.emit(f, event.CallTransferred, map[string]any{"call_id": cl.id, "from_user_id": me.id, "to": dest, "variables": maps.Clone(cl.vars)})
	t.leaveLocked(f, cl, me)
	cl.held = false
	clear(cl.tried)
	cl.tried[me.id] = true    // never offered back to the agent who passed it on
	cl.queuedAt = time.Time{} // a new queue visit: its timeout counts from now
	if to == nil {
		t.enqueueLocked(ctx, f, cl, dest, false)
		return nil
	}
	t.addLegRec(cl, "agent", to.id, "", false)
	t.addPartyRec(cl, to.id, "", "transfer")
	t.ringLocked(ctx, f, cl, to)
	return nil
}

// conferenceLocked invites another agent into the call (blind conference): it rings, and once
// it answers every party hears every other through a mixer.
func (t *tenant) conferenceLocked(ctx context.Context, f *fx, cl *callRT, me *agentRT, dest, target string) error {
	if target == "" {
		return fmt.Errorf("%w: %q is not a user or an extension", ErrNoRoute, dest)
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
	t.addLegRec(cl, "agent", to.id, "", false)
	t.incomingLocked(f, cl, to.id)
	s := t.settingsLocked(ctx)
	cl.confGen++
	gen := cl.confGen
	t.core.opts.Clock.AfterFunc(time.Duration(s.RingTimeoutSeconds)*time.Second, func() {
		var fx fx
		t.mu.Lock()
		if cl.confGen == gen && cl.confRing == to && !cl.state.Terminal() {
			t.confFailedLocked(&fx, cl, 408, "no answer")
		}
		t.mu.Unlock()
		_ = t.core.finish(context.Background(), &fx)
	})
	return nil
}

func (t *tenant) confFailedLocked(f *fx, cl *callRT, code int, reason string) {
	to := cl.confRing
	cl.confRing, to.ringing = nil, nil
	t.endLegRec(cl, to.id)
	t.emit(f, event.CallFailed, map[string]any{"call_id": cl.id, "user_id": to.id, "phone": cl.phone, "code": code, "reason": reason})
}

// moveMediaLocked re-wires a call after the agent's media owner changed: a call held because
// the owner was lost resumes on the new owner.
func (t *tenant) moveMediaLocked(f *fx, cl *callRT, a *agentRT, prev, next *Session) {
	if tm := cl.grace[a.id]; tm != nil {
		tm.Stop()
		delete(cl.grace, a.id)
	}
	if prev != nil && prev.leg != nil && prev != next {
		_ = prev.leg.SetOutput(nil)
		prev.leg.SetMuted(false)
	}
	t.wireLocked(cl)
}

// ownerGoneLocked holds a call whose agent (answering or calling) lost its media: the others
// hear hold audio, and the call ends if no healthy phone of the agent takes over within the
// grace period. Hold, retrieve and other state changes do not affect this timer.
func (t *tenant) ownerGoneLocked(f *fx, cl *callRT, a *agentRT, lost *Session) {
	t.wireLocked(cl)
	if cl.state != call.Connected && cl.state != call.Held || cl.grace[a.id] != nil {
		return
	}
	if cl.grace == nil {
		cl.grace = make(map[string]clock.Timer)
	}
	grace := time.Duration(t.settingsLocked(context.Background()).HoldGraceSeconds) * time.Second
	var timer clock.Timer
	timer = t.core.opts.Clock.AfterFunc(grace, func() {
		var fx fx
		t.mu.Lock()
		if cl.grace[a.id] == timer && !cl.state.Terminal() && a.leg() == nil && (cl.agentIndex(a.id) >= 0 || cl.caller == a) {
			delete(cl.grace, a.id)
			t.endCallLocked(&fx, cl, endOwnerLost, endedBySystem)
		}
		t.mu.Unlock()
		_ = t.core.finish(context.Background(), &fx)
	})
	cl.grace[a.id] = timer
}

// Calls returns a snapshot of the account's active calls; with userID, only that agent's
// (including calls alerting it).
func (c *Core) Calls(acct, userID string) []CallView {
	t := c.tenant(acct)
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []CallView{}
	for _, cl := range t.calls {
		if userID == "" || cl.involves(userID) {
			out = append(out, cl.view())
		}
	}
	return out
}

// Call returns one active call.
func (c *Core) Call(acct, callID string) (CallView, error) {
	t := c.tenant(acct)
	t.mu.Lock()
	defer t.mu.Unlock()
	if cl := t.calls[callID]; cl != nil {
		return cl.view(), nil
	}
	return CallView{}, fmt.Errorf("%w: call %s", ErrNotFound, callID)
}

// validDigits reports whether s is DTMF digits (the schemas bound the length) (0-9 * # A-D, as RFC 4733 carries them).
func validDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, d := range s {
		if !(d >= '0' && d <= '9' || d == '*' || d == '#' || d >= 'A' && d <= 'D' || d >= 'a' && d <= 'd') {
			return false
		}
	}
	return true
}
