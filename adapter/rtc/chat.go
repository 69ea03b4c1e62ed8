// Chat over /rtc (docs/chat.md): a customer with a chat token starts a chat (chat_start) and
// both participants send messages (chat), typing indicators (chat_typing), delivery
// acknowledgements (chat_delivered) and the end (chat_end). Messages reach both sides as
// chat_message frames from the account's event stream (in msg_seq order, stored before they are
// sent); signals go straight from one connection to the other through the core's chat sinks.

package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// chatSubjectPrefix marks a customer token minted with kind chat (token.go).
const chatSubjectPrefix = "chat-"

// chatFrames are the chat frame types a client may send, each validated by rtc/<type>.
var chatFrames = map[string]bool{"chat_start": true, "chat": true, "chat_typing": true, "chat_delivered": true, "chat_end": true}

// chatConn is a connection's chat state.
type chatConn struct {
	session *core.ChatSession // a customer's chat, once started; guarded by conn.mu
	stop    func()            // an agent's sink registration (ChatListen)
}

// isChatToken reports whether the connection's customer token was minted for a chat.
func (c *conn) isChatToken() bool {
	return c.sess == nil && strings.HasPrefix(c.claims.Subject, chatSubjectPrefix)
}

// chatFrame handles one chat frame (type already known to be in chatFrames).
func (c *conn) chatFrame(typ string, data []byte) {
	var m struct {
		ChatID      string `json:"chat_id"`
		Text        string `json:"text"`
		ClientMsgID string `json:"client_msg_id"`
		Typing      bool   `json:"typing"`
		MsgSeq      int    `json:"msg_seq"`
		DisplayName string `json:"display_name"`
		Phone       string `json:"phone"`
		Queue       string `json:"queue"`
	}
	_ = json.Unmarshal(data, &m)
	if err := c.edge.Schemas.Validate("rtc/"+typ, data); err != nil {
		var se *schemas.Error
		if errors.As(err, &se) {
			c.failChat(m.ChatID, m.ClientMsgID, "invalid_message", se.Error(), se.Fields)
		} else {
			c.failChat(m.ChatID, m.ClientMsgID, "invalid_json", err.Error(), nil)
		}
		return
	}
	if typ == "chat_start" {
		c.chatStart(core.ChatCustomer{DisplayName: m.DisplayName, Phone: m.Phone, Queue: m.Queue})
		return
	}
	p, ok := c.chatParty(m.ChatID, m.ClientMsgID)
	if !ok {
		return
	}
	var err error
	switch typ {
	case "chat":
		_, err = c.edge.Core.SendChat(c.ctx, p, m.ChatID, m.Text, m.ClientMsgID)
	case "chat_typing":
		err = c.edge.Core.ChatTyping(c.ctx, p, m.ChatID, m.Typing)
	case "chat_delivered":
		err = c.edge.Core.ChatDelivered(c.ctx, p, m.ChatID, m.MsgSeq)
	case "chat_end":
		_, err = c.edge.Core.EndChat(c.ctx, p, m.ChatID)
	}
	if err != nil {
		code, msg := Code(err)
		c.failChat(m.ChatID, m.ClientMsgID, code, msg, nil)
	}
}

// chatParty is who this connection is in a chat: its agent, or the customer of its own chat.
func (c *conn) chatParty(chatID, clientMsgID string) (core.ChatParty, bool) {
	if c.sess != nil {
		return core.ChatParty{Actor: core.ActorFrom(c.claims, c.via)}, true
	}
	c.mu.Lock()
	s := c.chat.session
	c.mu.Unlock()
	if s == nil {
		c.failChat(chatID, clientMsgID, "out_of_order", "start the chat first (chat_start)", nil)
		return core.ChatParty{}, false
	}
	return core.ChatParty{Customer: s}, true
}

// failChat sends an error frame naming the chat and the message it refuses.
func (c *conn) failChat(chatID, clientMsgID, code, message string, details []schemas.FieldError) {
	f := map[string]any{"type": "error", "code": code, "message": message}
	if chatID != "" && len(chatID) <= 64 {
		f["chat_id"] = chatID
	}
	if clientMsgID != "" && len(clientMsgID) <= 64 {
		f["client_msg_id"] = clientMsgID
	}
	if len(details) > 0 {
		f["details"] = details
	}
	c.send(f)
}

