package core

// Chats (issue 12 item 3, PROTOCOLS §7, docs/chat.md): a customer's text conversation with an
// agent. A chat is queued and routed like a call (the queues of the account, the pure pickAgent
// of queue.go), offered to one agent at a time, accepted, and ended from either side, followed by
// the agent's after-chat work (wrap_up_seconds). Chats never change an agent's status: an agent
// holds a call and up to max_chats_per_agent chats (offered, active or in after-chat work) at once.
//
// Every change is a critical section of the tenant's one executor (tenant.exec) and an event of
// the account's log (event/chat.go); the store keeps the chats and chat_messages tables as a
// projection of those events in the same transaction (store/chats.go), so a message is stored
// exactly when its chat_message event is. Typing indicators and delivery acknowledgements are
// signals, not events: they go from one participant to the other through sinks (chat_msg.go),
// after the lock is released, and are never stored.
//
// The chat's customer /rtc session is chatRT.customer: the *ChatSession StartChat returns to the
// one /rtc connection that started the chat (rtc/chat.go). It names the chat (ChatSession.ChatID),
// carries the customer's signal sink and is Done when the chat ends (the connection then closes).
// An edge that adds media to a chat (customer screen sharing during a chat, issue 12 item 4) keeps
// the *ChatSession it was given, finds the chat's agent with Core.Chat(acct, id).UserID, and hangs
// whatever run-time state it needs on chatRT next to customer (new fields, its own file).
//
// Files: chat.go (types, start, accept, reject, end, after-chat work), chat_route.go (queue,
// routing, offers, logout), chat_msg.go (messages, signals, rate limits, sinks).

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/clock"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/ids"
	"github.com/cti-adapter/cti-adapter/modes"
)

// Chat states (ChatView.State).
const (
	ChatQueued  = "queued"  // waiting for an agent (also between offers)
	ChatOffered = "offered" // offered to one agent, waiting for its accept
	ChatActive  = "active"  // accepted: messages flow both ways
	ChatWrapUp  = "wrap_up" // ended; its agent's after-chat work holds the slot
)

// Who ended a chat (chat_ended.ended_by) and why (reason).
const (
	chatByCustomer      = "customer"
	chatByAgent         = "agent"
	chatBySystem        = "system"
	chatCustomerLeft    = "customer_left"
	chatAgentEnded      = "agent_ended"
	chatQueueTimeout    = "queue_timeout"
	chatAgentLogout     = "agent_logout"
	chatShutdown        = "shutdown"
	chatHistoryKept     = 50 // messages a chat keeps in memory for views (the store has them all)
	defaultChatCustomer = "web visitor"
)

// ChatCustomer is what a customer tells about itself when it starts a chat.
type ChatCustomer struct {
	DisplayName string
	Phone       string
	Queue       string // one of the account's queues; "" = the IVR's default queue
}

// ChatSink receives a participant's signals (typing, delivery acknowledgements) as frames for
// its connection. It is called after the tenant's lock is released and must not block.
type ChatSink func(frame map[string]any)

// ChatSession is the chat's customer /rtc session (see the file comment).
type ChatSession struct {
	ChatID  string
	Account string

	sink ChatSink
	done chan struct{}
	once sync.Once
}

// Done is closed when the chat ends; the customer's connection then closes.
func (s *ChatSession) Done() <-chan struct{} { return s.done }

func (s *ChatSession) end() { s.once.Do(func() { close(s.done) }) }

// ChatParty is who acts on a chat: its customer (Customer set) or an agent (Actor).
type ChatParty struct {
	Actor    Actor
	Customer *ChatSession
}

// chatRT is a chat's run-time state; guarded by the tenant's mutex.
type chatRT struct {
	id, display, phone, queue string
	state                     string
	created, queuedAt         time.Time
	agent, offered            *agentRT
	tried                     map[string]bool
	msgs                      int                     // messages so far (the last msg_seq)
	history                   []event.ChatMessageData // the last messages, at least chatHistoryKept (recent)
	customer                  *ChatSession
	limits                    map[string]*chatLimits // per participant ("customer" or user id)
	timer                     clock.Timer            // the one pending timeout (queue, offer, wrap-up)
	gen                       int
}

