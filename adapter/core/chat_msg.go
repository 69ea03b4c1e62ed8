package core

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/time/rate"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Limits of chat messages and signals (docs/chat.md "Bad input").
const (
	MaxChatText       = 4096 // bytes of UTF-8 per message (4 KiB)
	ChatMessageRate   = 5    // messages per second per participant of a chat, sustained
	ChatMessageBurst  = 10   // messages per participant in a burst
	ChatSignalRate    = 5    // typing and delivery signals per second per participant
	ChatSignalBurst   = 10   // signals per participant in a burst
	chatCustomerLimit = "customer"
)

// chatLimits are one participant's token buckets in one chat, on the core's clock.
type chatLimits struct{ msgs, signals *rate.Limiter }

func (ch *chatRT) limitsOf(key string) *chatLimits {
	l := ch.limits[key]
	if l == nil {
		l = &chatLimits{msgs: rate.NewLimiter(ChatMessageRate, ChatMessageBurst), signals: rate.NewLimiter(ChatSignalRate, ChatSignalBurst)}
		ch.limits[key] = l
	}
	return l
}

// partyKey is the rate-limit key and the message's from/user_id of a party.
func partyKey(p ChatParty) (key, from, userID string) {
	if p.Customer != nil {
		return chatCustomerLimit, chatByCustomer, ""
	}
	return p.Actor.UserID, chatByAgent, p.Actor.UserID
}

// checkChatText refuses text the schema lets through: over 4 KiB of UTF-8, or blank.
func checkChatText(text string) error {
	if len(text) > MaxChatText {
		return fmt.Errorf("%w: text is %d bytes; a chat message holds at most %d bytes (4 KiB)", ErrInvalid, len(text), MaxChatText)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%w: text is blank", ErrInvalid)
	}
	return nil
}

// SendChat adds a message of a participant to the chat: it is numbered (msg_seq), stored with
// its chat_message event, and delivered to both sides. The customer may write while the chat
// waits for an agent; an agent only to a chat it holds and that is active.
func (c *Core) SendChat(ctx context.Context, p ChatParty, chatID, text, clientMsgID string) (event.ChatMessageData, error) {
	if err := checkChatText(text); err != nil {
		return event.ChatMessageData{}, err
	}
	if p.Customer == nil {
		if err := c.chatOfActor(ctx, p.Actor, modes.ChatSend); err != nil {
			return event.ChatMessageData{}, err
		}
	}
	t := c.tenant(partyAccount(p))
	var m event.ChatMessageData
	err := t.exec(ctx, func(f *fx) error {
		ch, err := t.chatLocked(chatID)
		if err != nil {
			return err
		}
		if err := ch.member(p); err != nil {
			return err
		}
		if ch.state == ChatWrapUp || p.Customer == nil && ch.state != ChatActive {
			return fmt.Errorf("%w: chat %s is %s; no messages can be sent to it", ErrConflict, chatID, chatStateWord(ch.state))
		}
		key, from, uid := partyKey(p)
		if !ch.limitsOf(key).msgs.AllowN(t.core.now(), 1) {
			return fmt.Errorf("%w: more than %d messages per second in chat %s; slow down", ErrRateLimited, ChatMessageRate, chatID)
		}
		m = t.chatPostLocked(f, ch, from, uid, text, clientMsgID)
		return nil
	})
	return m, err
}

func chatStateWord(s string) string {
	if s == ChatWrapUp {
		return "ended"
	}
	return s
}

// chatSystemLocked posts a message of the system (joins, timeouts) to the chat.
func (t *tenant) chatSystemLocked(f *fx, ch *chatRT, text string) {
	t.chatPostLocked(f, ch, chatBySystem, "", text, "")
}

func (t *tenant) chatPostLocked(f *fx, ch *chatRT, from, userID, text, clientMsgID string) event.ChatMessageData {
	ch.msgs++
	m := event.ChatMessageData{ChatID: ch.id, From: from, UserID: userID, Text: text, ClientMsgID: clientMsgID,
		MsgSeq: ch.msgs, TS: t.core.now().UTC().Format(event.TimeFormat)}
	t.emit(f, event.ChatMessage, m)
	ch.keep(m)
	return m
}

