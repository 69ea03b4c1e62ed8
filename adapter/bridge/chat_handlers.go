package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Queries and requests on the chat channel group, channel and interactions (docs/bridge.md
// "Chat channel"). A message name that exists for telephony (interaction.request.accept ...)
// takes its chat handler (spec.chat) when its target is under <sid>.messaging; the chat-only
// requests (end, sendmessage, typing, delivered) are refused on telephony targets. Every body
// is validated by schemas/bridge/<name>.json before a handler runs (codec.go).

// chatOps names the mode operation of each chat request, for the refusal of a session without
// a chat channel.
var chatOps = map[string]modes.Op{
	"interaction.request.accept": modes.ChatAccept, "interaction.request.reject": modes.ChatAccept,
	"interaction.request.end": modes.ChatEnd, "interaction.request.complete": modes.ChatEnd,
	"interaction.request.sendmessage": modes.ChatSend, "interaction.request.typing": modes.ChatSend,
	"interaction.request.delivered": modes.ChatSend,
}

// addChatSpecs registers the chat handlers (from handlers.go's init, after specs exists).
func addChatSpecs(_, rq func(kind, func(*conn, *req)) *spec) {
	on := func(name string, h func(*conn, *req)) { specs[name].chat = h }
	on("channelgroup.query.init", (*conn).chatGroupInit)
	on("channel.query.init", (*conn).chatChannelInit)
	on("interaction.query.init", (*conn).chatInit)
	on("interaction.request.accept", (*conn).chatAccept)
	on("interaction.request.reject", (*conn).chatReject)
	on("interaction.request.complete", (*conn).chatComplete)
	for name, h := range map[string]func(*conn, *req){
		"interaction.request.end":         (*conn).chatEnd,
		"interaction.request.sendmessage": (*conn).chatSend,
		"interaction.request.typing":      (*conn).chatTyping,
		"interaction.request.delivered":   (*conn).chatDelivered,
	} {
		s := rq(kInteraction, (*conn).chatOnly)
		s.chat = h
		specs[name] = s
	}
}

// resolveChatLocked resolves a target under <sid>.messaging (c.mu held).
func (c *conn) resolveChatLocked(r *req, parts []string) string {
	r.chat = true
	if c.chat == nil {
		return "" // dispatchChat refuses it, naming the mode
	}
	want := int(r.spec.kind)
	kindName := kindNames[r.spec.kind]
	switch {
	case want == int(kConversation) && len(parts) == want:
		return "unknown conversation target " + quote(r.Target) + ": a chat interaction has no conversations"
	case len(parts) != want || want >= 3 && parts[2] != ChatChannelID:
		return "unknown " + kindName + " target " + quote(r.Target)
	}
	if want == int(kInteraction) {
		if r.ci = c.chat.inter[parts[3]]; r.ci == nil {
			return "unknown interaction target " + quote(r.Target) + ": no such chat interaction (it completed, never existed, or is another agent's)"
		}
	}
	return ""
}

// dispatchChat runs the chat handler of a message whose target is under <sid>.messaging.
func (c *conn) dispatchChat(r *req) {
	c.mu.Lock()
	has := c.chat != nil
	acct := c.actor.Account
	c.mu.Unlock()
	if !has {
		c.reply(r.inbound, c.noChatText(r, acct), nil)
		return
	}
	if r.spec.chat == nil {
		c.reply(r.inbound, fmt.Sprintf("%s does not apply to the chat channel: %s", r.Name, chatDoes), nil)
		return
	}
	r.spec.chat(c, r)
}

const chatDoes = "chat targets take channelgroup.query.init, channel.query.init, interaction.query.init and " +
	"interaction.request.accept, .reject, .end, .complete, .sendmessage, .typing, .delivered; the agent's status is set on the telephony channel"

// noChatText is the refusal of a chat target in a session without a chat channel: a mode
// refusal when the account's mode gives no chat controls.
func (c *conn) noChatText(r *req, acct string) string {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	m, err := c.b.Core.Mode(ctx, acct)
	switch {
	case err != nil:
		return errorText(r.Name, err)
	case chatAllowed(m):
		return "unknown " + kindNames[r.spec.kind] + " target " + quote(r.Target) + ": this session has no chat channel"
	}
	if op, ok := chatOps[r.Name]; ok {
		return errorText(r.Name, &modes.ForbiddenError{Op: op, Mode: m.Name()})
	}
	return fmt.Sprintf("unknown %s target %s: there is no chat channel in %s mode (chats need the chat controls of full mode)",
		kindNames[r.spec.kind], quote(r.Target), m.Name())
}

// chatOnly refuses a chat request sent to a telephony target.
func (c *conn) chatOnly(r *req) {
	c.reply(r.inbound, fmt.Sprintf("%s applies to chat interactions only (%s.%s.%s.<chatId>)", r.Name,
		strings.SplitN(r.Target, ".", 2)[0], ChatGroupID, ChatChannelID), nil)
}

func (c *conn) chatGroupInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chat == nil {
		c.enqueueLocked(encodeResponse(r.Header, r.Name+" failed: the session ended", nil))
		return
	}
	c.answerInitLocked(r, &c.chat.group, c.chatGroupBodyLocked())
}

