package core

import (
	"context"
	"fmt"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/modes"
)

// opMode maps a call control to the mode operation that governs it.
var opMode = map[call.Op]modes.Op{
	call.OpAnswer: modes.Answer, call.OpReject: modes.Reject, call.OpHangUp: modes.HangUp,
	call.OpHold: modes.Hold, call.OpRetrieve: modes.Retrieve, call.OpMute: modes.Mute, call.OpUnmute: modes.Unmute,
	call.OpDTMF: modes.DTMF, call.OpTransfer: modes.Transfer, call.OpConference: modes.Conference,
	call.OpRemoveParty: modes.RemoveParty,
}

// ctl is one call control in progress: its call, the acting agent and its argument.
type ctl struct {
	cl     *callRT
	me     *agentRT
	arg    string
	target string    // transfer / conference: the user the destination names, if any
	dtmf   media.Leg // senddtmf: the leg to send the digits to, after unlocking
	od     *outDial  // transfer / conference to a number: its dial, prepared before the lock
}

// Control performs a call control for the actor's agent: answer, reject, hangup, hold,
// retrieve, mute, unmute, senddtmf (arg: digits), transfer and conference (arg: user id,
// extension, queue or phone number: sipparty.go), removeparty (arg: the user id of the party). Hold on a held call and
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
	if op == call.OpDTMF && !validDigits(arg) {
		return CallView{}, fmt.Errorf("%w: digits must be 1-32 of 0-9 * # A-D", ErrInvalid)
	}
	x := &ctl{arg: arg}
	if op == call.OpTransfer || op == call.OpConference {
		x.target, _ = c.resolveUser(ctx, a.Account, arg)
		c.prepareControlDial(ctx, a.Account, op, x) // sipparty.go
		defer x.od.release()
	}
	t := c.tenant(a.Account)
	var v CallView
	err := t.exec(ctx, func(f *fx) error {
		if x.cl = t.calls[callID]; x.cl == nil {
			return fmt.Errorf("%w: call %s", ErrNotFound, callID)
		}
		if !x.cl.involves(a.UserID) {
			return fmt.Errorf("%w: call %s is not one of %s's calls", ErrForbidden, callID, a.UserID)
		}
		x.me = t.agents[a.UserID]
		err := t.controlLocked(ctx, f, x, op)
		v = x.cl.view()
		return err
	})
	if err != nil || x.dtmf == nil {
		return v, err
	}
	if err := x.dtmf.SendDTMF(ctx, arg); err != nil {
		return v, fmt.Errorf("send dtmf: %w", err)
	}
	_, err = c.hub.Publish(ctx, a.Account, event.DTMFSent, event.DTMFSentData{CallID: callID, UserID: a.UserID, Digits: arg})
	return v, err
}

// controlLocked runs one control: the alerting ones (answer, reject) for an alerted agent, the
// others for a talking party (a connected agent or the calling agent).
func (t *tenant) controlLocked(ctx context.Context, f *fx, x *ctl, op call.Op) error {
	cl, me := x.cl, x.me
	ringingMe := cl.ringing == me || cl.confRing == me
	switch {
	case op == call.OpAnswer || op == call.OpReject:
		if !ringingMe {
			return call.Check(cl.id, op, call.Connected)
		}
		if op == call.OpAnswer {
			return t.answerLocked(f, cl, me)
		}
		t.rejectLocked(ctx, f, cl, me)
		return nil
	case ringingMe && op == call.OpHangUp: // hanging up while alerted is a rejection
		t.rejectLocked(ctx, f, cl, me)
		return nil
	case ringingMe:
		return call.Check(cl.id, op, call.Ringing)
	case op == call.OpHold && cl.held, op == call.OpRetrieve && cl.state == call.Connected && !cl.held:
		return nil // seed 002: succeed without action
	}
	state := cl.state
	if cl.held {
		state = call.Held
	}
	if err := call.Check(cl.id, op, state); err != nil {
		return err
	}
	return t.talkingControlLocked(ctx, f, x, op)
}

