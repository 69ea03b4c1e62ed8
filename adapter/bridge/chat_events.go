package bridge

import (
	"slices"
	"strconv"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Rendering of the account's chat events on this agent's chat channel (docs/bridge.md "Chat
// channel"): chat_started naming the agent opens an ALERTING interaction, chat_accepted makes
// it ACTIVE, chat_message raises interaction.chatmessage, chat_offer_failed and chat_ended
// release it, chat_completed (the after-chat work ended) completes it. Typing and delivery
// signals come from the core's chat sink (chatSignal), not from the event log.

// isChatEvent reports whether ev is one the chat channel renders.
func isChatEvent(ev *coreEvent) bool {
	switch ev.Name {
	case event.ChatStarted, event.ChatOfferFailed, event.ChatAccepted, event.ChatMessage, event.ChatEnded, event.ChatCompleted:
		return true
	}
	return false
}

// chatEventLocked renders a chat event; it reports whether ev was one (rendered or not). The
// events of a chat's screen share call are also rendered on the chat (chatShareLocked) and
// left to the telephony rendering (false).
func (c *conn) chatEventLocked(ev *coreEvent) bool {
	ch := c.chat
	if ch != nil && ev.CallID != "" {
		c.chatShareLocked(ev)
	}
	if !isChatEvent(ev) {
		return false
	}
	if ch == nil {
		return true
	}
	uid := c.actor.UserID
	ci := ch.byChat[ev.ChatID]
	live := ci != nil && ci.state != IReleased
	switch ev.Name {
	case event.ChatStarted:
		if ev.UserID == uid && !live {
			c.chatOfferedLocked(ev)
		}
	case event.ChatOfferFailed:
		if live && ev.UserID == uid && ci.state == Alerting {
			if ev.Reason == "declined" {
				c.releaseChatLocked(ci, "rejected", "interaction.rejected")
			} else {
				c.releaseChatLocked(ci, offerFailedReason(ev.Reason), "")
			}
		}
	case event.ChatAccepted:
		switch {
		case live && ci.state == Alerting && ev.UserID == uid:
			ci.state = Active
			c.emitLocked(&ci.dest, "interaction.accepted", nil)
		case live && ci.state == Alerting:
			c.releaseChatLocked(ci, "accepted by "+ev.UserID, "")
		}
	case event.ChatMessage:
		m := event.ChatMessageData{ChatID: ev.ChatID, ClientMsgID: ev.ClientMsgID, From: ev.From, MsgSeq: ev.MsgSeq,
			Text: ev.Text, TS: ev.TS, UserID: ev.UserID}
		if live && ci.addMessage(m) {
			c.emitLocked(&ci.dest, "interaction.chatmessage", m)
		}
	case event.ChatEnded:
		if live {
			c.releaseChatLocked(ci, chatEndReason(ev), "")
		}
	case event.ChatCompleted:
		if ci != nil && ev.UserID == uid {
			c.releaseChatLocked(ci, "ended", "")
			c.completeChatLocked(ci)
		}
	}
	return true
}

// chatShareLocked renders the customer's screen share during a chat (docs/video.md) on the
// chat interaction: the share is a call of kind screen (a telephony interaction of its own,
// whose interaction-data names the chat), and the chat interaction raises
// interaction.screensharestarted {by, call-id, interaction} when it starts and
// interaction.screensharestopped {by, call-id} when it stops or its call ends.
func (c *conn) chatShareLocked(ev *coreEvent) {
	switch ev.Name {
	case event.ScreenShareStarted:
		ci := c.chat.byChat[ev.ChatID]
		if ev.ChatID == "" || ci == nil || ci.state == IReleased || ci.share == ev.CallID {
			return
		}
		ci.share = ev.CallID
		body := map[string]string{"by": ev.By, "call-id": ev.CallID}
		if ia := c.byCall[ev.CallID]; ia != nil {
			body["interaction"] = ia.target
		}
		c.emitLocked(&ci.dest, "interaction.screensharestarted", body)
	case event.ScreenShareStopped, event.CallDisconnected:
		by := ev.By
		if ev.Name == event.CallDisconnected {
			by = map[bool]string{true: "agent", false: "customer"}[ev.EndedBy == "agent"]
		}
		for _, ci := range c.chat.byChat {
			if ci.share == ev.CallID {
				ci.share = ""
				c.emitLocked(&ci.dest, "interaction.screensharestopped", map[string]string{"by": by, "call-id": ev.CallID})
			}
		}
	}
}

// offerFailedReason is the interaction.released reason of an offer that ended unaccepted.
func offerFailedReason(r string) string {
	switch r {
	case "no_answer":
		return "no answer"
	case "chat_ended":
		return "ended before it was accepted"
	case "agent_logged_out":
		return "logged out"
	}
	return "offer withdrawn (" + r + ")"
}

// chatEndReason is the interaction.released reason of chat_ended: "ended by customer", "ended
// by agent", "ended by system (queue_timeout)".
func chatEndReason(ev *coreEvent) string {
	by := ev.EndedBy
	if by == "" {
		by = "system"
	}
	if by == "system" && ev.Reason != "" {
		return "ended by system (" + ev.Reason + ")"
	}
	return "ended by " + by
}

// chatOfferedLocked opens the ALERTING interaction of a chat offered to this agent, with the
// messages the chat has so far (the customer may write while it waits).
func (c *conn) chatOfferedLocked(ev *coreEvent) {
	var msgs []event.ChatMessageData
	if v, err := c.b.Core.Chat(c.actor.Account, ev.ChatID); err == nil {
		msgs = v.Messages
	}
	c.newChatLocked(ev.ChatID, ev.DisplayName, ev.Phone, ev.Queue, Alerting, msgs)
}

// newChatLocked adds an interaction for chat chatID in state st to the chat channel.
func (c *conn) newChatLocked(chatID, display, phone, queue, st string, msgs []event.ChatMessageData) *chatInteraction {
	ch := c.chat
	if ch.inter == nil {
		ch.inter, ch.byChat = map[string]*chatInteraction{}, map[string]*chatInteraction{}
	}
	id := chatID
	for n := 2; ch.inter[id] != nil; n++ {
		id = chatID + "-" + strconv.Itoa(n)
	}
	ci := &chatInteraction{dest: dest{target: ch.target + "." + id}, id: id, chatID: chatID, state: st,
		display: display, phone: phone, queue: queue}
	for _, m := range msgs {
		ci.addMessage(m)
	}
	ci.base = mustJSON(ci.body())
	ch.inter[id], ch.byChat[chatID] = ci, ci
	c.emitLocked(&ch.dest, "channel.interactionadded", map[string]string{"interaction": ci.target, "interaction-id": id})
	if st == IReleased {
		ch.released = append(ch.released, id)
	}
	return ci
}

// releaseChatLocked ends the chat for this agent: RELEASED, raising iev (interaction.released
// {reason} by default). The oldest released interactions beyond maxReleased are forgotten.
func (c *conn) releaseChatLocked(ci *chatInteraction, reason, iev string) {
	if ci.state == IReleased {
		return
	}
	ci.state, ci.reason = IReleased, reason
	if iev == "" {
		c.emitLocked(&ci.dest, "interaction.released", map[string]string{"reason": reason})
	} else {
		c.emitLocked(&ci.dest, iev, nil)
	}
	ch := c.chat
	ch.released = append(ch.released, ci.id)
	for len(ch.released) > maxReleased {
		if old := ch.inter[ch.released[0]]; old != nil {
			c.removeChatLocked(old)
		} else {
			ch.released = ch.released[1:]
		}
	}
}

// completeChatLocked raises interaction.completed and forgets the interaction.
func (c *conn) completeChatLocked(ci *chatInteraction) {
	if c.chat.inter[ci.id] != ci {
		return
	}
	c.emitLocked(&ci.dest, "interaction.completed", nil)
	c.removeChatLocked(ci)
}

func (c *conn) removeChatLocked(ci *chatInteraction) {
	ch := c.chat
	delete(ch.inter, ci.id)
	if ch.byChat[ci.chatID] == ci {
		delete(ch.byChat, ci.chatID)
	}
	ch.released = slices.DeleteFunc(ch.released, func(id string) bool { return id == ci.id })
	c.emitLocked(&ch.dest, "channel.interactionremoved", map[string]string{"interaction": ci.target, "interaction-id": ci.id})
}

// chatSignal renders a typing or delivery signal of the customer (the core's chat sink of
// session s, called after the core released its lock): interaction.chattyping {from, typing}
// or interaction.chatdelivered {by, msg_seq} on the chat's interaction.
func (c *conn) chatSignal(s *core.Session, f map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != s || c.chat == nil || c.closed {
		return
	}
	id, _ := f["chat_id"].(string)
	ci := c.chat.byChat[id]
	if ci == nil || ci.state == IReleased {
		return
	}
	switch f["type"] {
	case "chat_typing":
		c.emitLocked(&ci.dest, "interaction.chattyping", map[string]any{"from": f["from"], "typing": f["typing"]})
	case "chat_delivered":
		c.emitLocked(&ci.dest, "interaction.chatdelivered", map[string]any{"by": f["by"], "msg_seq": f["msg_seq"]})
	}
}