// chatChannelInit answers the agent's current status, like channelInit: chats are routed by
// the agent's one status.
func (c *conn) chatChannelInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chat == nil || c.channel == nil {
		c.enqueueLocked(encodeResponse(r.Header, r.Name+" failed: the session ended", nil))
		return
	}
	d := &c.chat.dest
	if !d.inited {
		d.base = nil
		d.pending = dropEvents(d.pending, "channel.statechanged")
	}
	c.answerInitLocked(r, d, c.channel.cur)
}

func (c *conn) chatInit(r *req) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answerInitLocked(r, &r.ci.dest, r.ci.body())
}

// chatDone answers a chat command after its events were rendered (events before responses).
func (c *conn) chatDone(r *req, err error, body any) {
	c.sync()
	if err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.reply(r.inbound, "", body)
}

func (c *conn) chatAccept(r *req) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	_, err := c.b.Core.AcceptChat(ctx, c.actor, r.ci.chatID)
	c.chatDone(r, err, nil)
}

func (c *conn) chatReject(r *req) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	_, err := c.b.Core.RejectChat(ctx, c.actor, r.ci.chatID)
	c.chatDone(r, err, nil)
}

func (c *conn) chatEnd(r *req) {
	ctx, cancel := c.cmdCtx()
	defer cancel()
	_, err := c.b.Core.EndChat(ctx, core.ChatParty{Actor: c.actor}, r.ci.chatID)
	c.chatDone(r, err, nil)
}

// chatComplete ends the after-chat work of a released chat interaction: the core completes the
// chat if this agent's work on it is still open (chat_completed then completes the interaction),
// else the interaction is only forgotten. Either way interaction.completed and
// channel.interactionremoved come before the response.
func (c *conn) chatComplete(r *req) {
	c.mu.Lock()
	ci := r.ci
	state := ci.state
	c.mu.Unlock()
	if state != IReleased {
		c.reply(r.inbound, fmt.Sprintf("%s failed: the chat interaction is %s; end it first (interaction.request.end, or interaction.request.reject while alerting)", r.Name, state), nil)
		return
	}
	if v, err := c.b.Core.Chat(c.actor.Account, ci.chatID); err == nil && v.State == core.ChatWrapUp && v.UserID == c.actor.UserID {
		ctx, cancel := c.cmdCtx()
		defer cancel()
		// not found: the after-chat timer (or another desktop) completed it meanwhile
		if _, err := c.b.Core.CompleteChat(ctx, c.actor, ci.chatID); err != nil && !errors.Is(err, core.ErrNotFound) {
			c.chatDone(r, err, nil)
			return
		}
		c.sync()
	}
	c.mu.Lock()
	if c.chat != nil {
		c.completeChatLocked(ci)
	}
	c.enqueueLocked(encodeResponse(r.Header, "", nil))
	c.mu.Unlock()
}

type chatSendBody struct {
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"`
}

// chatSend posts the agent's message; the response names its msg_seq and ts, and the
// interaction.chatmessage of it is written before the response.
func (c *conn) chatSend(r *req) {
	var body chatSendBody
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	m, err := c.b.Core.SendChat(ctx, core.ChatParty{Actor: c.actor}, r.ci.chatID, body.Text, body.ClientMsgID)
	c.chatDone(r, err, map[string]any{"msg_seq": m.MsgSeq, "ts": m.TS})
}

func (c *conn) chatTyping(r *req) {
	var body struct {
		Typing bool `json:"typing"`
	}
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	c.chatDone(r, c.b.Core.ChatTyping(ctx, core.ChatParty{Actor: c.actor}, r.ci.chatID, body.Typing), nil)
}

func (c *conn) chatDelivered(r *req) {
	var body struct {
		MsgSeq int `json:"msg_seq"`
	}
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	c.chatDone(r, c.b.Core.ChatDelivered(ctx, core.ChatParty{Actor: c.actor}, r.ci.chatID, body.MsgSeq), nil)
}
