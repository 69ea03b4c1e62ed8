package bridge

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/modes"
)

// emitLocked raises an event on d: at once if d answered its init query, else queued.
func (c *conn) emitLocked(d *dest, name string, body any) {
	m := encodeEvent(d.target, name, body)
	if d.inited {
		c.enqueueLocked(m)
		return
	}
	if len(d.pending) >= maxPending {
		c.b.log.Debug("bridge destination never initialised; event dropped", "target", d.target, "event", name)
		return
	}
	d.pending = append(d.pending, m)
}

// onEvent renders one account event for this connection. It runs on the feed's goroutine.
func (c *conn) onEvent(ev *coreEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.closed {
		return
	}
	uid := c.actor.UserID
	if ev.Name == event.SettingsChanged {
		c.settingsChangedLocked(ev)
		return
	}
	if ev.Name == event.StatusChanged {
		if ev.UserID == uid {
			c.statusLocked(ev)
		}
		return
	}
	if c.chatEventLocked(ev) { // chat_events.go
		return
	}
	if ev.CallID == "" {
		return
	}
	ia := c.byCall[ev.CallID]
	if c.consultEventLocked(ev, ia) { // consult.go
		return
	}
	switch ev.Name {
	case event.IncomingCall:
		if ev.UserID == uid && (ia == nil || ia.state == IReleased) {
			var vp *core.CallView
			if v, err := c.b.Core.Call(c.actor.Account, ev.CallID); err == nil {
				vp = &v
			}
			c.newInteractionLocked(ev.CallID, vp, Ringing, ev)
		}
		return
	case event.OutgoingCall:
		if ev.UserID == uid && ia == nil {
			c.newInteractionLocked(ev.CallID, nil, Dialing, ev)
		}
		return
	}
	if ia == nil || ia.state == IReleased {
		return
	}
	if c.videoEventLocked(ia, ev) { // events_video.go
		return
	}
	cv := ia.conv // nil once disposed: the interaction still follows the call
	switch ev.Name {
	case event.CallConnected:
		switch {
		case ev.UserID == uid && ia.state == Alerting:
			c.connectedLocked(ia, "interaction.accepted")
		case ev.UserID != uid && ia.state == IDialing:
			if cv != nil && len(cv.parties) == 1 && cv.parties[0].Name == "" {
				cv.parties[0].Name = c.b.Core.Agent(c.actor.Account, ev.UserID).Name
			}
			c.connectedLocked(ia, "interaction.connected")
		case ev.UserID != uid && ia.state == Alerting:
			c.releaseLocked(ia, "answered by "+ev.UserID, "")
		}
	case event.PartyAdded:
		switch {
		case ev.UserID == uid && ia.state == Alerting:
			c.connectedLocked(ia, "interaction.accepted")
		case ev.UserID != uid && ia.state == Active && cv != nil && !cv.hasParty(ev.UserID):
			p := party{Number: ev.UserID, Name: c.b.Core.Agent(c.actor.Account, ev.UserID).Name}
			cv.parties = append(cv.parties, p)
			c.emitLocked(&cv.dest, "conversation.partyadded", p)
		}
	case event.PartyRemoved:
		switch {
		case ev.UserID == uid:
			reason := "removed from the call"
			if ia.reason == "transferred" {
				reason = "transferred"
			}
			c.releaseLocked(ia, reason, "")
		case cv != nil && cv.hasParty(ev.UserID):
			cv.parties = slices.DeleteFunc(cv.parties, func(p party) bool { return p.Number == ev.UserID })
			c.emitLocked(&cv.dest, "conversation.partyremoved", map[string]string{"number": ev.UserID})
		}
	case event.CallTransferred:
		if ev.FromUserID == uid {
			ia.reason = "transferred"
		}
	case event.CallHeld:
		if cv != nil && cv.state == Talking {
			cv.state = Held
			c.emitLocked(&cv.dest, "conversation.held", nil)
		}
	case event.CallRetrieved:
		if cv != nil && cv.state == Held {
			cv.state = Talking
			c.emitLocked(&cv.dest, "conversation.talking", nil)
		}
	case event.CallMuted:
		if cv != nil && ev.UserID == uid && !cv.muted && (cv.state == Talking || cv.state == Held) {
			cv.muted = true
			c.emitLocked(&cv.dest, "conversation.mute", nil)
		}
	case event.CallUnmuted:
		if cv != nil && ev.UserID == uid && cv.muted {
			cv.muted = false
			if cv.state == Talking {
				c.emitLocked(&cv.dest, "conversation.talking", nil)
			}
		}
	case event.DTMFSent:
		if cv != nil && ev.UserID == uid {
			c.emitLocked(&cv.dest, "conversation.dtmfsent", map[string]string{"digits": ev.Digits})
		}
	case event.DataUpdated:
		if !maps.Equal(ia.data, ev.Variables) {
			ia.data = maps.Clone(ev.Variables)
			c.emitLocked(&ia.dest, "interaction.datachanged", map[string]any{"interaction-data": nonNil(ia.data)})
		}
	case event.CallFailed:
		c.callFailedLocked(ia, ev)
	case event.CallDisconnected:
		if ia.state == IDialing && !ia.failed && ia.pendingFail != "" {
			c.dialFailedLocked(ia, 0, ia.pendingFail)
		}
		reason := "hung up by " + ev.EndedBy
		if ev.EndedBy == "" {
			reason = "call ended"
		}
		if ia.reason != "" {
			reason = ia.reason
		}
		c.releaseLocked(ia, reason, "")
	}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (c *conn) callFailedLocked(ia *interaction, ev *coreEvent) {
	uid := c.actor.UserID
	reason := ev.Reason
	if reason == "" {
		reason = "failed (" + strconv.Itoa(ev.Code) + ")"
	}
	switch {
	case ia.state == Alerting && ev.UserID == uid:
		if ev.Code == 603 {
			c.releaseLocked(ia, "rejected", "interaction.rejected")
		} else {
			c.releaseLocked(ia, reason, "")
		}
	case ia.state == IDialing && (ev.UserID == uid || ev.UserID == ""):
		c.dialFailedLocked(ia, ev.Code, reason)
	case ia.state == IDialing:
		// the called agent missed or declined: the call may go on (a queue call rings the next
		// agent); it failed if it ends before it is answered
		ia.pendingFail = ev.UserID + ": " + reason
	case ia.state == Active && ev.UserID != uid && ev.UserID != "":
		if cv := ia.conv; cv != nil {
			c.emitLocked(&cv.dest, "conversation.conference.failed", map[string]string{"reason": fmt.Sprintf("%s: %s", ev.UserID, reason)})
		}
	}
}

func (c *conn) dialFailedLocked(ia *interaction, code int, reason string) {
	if cv := ia.conv; cv != nil && !ia.failed {
		if code == 486 {
			c.emitLocked(&cv.dest, "conversation.busy", nil)
		} else {
			c.emitLocked(&cv.dest, "conversation.failed", map[string]string{"reason": reason})
		}
	}
	ia.failed, ia.reason = true, reason
}

// connectedLocked moves an alerting or dialing interaction to active: its conversation talks and
// every party it knows is reported added (seed 002: partyadded when the call is first answered).
func (c *conn) connectedLocked(ia *interaction, iev string) {
	ia.state = Active
	c.emitLocked(&ia.dest, iev, nil)
	cv := ia.conv
	if cv == nil {
		return
	}
	cv.state = Talking
	c.emitLocked(&cv.dest, "conversation.talking", nil)
	for _, p := range cv.parties {
		c.emitLocked(&cv.dest, "conversation.partyadded", p)
	}
}

// releaseLocked ends this agent's part of a call: conversation.ended, then the interaction is
// RELEASED (iev, interaction.released by default) and waits for interaction.request.complete.
func (c *conn) releaseLocked(ia *interaction, reason, iev string) {
	if ia.state == IReleased {
		return
	}
	if cv := ia.conv; cv != nil && cv.state != Released {
		cv.state = Released
		c.emitLocked(&cv.dest, "conversation.ended", nil)
	}
	ia.state, ia.reason = IReleased, reason
	if iev == "" {
		iev = "interaction.released"
		c.emitLocked(&ia.dest, iev, map[string]string{"reason": reason})
	} else {
		c.emitLocked(&ia.dest, iev, nil)
	}
	c.released = append(c.released, ia.id)
	for len(c.released) > maxReleased {
		if old := c.inter[c.released[0]]; old != nil {
			c.removeInteractionLocked(old)
		} else {
			c.released = c.released[1:]
		}
	}
}

// newInteractionLocked creates the interaction of a call that reached this agent, in conversation
// state st, from a snapshot of the call (v) and/or the event that announced it (ev).
func (c *conn) newInteractionLocked(callID string, v *core.CallView, st string, ev *coreEvent) *interaction {
	if c.sess == nil {
		return nil
	}
	uid := c.actor.UserID
	id := callID
	for n := 2; c.inter[id] != nil; n++ {
		id = callID + "-" + strconv.Itoa(n)
	}
	ia := &interaction{id: id, callID: callID, state: interactionState(st), direction: "inbound", media: "audio"}
	ia.target = c.channel.target + "." + id
	var parties []party
	switch {
	case v != nil:
		ia.direction, ia.media, ia.queue, ia.data = v.Direction, firstMedia(v.Media), v.Queue, maps.Clone(v.Variables)
		switch {
		case v.Caller == uid:
			ia.remote = party{Number: v.Phone}
			ia.direction = "outbound"
		case v.Caller != "":
			ia.remote = party{Number: v.Caller, Name: c.b.Core.Agent(c.actor.Account, v.Caller).Name}
		default:
			ia.remote = party{Number: v.Phone, Name: v.DisplayName}
		}
		parties = append(parties, ia.remote)
		for _, a := range v.Agents {
			if a != uid && a != v.Caller {
				parties = append(parties, party{Number: a, Name: c.b.Core.Agent(c.actor.Account, a).Name})
			}
		}
	case ev != nil:
		ia.media, ia.queue, ia.data = ev.Media, ev.Queue, maps.Clone(ev.Variables)
		ia.remote = party{Number: ev.Phone, Name: ev.DisplayName}
		if st == Dialing {
			ia.direction = "outbound"
		}
		parties = append(parties, ia.remote)
	}
	if ia.media == "" {
		ia.media = "audio"
	}
	if ia.data == nil {
		ia.data = map[string]string{}
	}
	cv := &conversation{dest: dest{target: ia.target + "." + PrimaryID}, state: st, parties: parties}
	if v != nil && slices.Contains(v.Muted, uid) {
		cv.muted = true
	}
	ia.conv = cv
	cv.base = mustJSON(cv.body())
	ia.base = mustJSON(ia.body())
	if c.inter == nil {
		c.inter, c.byCall = map[string]*interaction{}, map[string]*interaction{}
	}
	c.inter[ia.id] = ia
	c.byCall[callID] = ia
	c.emitLocked(&cv.dest, "conversation.started", nil)
	switch st {
	case Ringing:
		c.emitLocked(&cv.dest, "conversation.ringing", nil)
	case Dialing:
		c.emitLocked(&cv.dest, "conversation.dialing", nil)
	}
	c.emitLocked(&c.channel.dest, "channel.interactionadded", map[string]string{"interaction": ia.target, "interaction-id": ia.id})
	if st == Released {
		c.released = append(c.released, ia.id)
	}
	return ia
}

// removeInteractionLocked forgets a completed (or evicted) interaction.
func (c *conn) removeInteractionLocked(ia *interaction) {
	delete(c.inter, ia.id)
	if c.byCall[ia.callID] == ia {
		delete(c.byCall, ia.callID)
	}
	c.released = slices.DeleteFunc(c.released, func(id string) bool { return id == ia.id })
	c.emitLocked(&c.channel.dest, "channel.interactionremoved", map[string]string{"interaction": ia.target, "interaction-id": ia.id})
}

func (c *conn) statusLocked(ev *coreEvent) {
	ch := c.channel
	next := channelOf(ev.Status, ev.Reason)
	if next != ch.cur {
		ch.cur = next
		ch.changes++
		c.emitLocked(&ch.dest, "channel.statechanged", next)
		if c.chat != nil { // chats are routed by the agent's one status
			c.emitLocked(&c.chat.dest, "channel.statechanged", next)
		}
	}
	if agent.Status(ev.Status) == agent.Offline {
		// The core ends every session of an agent it logs out, right after this event is
		// durable. Wait for it off the feed's goroutine; a late event of an earlier logout
		// finds the session alive and changes nothing.
		s := c.sess
		c.asyncLocked(func() { c.awaitEnd(s) })
	}
}

// awaitEnd ends the login when the core has ended session s (see statusLocked).
func (c *conn) awaitEnd(s *core.Session) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-s.Done():
		c.endSession(s, s.Why())
	case <-t.C:
	case <-c.ctx.Done():
	}
}

func (c *conn) settingsChangedLocked(ev *coreEvent) {
	if ev.Settings == nil || ev.Settings.Mode == c.mode {
		return
	}
	m, err := modes.ByName(ev.Settings.Mode)
	if err != nil {
		return
	}
	c.mode = m.Name()
	if chatAllowed(m) {
		c.setupChatLocked() // the chat channel appears (chat.go)
	}
	if c.controlInited {
		c.enqueueLocked(encodeEvent(c.b.controlTarget, "control.statechanged", c.controlBody(m, c.sess.ID)))
	}
}