// keep adds m to the history, trimmed in halves: it grows to twice what is kept, then the kept
// half is copied, so a message costs no copy of the history (views take recent()).
func (ch *chatRT) keep(m event.ChatMessageData) {
	ch.history = append(ch.history, m)
	if len(ch.history) >= 2*chatHistoryKept {
		ch.history = append(ch.history[:0:0], ch.recent()...)
	}
}

// recent is the last chatHistoryKept messages.
func (ch *chatRT) recent() []event.ChatMessageData {
	return ch.history[max(0, len(ch.history)-chatHistoryKept):]
}

// ChatTyping tells the other side that the party started or stopped typing.
func (c *Core) ChatTyping(ctx context.Context, p ChatParty, chatID string, typing bool) error {
	return c.chatSignal(ctx, p, chatID, func(from, uid string) map[string]any {
		s := map[string]any{"type": "chat_typing", "chat_id": chatID, "from": from, "typing": typing}
		if uid != "" {
			s["user_id"] = uid
		}
		return s
	})
}

// ChatDelivered tells the other side that every message up to msgSeq was shown to the party
// (the delivery acknowledgement). msgSeq may not name a message that does not exist yet.
func (c *Core) ChatDelivered(ctx context.Context, p ChatParty, chatID string, msgSeq int) error {
	return c.chatSignal(ctx, p, chatID, func(from, uid string) map[string]any {
		s := map[string]any{"type": "chat_delivered", "chat_id": chatID, "msg_seq": msgSeq, "by": from}
		if uid != "" {
			s["user_id"] = uid
		}
		return s
	}, msgSeq)
}

// chatSignal checks the party and its signal budget and hands the frame to the other side's
// sinks after unlocking. upTo, when given, must not exceed the chat's last msg_seq.
func (c *Core) chatSignal(ctx context.Context, p ChatParty, chatID string, frame func(from, uid string) map[string]any, upTo ...int) error {
	if p.Customer == nil {
		if err := c.chatOfActor(ctx, p.Actor, modes.ChatSend); err != nil {
			return err
		}
	}
	t := c.tenant(partyAccount(p))
	return t.exec(ctx, func(f *fx) error {
		ch, err := t.chatLocked(chatID)
		if err != nil {
			return err
		}
		if err := ch.member(p); err != nil {
			return err
		}
		if len(upTo) > 0 && upTo[0] > ch.msgs {
			return fmt.Errorf("%w: chat %s has %d messages; msg_seq %d does not exist", ErrInvalid, chatID, ch.msgs, upTo[0])
		}
		key, from, uid := partyKey(p)
		if !ch.limitsOf(key).signals.AllowN(t.core.now(), 1) {
			return fmt.Errorf("%w: more than %d typing or delivery signals per second in chat %s", ErrRateLimited, ChatSignalRate, chatID)
		}
		sinks := t.chatPeersLocked(ch, p)
		fr := frame(from, uid)
		f.after = append(f.after, func() {
			for _, s := range sinks {
				s(fr)
			}
		})
		return nil
	})
}

// chatPeersLocked are the sinks of the other side of the chat: the agent's connections for the
// customer, the customer's for the agent.
func (t *tenant) chatPeersLocked(ch *chatRT, p ChatParty) []ChatSink {
	if p.Customer == nil {
		if ch.customer.sink != nil {
			return []ChatSink{ch.customer.sink}
		}
		return nil
	}
	if ch.agent == nil {
		return nil
	}
	var out []ChatSink
	for _, s := range t.chatsLocked().sinks[ch.agent.id] {
		out = append(out, s)
	}
	return out
}

// ChatListen registers an agent connection's sink for the signals of the agent's chats; stop
// removes it (call it when the connection goes).
func (c *Core) ChatListen(s *Session, sink ChatSink) (stop func()) {
	t := c.tenant(s.Account)
	t.mu.Lock() // no event: a plain change under the tenant's lock
	b := t.chatsLocked()
	if b.sinks[s.UserID] == nil {
		b.sinks[s.UserID] = map[string]ChatSink{}
	}
	b.sinks[s.UserID][s.ID] = sink
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if m := t.chatsLocked().sinks[s.UserID]; m != nil {
			delete(m, s.ID)
		}
	}
}
