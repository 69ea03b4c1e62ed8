package core

import (
	"context"
	"fmt"
	"maps"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/media"
)

// Screen sharing from a chat (issue 12 item 4, seed 001, docs/video.md). During an active chat
// the customer may share its screen: the /rtc edge negotiates a leg on the chat's connection and
// hands it to StartChatScreenShare, which makes it a call of kind screen between the customer and
// the chat's agent, connected at once (no IVR, no queue, no ringing: the agent is already talking
// to this customer). Seed 001's defaults are media_state.go's for a screen call: the customer's
// screen on and its camera off, the agent's video off until the agent turns it on (ChangeMedia).
// The share carries no voice: the agent's microphone is not relayed (the chat is the
// conversation). The agent is notified by call_connected, screen_share_started {call_id, chat_id,
// by: customer} and media_changed. The share ends when the customer stops it (hangup), its leg
// or connection goes, the agent hangs it up, or the chat ends (the chat's connection closes).
// An agent shares one thing at a time: a share is refused while the agent is on a call.

// chatShareVar names, in a share's variables, the chat it was started from.
const chatShareVar = "chat_id"

// StartChatScreenShare starts the screen share of chat session s on leg (see above).
func (c *Core) StartChatScreenShare(ctx context.Context, s *ChatSession, leg media.Leg) (*WebCall, error) {
	if err := c.videoAllowed(ctx, s.Account, []string{MediaScreen}); err != nil {
		return nil, err
	}
	t := c.tenant(s.Account)
	var cl *callRT
	err := t.exec(ctx, func(f *fx) error {
		ch, err := t.chatLocked(s.ChatID)
		if err != nil {
			return err
		}
		a, err := t.shareAgentLocked(ch, s)
		if err != nil {
			return err
		}
		cl = t.newShareLocked(ch, a, leg)
		st := cl.mediaLocked()
		t.emit(f, event.CallConnected, event.CallConnectedData{CallID: cl.id, Phone: cl.phone, UserID: a.id})
		t.emit(f, event.ScreenShareStarted, event.ScreenShareData{CallID: cl.id, ChatID: ch.id, By: "customer"})
		t.emit(f, event.MediaChanged, event.MediaChangedData{CallID: cl.id, UserID: a.id, Media: st.kind(),
			Customer: st.customer.wire(), Agent: st.agent.wire()})
		t.wireLocked(cl)
		t.saveLocked(f, cl)
		return nil
	})
	if err != nil {
		return nil, err
	}
	acct, id := s.Account, cl.id
	leg.OnState(func(st media.State) { c.customerState(acct, id, st) }) // a lost leg ends the share
	if st := leg.State(); st == media.StateFailed || st == media.StateClosed {
		c.customerState(acct, id, st)
	}
	return &WebCall{ID: id, done: cl.done}, nil
}

// shareAgentLocked is the agent a share of chat ch goes to, or why there is none.
func (t *tenant) shareAgentLocked(ch *chatRT, s *ChatSession) (*agentRT, error) {
	switch {
	case ch.customer != s:
		return nil, fmt.Errorf("%w: a customer shares its screen on its own chat only", ErrForbidden)
	case ch.state != ChatActive || ch.agent == nil:
		return nil, fmt.Errorf("%w: chat %s has no agent yet: share the screen once an agent accepted the chat", ErrConflict, ch.id)
	}
	for _, x := range t.calls {
		if x.vars[chatShareVar] == ch.id {
			return nil, fmt.Errorf("%w: chat %s already shares a screen (call %s)", ErrConflict, ch.id, x.id)
		}
	}
	a := ch.agent
	if a.leg() == nil {
		return nil, fmt.Errorf("%w: agent %s has no phone to show the screen on", ErrNoPhone, a.id)
	}
	if len(a.calls) > 0 || a.ringing != nil {
		return nil, fmt.Errorf("%w: agent %s is on a call: share the screen when it is free", ErrConflict, a.id)
	}
	return a, nil
}

// newShareLocked creates the share's call, connected between leg and agent a.
func (t *tenant) newShareLocked(ch *chatRT, a *agentRT, leg media.Leg) *callRT {
	phone := ch.phone
	if phone == "" {
		phone = "anonymous"
	}
	cl := t.newCallLocked("inbound", "webrtc", phone, ch.display, []string{MediaScreen}, map[string]string{chatShareVar: ch.id})
	now := t.core.now()
	cl.customer, cl.queue = leg, ch.queue
	cl.state, cl.answered, cl.rec.AnsweredAt = call.Connected, now, &now
	cl.agents = []*agentRT{a}
	a.calls[cl.id] = cl
	cl.muted[a.id] = true // no voice on a share: the chat is the conversation
	cl.rec.Queue, cl.rec.UserID, cl.rec.Variables = ch.queue, a.id, maps.Clone(cl.vars)
	cl.rec.addLeg("customer", "", leg.ID(), true, now)
	cl.rec.addParty("", phone, "caller", now)
	cl.rec.addLeg("agent", a.id, "", true, now)
	cl.rec.addParty(a.id, "", "agent", now)
	return cl
}
