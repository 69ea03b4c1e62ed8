package core

import (
	"context"
	"errors"
	"regexp"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// Outbound calls to phone numbers over the account's trunk (issue 11, PROTOCOLS.md section 6).
// The dialing agent is joined at once (it asked for the call) as the call's agent; the far end
// is the call's remote leg, a SIP leg from the Dialer. The call is Dialing until the far end
// answers (Connected, call_connected) or refuses (call_failed with the SIP status).

// phoneNumber is what make_call treats as a number to dial over the trunk.
var phoneNumber = regexp.MustCompile(`^\+?[0-9]{3,15}$`)

// endDialFailed is the end reason of an outbound call the far end refused.
const endDialFailed = "dial_failed"

// outDial is an outbound call prepared before the tenant lock: the trunk looked up and the RTP
// leg bound (store reads and system calls stay out of the critical section). The call's id is
// filled in under the lock, before start can run, so the dial events find their call.
type outDial struct {
	leg   media.Leg
	start func()
	id    string
	used  bool
	early bool // the far end's early media (183) plays: a later 180 keeps it
	// A number dialled into a running call (sipparty.go): its number, the agent handing the call
	// over (a transfer; nil for a conference), whether it answered.
	phone string
	from  *agentRT
	up    bool
}

// dialHooks are what a prepared dial does, under the tenant lock, as the far end progresses.
type dialHooks struct {
	ringing, early, answered, ended func(f *fx, cl *callRT, od *outDial)
	failed                          func(f *fx, cl *callRT, od *outDial, code int, reason string)
}

// outboundHooks drive a make_call to a number: the far end is the call's remote party.
func (t *tenant) outboundHooks() dialHooks {
	return dialHooks{
		ringing:  func(f *fx, cl *callRT, od *outDial) { t.ringbackLocked(cl, od) },
		early:    func(f *fx, cl *callRT, od *outDial) { od.early = true; t.earlyMediaLocked(f, cl) },
		answered: func(f *fx, cl *callRT, _ *outDial) { t.outAnsweredLocked(f, cl) },
		failed: func(f *fx, cl *callRT, _ *outDial, code int, reason string) {
			t.emit(f, event.CallFailed, event.CallFailedData{CallID: cl.id, UserID: cl.rec.UserID, Phone: cl.phone, Code: code,
				Reason: reason, ConsultOf: cl.cons.of})
			t.endCallLocked(f, cl, endDialFailed, endedByRemote)
		},
		ended: func(f *fx, cl *callRT, _ *outDial) { t.endCallLocked(f, cl, endRemoteHangUp, endedByRemote) },
	}
}

// prepareDial readies a dial of phone over acct's trunk; nil when there is no dialer, phone is
// not a number, or the account has no route. Whoever does not use it must call release.
func (c *Core) prepareDial(ctx context.Context, t *tenant, phone string, h dialHooks) *outDial {
	d := c.opts.Dialer
	if d == nil || !phoneNumber.MatchString(phone) {
		return nil
	}
	od := &outDial{phone: phone}
	leg, start, err := d.Dial(ctx, t.name, phone, media.DialEvents{
		Ringing:    func() { c.onOutbound(t, od.id, func(f *fx, cl *callRT) { h.ringing(f, cl, od) }) },
		EarlyMedia: func() { c.onOutbound(t, od.id, func(f *fx, cl *callRT) { h.early(f, cl, od) }) },
		Answered:   func() { c.onOutbound(t, od.id, func(f *fx, cl *callRT) { h.answered(f, cl, od) }) },
		Failed: func(code int, reason string) {
			c.onOutbound(t, od.id, func(f *fx, cl *callRT) { h.failed(f, cl, od, code, reason) })
		},
		Ended: func() { c.onOutbound(t, od.id, func(f *fx, cl *callRT) { h.ended(f, cl, od) }) },
	})
	if err != nil {
		if !errors.Is(err, media.ErrNoRoute) {
			c.log.Warn("dial out", "err", err)
		}
		return nil
	}
	od.leg, od.start = leg, start
	return od
}

// release closes a prepared dial the call did not use (nothing was sent to the far end).
func (od *outDial) release() {
	if od != nil && !od.used {
		_ = od.leg.Close()
	}
}

// dialOutLocked joins the prepared dial od to caller's call cl; false (nothing changed) without one.
func (t *tenant) dialOutLocked(f *fx, cl *callRT, caller *agentRT, phone string, od *outDial) bool {
	if od == nil {
		return false
	}
	od.id, od.used = cl.id, true
	leg := od.leg
	now := t.core.now()
	cl.caller = nil
	cl.agents = append(cl.agents, caller)
	cl.customer = leg
	_ = cl.moveLocked(call.Dialing)
	cl.rec.State = string(call.Dialing)
	cl.rec.addLeg(string(leg.Kind()), "", leg.ID(), false, now)
	cl.rec.addParty("", phone, "callee", now)
	t.wireLocked(cl)
	t.core.watchRemoteHold(t.name, cl.id, leg)
	f.after = append(f.after, od.start)
	return true
}

// onOutbound runs fn on the call if it is still going on.
func (c *Core) onOutbound(t *tenant, id string, fn func(f *fx, cl *callRT)) {
	_ = t.exec(context.Background(), func(f *fx) error {
		if cl := t.calls[id]; cl != nil && !cl.state.Terminal() {
			fn(f, cl)
		}
		return nil
	})
}

// earlyMediaLocked lets the agent hear the far end's ringback or announcement before the answer.
func (t *tenant) earlyMediaLocked(_ *fx, cl *callRT) {
	if eng := t.core.opts.Media; eng != nil && cl.state == call.Dialing && cl.customer != nil {
		for _, a := range cl.agents {
			if l := a.leg(); l != nil {
				_ = l.SetOutput(eng.Relay(cl.customer))
			}
		}
	}
}

// ringbackLocked plays the ringback tone to the dialling agent while the far end rings without
// early media (180 without SDP).
func (t *tenant) ringbackLocked(cl *callRT, od *outDial) {
	eng := t.core.opts.Media
	if eng == nil || cl.state != call.Dialing || od.early {
		return
	}
	clip, err := t.core.opts.Prompts.Clip(PromptRingback)
	if err != nil || len(clip) == 0 {
		return
	}
	for _, a := range cl.agents {
		if l := a.leg(); l != nil {
			_ = l.SetOutput(eng.NewPlayer(clip, true))
		}
	}
}

// outAnsweredLocked connects the call when the far end answers.
func (t *tenant) outAnsweredLocked(f *fx, cl *callRT) {
	if cl.state != call.Dialing {
		return
	}
	now := t.core.now()
	_ = cl.moveLocked(call.Connected)
	cl.answered = now
	cl.rec.AnsweredAt = &now
	cl.rec.State = string(call.Connected)
	cl.rec.answerLeg("", cl.customer.ID(), now)
	t.sipRecordLocked(cl)
	t.wireLocked(cl)
	t.emit(f, event.CallConnected, event.CallConnectedData{CallID: cl.id, UserID: cl.rec.UserID, Phone: cl.phone, ConsultOf: cl.cons.of})
	t.saveLocked(f, cl)
}

// customerLegKind is the record kind of a customer's leg: "sip" for SIP legs.
func customerLegKind(leg media.Leg) string {
	if leg.Kind() == media.KindSIP {
		return string(media.KindSIP)
	}
	return "customer"
}

// sipRecordLocked copies the SIP legs' Call-ID and final status into their leg records: the
// customer's and those of numbers dialled into the call.
func (t *tenant) sipRecordLocked(cl *callRT) {
	legs := []media.Leg{cl.customer}
	for _, od := range cl.parts {
		legs = append(legs, od.leg)
	}
	for _, leg := range legs {
		info, ok := leg.(media.SIPInfo)
		if !ok || leg == nil {
			continue
		}
		for i := range cl.rec.Legs {
			if l := &cl.rec.Legs[i]; l.Peer == leg.ID() {
				l.SIPCallID, l.SIPStatus = info.SIPCallID(), info.SIPStatus()
			}
		}
	}
}

// heldByRemote is held_by on call_held / call_retrieved when the remote party (a SIP far end)
// held or resumed the call itself.
const heldByRemote = "remote"

// watchRemoteHold follows the remote leg's own hold (SIP re-INVITE sendonly/inactive) and
// resume: the call shows as held (held_by "remote") and its agent gets call_held and
// call_retrieved with held_by "remote". The call's wiring does not change: the far end sends
// nothing while it holds, or its own hold music.
func (c *Core) watchRemoteHold(acct, id string, leg media.Leg) {
	if h, ok := leg.(media.RemoteHolder); ok {
		h.OnRemoteHold(func(held bool) { c.remoteHold(acct, id, held) })
	}
}

func (c *Core) remoteHold(acct, id string, held bool) {
	t := c.tenant(acct)
	_ = t.exec(context.Background(), func(f *fx) error {
		cl := t.calls[id]
		if cl == nil || cl.state.Terminal() || cl.remoteHeld == held {
			return nil
		}
		cl.remoteHeld = held
		if cl.rec.UserID == "" { // no agent on the call yet (IVR, queue): only its view shows it
			return nil
		}
		name := event.CallRetrieved
		if held {
			name = event.CallHeld
		}
		t.emit(f, name, event.CallPartyData{CallID: id, UserID: cl.rec.UserID, HeldBy: heldByRemote})
		return nil
	})
}