// chatStart opens the customer's chat; one per connection and token.
func (c *conn) chatStart(who core.ChatCustomer) {
	switch {
	case c.sess != nil:
		c.failChat("", "", "forbidden", "agents accept chats (command chat_accept); customers start them", nil)
		return
	case !c.isChatToken():
		c.failChat("", "", "forbidden", "this customer token is for a call; ask POST /webcall/{account}/token for one with {\"kind\":\"chat\"}", nil)
		return
	}
	c.mu.Lock()
	started := c.chat.session != nil
	c.mu.Unlock()
	if started {
		c.failChat("", "", "out_of_order", "this connection already has a chat", nil)
		return
	}
	sub, err := c.edge.Hub.Subscribe(c.ctx, c.claims.Account, -1) // before the chat starts: no event missed
	if err != nil {
		c.failChat("", "", "internal", "event stream unavailable", nil)
		return
	}
	s, v, err := c.edge.Core.StartChat(c.ctx, c.claims.Account, who, func(f map[string]any) { c.send(f) })
	if err != nil {
		sub.Close()
		code, msg := Code(err)
		c.failChat("", "", code, msg, nil)
		return
	}
	c.mu.Lock()
	c.chat.session = s
	c.mu.Unlock()
	c.send(map[string]any{"type": "chat_state", "chat_id": s.ChatID, "state": core.ChatQueued, "queue": v.Queue})
	go c.customerChatEvents(sub, s.ChatID)
}

// customerChatEvents tells the customer its chat's messages and state; after chat_ended the
// connection closes with 4000.
func (c *conn) customerChatEvents(sub *hub.Subscription, chatID string) {
	defer sub.Close()
	for {
		ev, err := sub.Next(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("rtc: customer chat event stream lost", "chat_id", chatID, "err", err)
				c.close(CloseSlow, "lost the event stream: reconnect")
			}
			return
		}
		if !strings.HasPrefix(ev.Name, "chat_") {
			continue
		}
		var d struct {
			ChatID  string `json:"chat_id"`
			UserID  string `json:"user_id"`
			EndedBy string `json:"ended_by"`
			Reason  string `json:"reason"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.ChatID != chatID {
			continue
		}
		switch ev.Name {
		case event.ChatMessage:
			c.out.Send(chatMessageFrame(ev, false))
		case event.ChatAccepted:
			c.send(map[string]any{"type": "chat_state", "chat_id": chatID, "state": core.ChatActive, "user_id": d.UserID})
		case event.ChatEnded:
			c.send(map[string]any{"type": "chat_state", "chat_id": chatID, "state": "ended", "ended_by": d.EndedBy, "reason": d.Reason})
			c.close(CloseCallEnded, "chat ended")
			return
		}
	}
}

// chatMessageFrame is the chat_message frame of a chat_message event: the event's data with
// type first (PROTOCOLS §7); withSeq adds the event's seq (agents resume by it).
func chatMessageFrame(ev event.Event, withSeq bool) []byte {
	b := make([]byte, 0, 48+len(ev.Data))
	b = append(b, `{"type":"chat_message",`...)
	if withSeq {
		b = fmt.Appendf(b, `"seq":%d,`, ev.Seq)
	}
	return append(b, ev.Data[1:]...) // the data object without its opening brace
}

// chatListen registers an agent connection for its chats' signals.
func (c *conn) chatListen() {
	stop := c.edge.Core.ChatListen(c.sess, func(f map[string]any) { c.send(f) })
	c.mu.Lock()
	c.chat.stop = stop
	c.mu.Unlock()
}

// chatTeardown ends the customer's chat (its connection went) or the agent's registration.
func (c *conn) chatTeardown() {
	c.mu.Lock()
	s, stop := c.chat.session, c.chat.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if s != nil {
		c.edge.Core.CustomerLeftChat(context.Background(), s)
	}
}

// chatCommand runs an agent's chat command (rtc/command chat_accept, chat_reject, chat_end,
// chat_complete).
func (c *conn) chatCommand(name, chatID string) (any, error) {
	if chatID == "" {
		return nil, fmt.Errorf("%w: %s needs chat_id", core.ErrInvalid, name)
	}
	a := core.ActorFrom(c.claims, c.via)
	switch name {
	case "chat_accept":
		return c.edge.Core.AcceptChat(c.ctx, a, chatID)
	case "chat_reject":
		return c.edge.Core.RejectChat(c.ctx, a, chatID)
	case "chat_end":
		return c.edge.Core.EndChat(c.ctx, core.ChatParty{Actor: a}, chatID)
	default:
		return c.edge.Core.CompleteChat(c.ctx, a, chatID)
	}
}