// talkingControlLocked runs a control of a talking party, its state already checked.
func (t *tenant) talkingControlLocked(ctx context.Context, f *fx, x *ctl, op call.Op) error {
	cl, me := x.cl, x.me
	switch op {
	case call.OpHangUp:
		t.hangUpLocked(f, cl, me)
	case call.OpHold, call.OpRetrieve:
		t.holdRetrieveLocked(f, cl, me, op == call.OpHold)
	case call.OpMute, call.OpUnmute:
		t.muteLocked(f, cl, me, op == call.OpMute)
	case call.OpDTMF:
		return t.dtmfLocked(x)
	case call.OpTransfer:
		return t.transferLocked(ctx, f, cl, me, x)
	case call.OpConference:
		return t.conferenceLocked(ctx, f, cl, x)
	case call.OpRemoveParty:
		return t.removePartyLocked(f, cl, x.arg)
	}
	return nil
}

// answerLocked connects an alerted agent: the call's answerer, or a conference invitee (who
// joins with party_added and gets its own call_connected).
func (t *tenant) answerLocked(f *fx, cl *callRT, me *agentRT) error {
	if me.leg() == nil {
		return fmt.Errorf("%w: %s cannot answer: no phone with a connected peer connection and a granted microphone", ErrNoPhone, me.id)
	}
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
	cl.rec.answerLeg(me.id, me.owner.ID, now)
	cl.rec.addParty(me.id, "", map[bool]string{true: "conference", false: "agent"}[conf], now)
	ch, err := me.state.CallStarted(now)
	_ = t.applyChange(f, me, ch, err)
	t.wireLocked(cl)
	if conf {
		t.emit(f, event.PartyAdded, event.PartyData{CallID: cl.id, UserID: me.id, Phone: me.id, PartyID: me.id})
	}
	t.emit(f, event.CallConnected, event.CallConnectedData{CallID: cl.id, UserID: me.id, Phone: cl.phone, ConsultOf: cl.cons.of})
	t.saveLocked(f, cl)
	return nil
}

// rejectLocked ends an alerting: a conference invitation fails; a call moves on.
func (t *tenant) rejectLocked(ctx context.Context, f *fx, cl *callRT, me *agentRT) {
	if cl.confRing == me {
		t.confFailedLocked(f, cl, 603, "declined")
		return
	}
	cl.stopTimer()
	t.ringFailedLocked(ctx, f, cl, false)
}

func (t *tenant) holdRetrieveLocked(f *fx, cl *callRT, me *agentRT, hold bool) {
	if !hold {
		t.alternateLocked(f, cl, me) // consult.go: the agent's other call goes on hold
	}
	cl.held = hold
	if hold {
		_ = cl.moveLocked(call.Held)
		t.emit(f, event.CallHeld, event.CallPartyData{CallID: cl.id, UserID: me.id})
	} else {
		_ = cl.moveLocked(call.Connected)
		t.emit(f, event.CallRetrieved, event.CallPartyData{CallID: cl.id, UserID: me.id})
	}
	t.wireLocked(cl)
}

func (t *tenant) muteLocked(f *fx, cl *callRT, me *agentRT, on bool) {
	if cl.muted[me.id] != on {
		cl.muted[me.id] = on
		name := event.CallUnmuted
		if on {
			name = event.CallMuted
		}
		t.emit(f, name, event.CallPartyData{CallID: cl.id, UserID: me.id})
	}
	t.wireLocked(cl)
}

// dtmfLocked chooses the leg the digits go to (sent after unlocking): the remote party's, or
// for the calling agent the first answering agent's.
func (t *tenant) dtmfLocked(x *ctl) error {
	cl := x.cl
	if cl.held {
		return &call.StateError{CallID: cl.id, Op: call.OpDTMF, State: call.Held}
	}
	l := cl.remoteLeg()
	if cl.caller == x.me && len(cl.agents) > 0 {
		l = cl.agents[0].leg()
	}
	if l == nil {
		return fmt.Errorf("%w: the other party has no media", ErrConflict)
	}
	x.dtmf = l
	return nil
}

func (t *tenant) removePartyLocked(f *fx, cl *callRT, uid string) error {
	if od := cl.partByID(uid); od != nil { // a number dialled into the conference (sipparty.go)
		return t.removeNumberLocked(f, cl, od)
	}
	i := cl.agentIndex(uid)
	if i < 0 || len(cl.agents) < 2 && cl.caller == nil {
		return fmt.Errorf("%w: %q is not a removable party of call %s", ErrInvalid, uid, cl.id)
	}
	t.leaveLocked(f, cl, cl.agents[i])
	if cl.parties() < 2 {
		t.endCallLocked(f, cl, "party_removed", endedByAgent)
	}
	return nil
}

// validDigits reports whether s is DTMF digits (0-9 * # A-D, as RFC 4733 carries them; the
// schemas bound the length).
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