// chatBook is a tenant's chats; guarded by the tenant's mutex.
type chatBook struct {
	byID   map[string]*chatRT
	queued []*chatRT                      // oldest first
	held   map[string]map[string]*chatRT  // agent -> its chats (offered, active, wrap-up)
	sinks  map[string]map[string]ChatSink // agent -> session id -> signal sink
	lastAt map[string]time.Time           // agent -> when it last got or finished a chat
}

func (t *tenant) chatsLocked() *chatBook {
	if t.chat == nil {
		t.chat = &chatBook{byID: map[string]*chatRT{}, held: map[string]map[string]*chatRT{},
			sinks: map[string]map[string]ChatSink{}, lastAt: map[string]time.Time{}}
	}
	return t.chat
}

// ChatView is a snapshot of a chat for clients.
type ChatView struct {
	ChatID      string                  `json:"chat_id"`
	State       string                  `json:"state"`
	DisplayName string                  `json:"display_name"`
	Phone       string                  `json:"phone,omitempty"`
	Queue       string                  `json:"queue"`
	UserID      string                  `json:"user_id,omitempty"`
	Offered     string                  `json:"offered,omitempty"`
	CreatedAt   string                  `json:"created_at"`
	Messages    []event.ChatMessageData `json:"messages"`
}

func (ch *chatRT) view() ChatView {
	v := ChatView{ChatID: ch.id, State: ch.state, DisplayName: ch.display, Phone: ch.phone, Queue: ch.queue,
		CreatedAt: ch.created.UTC().Format(event.TimeFormat), Messages: append([]event.ChatMessageData{}, ch.recent()...)}
	if ch.agent != nil {
		v.UserID = ch.agent.id
	}
	if ch.offered != nil {
		v.Offered = ch.offered.id
	}
	return v
}

func (ch *chatRT) stopTimer() {
	ch.gen++
	if ch.timer != nil {
		ch.timer.Stop()
		ch.timer = nil
	}
}

// chatAfterLocked runs fn under the lock after d unless the chat changed state meanwhile.
func (t *tenant) chatAfterLocked(ch *chatRT, d time.Duration, fn func(f *fx)) {
	ch.stopTimer()
	gen := ch.gen
	ch.timer = t.afterFunc(d, func(f *fx) {
		if ch.gen == gen {
			ch.timer = nil
			fn(f)
		}
	})
}

