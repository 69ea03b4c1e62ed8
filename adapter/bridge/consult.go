package bridge

import (
	"slices"
	"strconv"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Consult conversations (seed 002: "a primary conversation and an optional consult
// conversation"; docs/consult.md). When this agent starts a consult call from the call of an
// interaction, the consult call becomes that interaction's second conversation,
// <interaction target>.<consult call id> with conversation-type "consult": it answers its own
// conversation.query.init, takes the conversation requests (release, hold, retrieve, mute,
// unmute, senddtmf, dispose), and raises the conversation events (started, dialing, talking,
// held, partyadded, busy, failed, ended), queued until its init like every destination. The
// interaction stays ACTIVE; interaction.conversationadded names the new conversation. The
// consulted agent sees the consult call as an interaction of its own (consult-of names the
// primary call) and, after a completion, the primary call as a new ACTIVE interaction.

// ConsultType is the conversation-type of a consult conversation.
const ConsultType = "consult"

// conversation returns the interaction's conversation with target t, nil if none.
func (in *interaction) conversation(t string) *conversation {
	for _, cv := range []*conversation{in.conv, in.consult} {
		if cv != nil && cv.target == t {
			return cv
		}
	}
	return nil
}

// callID is the call r's requests act on: its conversation's consult call, else the interaction's.
func (r *req) callID() string {
	if r.conv != nil && r.conv.callID != "" {
		return r.conv.callID
	}
	return r.ia.callID
}

// consultEventLocked renders the events of consult calls; false leaves ev to onEvent.
func (c *conn) consultEventLocked(ev *coreEvent, ia *interaction) bool {
	uid := c.actor.UserID
	switch {
	case ev.Name == event.OutgoingCall && ev.ConsultOf != "" && ev.UserID == uid && ia == nil:
		if p := c.byCall[ev.ConsultOf]; p != nil && p.state != IReleased {
			c.addConsultLocked(p, ev)
			return true
		}
	case ia != nil && ia.consult != nil && ia.consult.callID == ev.CallID:
		c.consultConvEventLocked(ia, ia.consult, ev)
		return true
	case ev.Name == event.IncomingCall && ev.ConsultOf != "" && ev.UserID == uid && (ia == nil || ia.state == IReleased):
		var vp *core.CallView
		if v, err := c.b.Core.Call(c.actor.Account, ev.CallID); err == nil {
			vp = &v
		}
		if in := c.newInteractionLocked(ev.CallID, vp, Ringing, ev); in != nil {
			in.consultOf = ev.ConsultOf
			in.base = mustJSON(in.body())
		}
		return true
	case (ev.Name == event.CallConnected || ev.Name == event.PartyAdded) && ev.UserID == uid && (ia == nil || ia.state == IReleased):
		c.joinedLocked(ev) // a consult completed: the consulted agent is now on the primary call
		return true
	}
	return false
}

// addConsultLocked adds the consult call of ev to interaction p as its consult conversation
// (replacing a released one).
func (c *conn) addConsultLocked(p *interaction, ev *coreEvent) {
	if old := p.consult; old != nil {
		c.disposeConsultLocked(p)
	}
	remote := party{Number: ev.Phone}
	if v, err := c.b.Core.Call(c.actor.Account, ev.CallID); err == nil && v.Phone != "" {
		remote.Number = v.Phone
	}
	cv := &conversation{dest: dest{target: p.target + "." + ev.CallID}, state: Dialing, parties: []party{remote}, callID: ev.CallID}
	cv.base = mustJSON(cv.body())
	p.consult = cv
	c.byCall[ev.CallID] = p
	c.emitLocked(&cv.dest, "conversation.started", nil)
	c.emitLocked(&cv.dest, "conversation.dialing", nil)
	c.emitLocked(&p.dest, "interaction.conversationadded", map[string]string{"conversation": cv.target,
		"conversation-id": ev.CallID, "conversation-type": ConsultType})
}

// disposeConsultLocked forgets the interaction's consult conversation.
func (c *conn) disposeConsultLocked(p *interaction) {
	if cv := p.consult; cv != nil {
		if c.byCall[cv.callID] == p {
			delete(c.byCall, cv.callID)
		}
		p.consult = nil
	}
}

// consultConvEventLocked renders one event of a consult call on its conversation.
func (c *conn) consultConvEventLocked(ia *interaction, cv *conversation, ev *coreEvent) {
	uid := c.actor.UserID
	if cv.state == Released {
		return
	}
	switch ev.Name {
	case event.CallConnected:
		if cv.state == Dialing {
			if ev.UserID != uid && ev.UserID != "" {
				cv.parties[0].Name = c.b.Core.Agent(c.actor.Account, ev.UserID).Name
				if cv.parties[0].Number != ev.UserID { // a queue or an extension: the agent who answered
					cv.parties[0].Number = ev.UserID
				}
			}
			cv.state = Talking
			c.emitLocked(&cv.dest, "conversation.talking", nil)
			c.emitLocked(&cv.dest, "conversation.partyadded", cv.parties[0])
		}
	case event.CallHeld:
		if cv.state == Talking {
			cv.state = Held
			c.emitLocked(&cv.dest, "conversation.held", nil)
		}
	case event.CallRetrieved:
		if cv.state == Held {
			cv.state = Talking
			c.emitLocked(&cv.dest, "conversation.talking", nil)
		}
	case event.CallMuted, event.CallUnmuted:
		if on := ev.Name == event.CallMuted; ev.UserID == uid && cv.muted != on {
			cv.muted = on
			c.emitLocked(&cv.dest, map[bool]string{true: "conversation.mute", false: "conversation.talking"}[on], nil)
		}
	case event.DTMFSent:
		if ev.UserID == uid {
			c.emitLocked(&cv.dest, "conversation.dtmfsent", map[string]string{"digits": ev.Digits})
		}
	case event.CallFailed:
		c.consultFailedLocked(cv, ev)
	case event.CallDisconnected:
		if cv.state == Dialing && cv.failed != "" {
			c.emitLocked(&cv.dest, "conversation.failed", map[string]string{"reason": cv.failed})
		}
		cv.state = Released
		c.emitLocked(&cv.dest, "conversation.ended", nil)
		if c.byCall[cv.callID] == ia {
			delete(c.byCall, cv.callID)
		}
	}
}

// consultFailedLocked renders a call_failed of a consult call: busy or failed while it dials; an
// agent's refusal is kept, a failure only if the call then ends unanswered (a queue rings on).
func (c *conn) consultFailedLocked(cv *conversation, ev *coreEvent) {
	reason := ev.Reason
	if reason == "" {
		reason = "failed (" + strconv.Itoa(ev.Code) + ")"
	}
	switch {
	case cv.state != Dialing:
	case ev.UserID != c.actor.UserID && ev.UserID != "":
		cv.failed = ev.UserID + ": " + reason
	case ev.Code == 486:
		c.emitLocked(&cv.dest, "conversation.busy", nil)
		cv.failed = ""
	default:
		c.emitLocked(&cv.dest, "conversation.failed", map[string]string{"reason": reason})
		cv.failed = ""
	}
}

// joinedLocked gives this agent an ACTIVE interaction for a call it joined without alerting: a
// consult completed as a transfer or a conference moved it from the consult call to the primary.
func (c *conn) joinedLocked(ev *coreEvent) {
	v, err := c.b.Core.Call(c.actor.Account, ev.CallID)
	if err != nil {
		return // the call ended meanwhile: nothing to show
	}
	ia := c.newInteractionLocked(ev.CallID, &v, Talking, nil)
	if ia == nil || ia.conv == nil {
		return
	}
	for _, p := range ia.conv.parties {
		c.emitLocked(&ia.conv.dest, "conversation.partyadded", p)
	}
}

// setupCallsLocked builds the interactions of the calls the agent has at login. A consult call
// the agent is making from another of its calls becomes that interaction's consult conversation,
// as it would have had the desktop been logged in when it started.
func (c *conn) setupCallsLocked(calls []core.CallView) {
	uid := c.actor.UserID
	mine := func(v core.CallView) bool {
		return v.ConsultOf != "" && (v.Caller == uid || slices.Contains(v.Agents, uid)) &&
			slices.ContainsFunc(calls, func(p core.CallView) bool { return p.CallID == v.ConsultOf && slices.Contains(p.Agents, uid) })
	}
	var consults []core.CallView
	for _, v := range calls {
		if mine(v) {
			consults = append(consults, v)
			continue
		}
		if ia := c.newInteractionLocked(v.CallID, &v, convState(v, uid), nil); ia != nil && v.ConsultOf != "" {
			ia.consultOf = v.ConsultOf
			ia.base = mustJSON(ia.body())
		}
	}
	for _, v := range consults {
		p := c.byCall[v.ConsultOf]
		if p == nil {
			continue
		}
		remote := party{Number: v.Phone}
		if v.Caller == uid && len(v.Agents) > 0 {
			remote = party{Number: v.Agents[0], Name: c.b.Core.Agent(c.actor.Account, v.Agents[0]).Name}
		}
		st := Dialing
		if v.State == string(call.Connected) || v.State == string(call.Held) {
			st = map[bool]string{true: Held, false: Talking}[v.Held]
		}
		cv := &conversation{dest: dest{target: p.target + "." + v.CallID}, state: st, parties: []party{remote}, callID: v.CallID,
			muted: slices.Contains(v.Muted, uid)}
		cv.base = mustJSON(cv.body())
		p.consult = cv
		p.base = mustJSON(p.body())
		c.byCall[v.CallID] = p
		c.emitLocked(&cv.dest, "conversation.started", nil)
	}
}
