package rtc

import (
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// chatsOfAgent registers the agent connection for its chats' signals and returns the chats it
// holds now (the chat events agentEvents forwards).
func (c *conn) chatsOfAgent() map[string]bool {
	c.chatListen()
	mine := map[string]bool{}
	for _, ch := range c.edge.Core.Chats(c.claims.Account, c.sess.UserID) {
		mine[ch.ChatID] = true
	}
	return mine
}

// agentChatEvent forwards a chat event to the agent if the chat is its own (offered to it or
// held by it): chat_message as the chat_message frame of PROTOCOLS §7 (with seq), the others as
// event frames. It returns false once the connection is closing.
func (c *conn) agentChatEvent(ev event.Event, mine map[string]bool, me bool, chatID string, replaying bool) bool {
	switch {
	case ev.Name == event.ChatStarted && me:
		mine[chatID] = true
	case !mine[chatID]:
		return true
	}
	var frame []byte
	if ev.Name == event.ChatMessage {
		frame = chatMessageFrame(ev, true)
	} else {
		frame = append([]byte(`{"type":"event","event":`), ev.Wire()...)
		frame = append(frame, '}')
	}
	if ev.Name == event.ChatCompleted || ev.Name == event.ChatOfferFailed && me {
		delete(mine, chatID)
	}
	if replaying {
		return c.out.SendPaced(c.ctx, frame)
	}
	return c.out.Send(frame)
}