// StartChat opens a customer's chat and queues it. sink receives the agent's typing and
// delivery signals; the returned session is the chat's customer /rtc session.
func (c *Core) StartChat(ctx context.Context, acct string, who ChatCustomer, sink ChatSink) (*ChatSession, ChatView, error) {
	who.DisplayName = strings.TrimSpace(who.DisplayName)
	if who.DisplayName == "" {
		who.DisplayName = defaultChatCustomer
	}
	s, err := c.accounts.Settings(ctx, acct)
	if err != nil {
		return nil, ChatView{}, err
	}
	queue := s.IVR.DefaultQueue
	if who.Queue != "" {
		if !containsString(s.Queues, who.Queue) {
			return nil, ChatView{}, fmt.Errorf("%w: queue %q is not one of the account's queues", ErrNotFound, who.Queue)
		}
		queue = who.Queue
	}
	t := c.tenant(acct)
	now := c.now()
	ch := &chatRT{id: ids.New("h"), display: who.DisplayName, phone: who.Phone, queue: queue, created: now,
		tried: map[string]bool{}, limits: map[string]*chatLimits{}}
	ch.customer = &ChatSession{ChatID: ch.id, Account: acct, sink: sink, done: make(chan struct{})}
	var v ChatView
	err = t.exec(ctx, func(f *fx) error {
		t.chatsLocked().byID[ch.id] = ch
		t.emit(f, event.ChatStarted, event.ChatStartedData{ChatID: ch.id, DisplayName: ch.display, Phone: ch.phone,
			Queue: ch.queue, CreatedAt: now.UTC().Format(event.TimeFormat)})
		t.chatEnqueueLocked(ctx, f, ch, false)
		v = ch.view()
		return nil
	})
	return ch.customer, v, err
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// chatOfActor finds a chat an agent acts on, after the mode check; only agents act on chats.
func (c *Core) chatOfActor(ctx context.Context, a Actor, op modes.Op) error {
	if err := c.checkMode(ctx, a, op); err != nil {
		return err
	}
	if a.Role != auth.RoleAgent || a.UserID == "" {
		return fmt.Errorf("%w: only an agent takes part in chats", ErrForbidden)
	}
	return nil
}

// chatLocked returns the chat id of the account, or not_found.
func (t *tenant) chatLocked(id string) (*chatRT, error) {
	if ch := t.chatsLocked().byID[id]; ch != nil {
		return ch, nil
	}
	return nil, fmt.Errorf("%w: chat %s", ErrNotFound, id)
}

// AcceptChat takes a chat offered to the actor's agent: it becomes active, the customer is told
// (a system message and chat_accepted).
func (c *Core) AcceptChat(ctx context.Context, a Actor, chatID string) (ChatView, error) {
	return c.chatCommand(ctx, ChatParty{Actor: a}, modes.ChatAccept, chatID, func(f *fx, t *tenant, ch *chatRT) error {
		if ch.state == ChatActive && ch.agent != nil && ch.agent.id == a.UserID {
			return nil // accepted already: success without action
		}
		if ch.state != ChatOffered || ch.offered == nil || ch.offered.id != a.UserID {
			return fmt.Errorf("%w: chat %s is not offered to %s (it is %s)", ErrConflict, chatID, a.UserID, ch.state)
		}
		ag := ch.offered
		ch.stopTimer()
		ch.offered, ch.agent, ch.state = nil, ag, ChatActive
		t.emit(f, event.ChatAccepted, event.ChatAcceptedData{ChatID: ch.id, UserID: ag.id, DisplayName: ch.display})
		name := ag.name
		if name == "" {
			name = ag.id
		}
		t.chatSystemLocked(f, ch, name+" joined the chat")
		t.routeChatsLocked(ctx, f) // the agent may take the next waiting chat's offer now
		return nil
	})
}

// RejectChat declines a chat offered to the actor's agent: it goes back to the front of its
// queue and is not offered to that agent again (until the agent says ready again).
func (c *Core) RejectChat(ctx context.Context, a Actor, chatID string) (ChatView, error) {
	return c.chatCommand(ctx, ChatParty{Actor: a}, modes.ChatAccept, chatID, func(f *fx, t *tenant, ch *chatRT) error {
		if ch.state != ChatOffered || ch.offered == nil || ch.offered.id != a.UserID {
			return fmt.Errorf("%w: chat %s is not offered to %s", ErrConflict, chatID, a.UserID)
		}
		t.chatOfferFailedLocked(ctx, f, ch, "declined", true)
		return nil
	})
}

// EndChat ends a chat from either side. An agent ending a chat that is already in its
// after-chat work completes that work (CompleteChat).
func (c *Core) EndChat(ctx context.Context, p ChatParty, chatID string) (ChatView, error) {
	return c.chatCommand(ctx, p, modes.ChatEnd, chatID, func(f *fx, t *tenant, ch *chatRT) error {
		if err := ch.member(p); err != nil {
			return err
		}
		switch {
		case ch.state == ChatWrapUp && p.Customer == nil:
			t.chatCompleteLocked(f, ch)
		case ch.state == ChatWrapUp: // the customer's side ended already
		case p.Customer != nil:
			t.chatEndLocked(ctx, f, ch, chatByCustomer, chatCustomerLeft)
		default:
			t.chatEndLocked(ctx, f, ch, chatByAgent, chatAgentEnded)
		}
		return nil
	})
}

// partyAccount is the account a party acts in.
func partyAccount(p ChatParty) string {
	if p.Customer != nil {
		return p.Customer.Account
	}
	return p.Actor.Account
}

// chatCommand runs fn on chat chatID under the tenant's lock, after the party's mode check for
// op (a customer is not limited by the mode), and returns the chat's view after fn.
func (c *Core) chatCommand(ctx context.Context, p ChatParty, op modes.Op, chatID string, fn func(f *fx, t *tenant, ch *chatRT) error) (ChatView, error) {
	if p.Customer == nil {
		if err := c.chatOfActor(ctx, p.Actor, op); err != nil {
			return ChatView{}, err
		}
	}
	t := c.tenant(partyAccount(p))
	var v ChatView
	err := t.exec(ctx, func(f *fx) error {
		ch, err := t.chatLocked(chatID)
		if err != nil {
			return err
		}
		if err := fn(f, t, ch); err != nil {
			return err
		}
		v = ch.view()
		return nil
	})
	return v, err
}

// CompleteChat ends the actor's after-chat work of an ended chat at once.
func (c *Core) CompleteChat(ctx context.Context, a Actor, chatID string) (ChatView, error) {
	return c.chatCommand(ctx, ChatParty{Actor: a}, modes.ChatEnd, chatID, func(f *fx, t *tenant, ch *chatRT) error {
		if err := ch.member(ChatParty{Actor: a}); err != nil {
			return err
		}
		if ch.state != ChatWrapUp {
			return fmt.Errorf("%w: chat %s is %s, not in after-chat work", ErrConflict, chatID, ch.state)
		}
		t.chatCompleteLocked(f, ch)
		return nil
	})
}

// CustomerLeftChat ends the chat of a customer whose connection went away.
func (c *Core) CustomerLeftChat(ctx context.Context, s *ChatSession) {
	_, _ = c.EndChat(ctx, ChatParty{Customer: s}, s.ChatID)
}

// member refuses a party that is not part of the chat: the customer of another chat, or an
// agent that does not hold it.
func (ch *chatRT) member(p ChatParty) error {
	if p.Customer != nil {
		if p.Customer != ch.customer {
			return fmt.Errorf("%w: this connection is not part of chat %s", ErrForbidden, ch.id)
		}
		return nil
	}
	if ch.agent == nil || ch.agent.id != p.Actor.UserID {
		return fmt.Errorf("%w: %s is not part of chat %s", ErrForbidden, p.Actor.UserID, ch.id)
	}
	return nil
}

// chatEndLocked ends the conversation: the customer's session ends, an offer is withdrawn, and
// the agent who had it starts its after-chat work (or is done at once without wrap-up time).
func (t *tenant) chatEndLocked(ctx context.Context, f *fx, ch *chatRT, by, reason string) {
	if ch.state == ChatWrapUp {
		return
	}
	t.chatDequeueLocked(ch)
	if ch.state == ChatOffered && ch.offered != nil {
		t.chatOfferFailedLocked(ctx, f, ch, "chat_ended", false)
	}
	ch.stopTimer()
	ag := ch.agent
	wrap := 0
	if ag != nil {
		wrap = t.settingsLocked(ctx).WrapUpSeconds
	}
	d := event.ChatEndedData{ChatID: ch.id, EndedBy: by, Reason: reason, WrapUpSeconds: wrap}
	if ag != nil {
		d.UserID = ag.id
	}
	t.emit(f, event.ChatEnded, d)
	ch.state = ChatWrapUp
	cust := ch.customer
	f.after = append(f.after, cust.end)
	if ag == nil {
		delete(t.chatsLocked().byID, ch.id)
		return
	}
	if wrap <= 0 {
		t.chatCompleteLocked(f, ch)
		return
	}
	t.chatAfterLocked(ch, time.Duration(wrap)*time.Second, func(f *fx) { t.chatCompleteLocked(f, ch) })
}

// chatCompleteLocked ends the after-chat work: the agent's slot is free, waiting chats route.
func (t *tenant) chatCompleteLocked(f *fx, ch *chatRT) {
	ch.stopTimer()
	b := t.chatsLocked()
	delete(b.byID, ch.id)
	if ag := ch.agent; ag != nil {
		delete(b.held[ag.id], ch.id)
		b.lastAt[ag.id] = t.core.now()
		t.emit(f, event.ChatCompleted, event.ChatCompletedData{ChatID: ch.id, UserID: ag.id})
	}
	t.routeChatsLocked(context.Background(), f)
}

// Chats returns a snapshot of the account's chats; with userID, only those that agent holds or
// is offered.
func (c *Core) Chats(acct, userID string) []ChatView {
	t := c.tenant(acct)
	out := []ChatView{}
	t.read(func() {
		for _, ch := range t.chatsLocked().byID {
			if userID == "" || ch.agent != nil && ch.agent.id == userID || ch.offered != nil && ch.offered.id == userID {
				out = append(out, ch.view())
			}
		}
	})
	return out
}

// Chat returns one chat that is not completed yet.
func (c *Core) Chat(acct, chatID string) (ChatView, error) {
	t := c.tenant(acct)
	var v ChatView
	var err error
	t.read(func() {
		var ch *chatRT
		if ch, err = t.chatLocked(chatID); err == nil {
			v = ch.view()
		}
	})
	return v, err
}
