package bridge

import (
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/modes"
)

// The chat channel (issue 12 item 5, docs/bridge.md "Chat channel"): in a mode that gives chat
// controls (full), a session has a second channel group <sid>.messaging with one channel
// <sid>.messaging.chat of type chat. Each chat offered to the agent is an interaction of that
// channel, <sid>.messaging.chat.<chatId>, with the telephony interaction's states and events
// (ALERTING on the offer, ACTIVE once accepted, RELEASED when it ended, completed when the
// agent's after-chat work ends) and one interaction.chatmessage per message. Requests on it map
// onto the core chat API (chat_handlers.go); events are rendered from the account's chat events
// (chat_events.go). The channel is decided at login, and added when the mode changes to one
// that gives chat controls; it stays for the login once it exists (the core refuses the
// requests that the new mode does not allow).

// Ids of the chat channel group and its channel.
const (
	ChatGroupID   = "messaging"
	ChatChannelID = "chat"
	// ChatType is the type of the chat channel and its interactions.
	ChatType = "chat"
)

// chatHistory is how many messages a chat interaction keeps for its init answer (the core's
// views keep as many; the store has them all).
const chatHistory = 50

// chatChannel is the session's chat channel and its interactions.
type chatChannel struct {
	dest
	group    dest                        // the channel group <sid>.messaging (no events)
	inter    map[string]*chatInteraction // by interaction id
	byChat   map[string]*chatInteraction // the newest interaction of each chat
	released []string                    // released interaction ids, oldest first
	stop     func()                      // ends the core signal sink (typing, delivery)
}

// chatInteraction is one chat offered to or held by this agent.
type chatInteraction struct {
	dest
	id, chatID            string
	state                 string // ALERTING, ACTIVE, RELEASED
	display, phone, queue string
	reason                string
	msgs                  []event.ChatMessageData // the last chatHistory to 2*chatHistory messages (history)
	lastSeq               int                     // the highest msg_seq rendered
	share                 string                  // the call id of the customer's screen share, if one is on
}

// chatInteractionBody is interaction.query.init of a chat: the telephony interaction's shape
// (conversations always empty: a chat has none), chat-id instead of call-id, and the messages.
type chatInteractionBody struct {
	State         string                  `json:"interaction-state"`
	Data          map[string]string       `json:"interaction-data"`
	ID            string                  `json:"interaction-id"`
	ChatID        string                  `json:"chat-id"`
	Type          string                  `json:"interaction-type"`
	Direction     string                  `json:"direction"`
	Media         string                  `json:"media"`
	Queue         string                  `json:"queue"`
	RemoteNumber  string                  `json:"remote-number"`
	RemoteName    string                  `json:"remote-name"`
	Reason        string                  `json:"reason,omitempty"`
	Conversations []string                `json:"conversations"`
	Messages      []event.ChatMessageData `json:"messages"`
}

func (ci *chatInteraction) body() chatInteractionBody {
	data := map[string]string{"chat_id": ci.chatID, "display_name": ci.display, "queue": ci.queue}
	if ci.phone != "" {
		data["phone"] = ci.phone
	}
	return chatInteractionBody{State: ci.state, Data: data, ID: ci.id, ChatID: ci.chatID, Type: ChatType,
		Direction: "inbound", Media: ChatType, Queue: ci.queue, RemoteNumber: ci.phone, RemoteName: ci.display,
		Reason: ci.reason, Conversations: []string{}, Messages: append([]event.ChatMessageData{}, ci.history()...)}
}

// addMessage keeps m unless it was rendered already (msg_seq at most lastSeq); false if so.
func (ci *chatInteraction) addMessage(m event.ChatMessageData) bool {
	if m.MsgSeq <= ci.lastSeq {
		return false
	}
	ci.lastSeq = m.MsgSeq
	if len(ci.msgs) == 2*chatHistory { // trimmed in halves: no copy per message
		ci.msgs = ci.msgs[:copy(ci.msgs, ci.msgs[chatHistory:])]
	}
	ci.msgs = append(ci.msgs, m)
	return true
}

// history is the last chatHistory messages.
func (ci *chatInteraction) history() []event.ChatMessageData {
	return ci.msgs[max(0, len(ci.msgs)-chatHistory):]
}

// chatAllowed reports whether mode m gives a desktop chat controls.
func chatAllowed(m modes.Mode) bool { return m.Allows(modes.ChatAccept) }

// setupChatLocked adds the chat channel to the session, with an interaction for every chat the
// agent is offered or holds now, and registers for the chats' typing and delivery signals.
func (c *conn) setupChatLocked() {
	if c.chat != nil || c.sess == nil {
		return
	}
	gt := c.sess.ID + "." + ChatGroupID
	ch := &chatChannel{dest: dest{target: gt + "." + ChatChannelID}, group: dest{target: gt}}
	ch.base = mustJSON(c.channel.cur)
	c.chat = ch
	for _, v := range c.b.Core.Chats(c.actor.Account, c.actor.UserID) {
		st := Alerting
		switch v.State {
		case core.ChatActive:
			st = Active
		case core.ChatWrapUp:
			st = IReleased
		}
		ci := c.newChatLocked(v.ChatID, v.DisplayName, v.Phone, v.Queue, st, v.Messages)
		if st == IReleased {
			ci.reason = "ended"
			ci.base = mustJSON(ci.body())
		}
	}
	s := c.sess
	ch.stop = c.b.Core.ChatListen(s, func(f map[string]any) { c.chatSignal(s, f) })
}

// dropChatLocked forgets the chat channel (the login ended) and returns what ends its signal
// sink, to be called without c.mu.
func (c *conn) dropChatLocked() func() {
	ch := c.chat
	c.chat = nil
	if ch == nil || ch.stop == nil {
		return func() {}
	}
	return ch.stop
}

// chatGroupBodyLocked is the chat channel group, as listed by session.query.init.
func (c *conn) chatGroupBodyLocked() groupBody {
	return groupBody{ID: ChatGroupID, Channels: []channelDesc{{ID: ChatChannelID, EndPoint: c.actor.UserID, Type: ChatType}}}
}

// groupsLocked lists the session's channel groups: telephony, then chat when there is one.
func (c *conn) groupsLocked() []groupBody {
	gs := []groupBody{c.groupBodyLocked()}
	if c.chat != nil {
		gs = append(gs, c.chatGroupBodyLocked())
	}
	return gs
}
