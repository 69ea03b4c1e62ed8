package core

import (
	"context"
	"slices"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// Chat queues and routing: the account's queues and pickAgent (queue.go), with a chat's own
// notion of a free agent (ready, fewer than max_chats_per_agent chats, no chat offer pending;
// calls do not count).

// chatEnqueueLocked puts a chat in its queue (at the front after a failed offer) with the
// account's queue timeout counted from when it first queued, and routes.
func (t *tenant) chatEnqueueLocked(ctx context.Context, f *fx, ch *chatRT, front bool) {
	b := t.chatsLocked()
	ch.state = ChatQueued
	if ch.queuedAt.IsZero() {
		ch.queuedAt = t.core.now()
	}
	if front {
		b.queued = append([]*chatRT{ch}, b.queued...)
	} else {
		b.queued = append(b.queued, ch)
	}
	s := t.settingsLocked(ctx)
	wait := time.Duration(s.QueueTimeoutSeconds)*time.Second - t.core.now().Sub(ch.queuedAt)
	t.chatAfterLocked(ch, max(wait, 0), func(f *fx) {
		if ch.state == ChatQueued {
			t.chatSystemLocked(f, ch, "No agent is available right now. Please try again later.")
			t.chatEndLocked(context.Background(), f, ch, chatBySystem, chatQueueTimeout)
		}
	})
	t.routeChatsLocked(ctx, f)
}

func (t *tenant) chatDequeueLocked(ch *chatRT) {
	b := t.chatsLocked()
	b.queued = slices.DeleteFunc(b.queued, func(x *chatRT) bool { return x == ch })
}

// chatFree reports whether a may be offered a chat now, and how many chats it holds.
func (t *tenant) chatFree(a *agentRT, maxChats int) (bool, int) {
	b := t.chatsLocked()
	held := b.held[a.id]
	for _, ch := range held {
		if ch.state == ChatOffered {
			return false, len(held)
		}
	}
	ready := a.state.Status == agent.Ready || a.state.Status == agent.InCall && a.state.Resume == agent.Ready
	return ready && len(held) < maxChats, len(held)
}

// routeChatsLocked offers waiting chats, oldest first: to the least loaded free agent of the
// queue, the longest without a chat among equals (pickAgent over the agents of that load).
func (t *tenant) routeChatsLocked(ctx context.Context, f *fx) {
	if t.chat == nil || len(t.chat.queued) == 0 {
		return
	}
	maxChats := max(t.settingsLocked(ctx).MaxChatsPerAgent, 1)
	for _, ch := range slices.Clone(t.chat.queued) {
		load := make(map[string]int, len(t.agents))
		cands := make([]candidate, 0, len(t.agents))
		for _, a := range t.agents {
			free, n := t.chatFree(a, maxChats)
			load[a.id] = n
			cands = append(cands, candidate{id: a.id, free: free, queues: a.queues, idleAt: t.chat.lastAt[a.id]})
		}
		for n := 0; n < maxChats; n++ {
			level := slices.DeleteFunc(slices.Clone(cands), func(c candidate) bool { return load[c.id] != n })
			if id, ok := pickAgent(ch.queue, level, ch.tried); ok {
				t.chatOfferLocked(ctx, f, ch, t.agents[id])
				break
			}
		}
	}
}

// chatOfferLocked offers ch to a; without an accept within the ring timeout it moves on.
func (t *tenant) chatOfferLocked(ctx context.Context, f *fx, ch *chatRT, a *agentRT) {
	b := t.chatsLocked()
	t.chatDequeueLocked(ch)
	ch.state, ch.offered = ChatOffered, a
	ch.tried[a.id] = true
	if b.held[a.id] == nil {
		b.held[a.id] = map[string]*chatRT{}
	}
	b.held[a.id][ch.id] = ch
	b.lastAt[a.id] = t.core.now()
	t.emit(f, event.ChatStarted, event.ChatStartedData{ChatID: ch.id, DisplayName: ch.display, Phone: ch.phone,
		Queue: ch.queue, UserID: a.id, CreatedAt: ch.created.UTC().Format(event.TimeFormat)})
	ring := time.Duration(t.settingsLocked(ctx).RingTimeoutSeconds) * time.Second
	t.chatAfterLocked(ch, ring, func(f *fx) {
		if ch.state == ChatOffered {
			t.chatOfferFailedLocked(context.Background(), f, ch, "no_answer", true)
		}
	})
}

// chatOfferFailedLocked withdraws the offer of ch (reason: declined, no_answer, chat_ended,
// agent_logged_out); with requeue the chat goes back to the front of its queue.
func (t *tenant) chatOfferFailedLocked(ctx context.Context, f *fx, ch *chatRT, reason string, requeue bool) {
	a := ch.offered
	if a == nil {
		return
	}
	ch.offered = nil
	delete(t.chatsLocked().held[a.id], ch.id)
	t.emit(f, event.ChatOfferFailed, event.ChatOfferFailedData{ChatID: ch.id, UserID: a.id, Reason: reason})
	if requeue {
		t.chatEnqueueLocked(ctx, f, ch, true)
	}
}

// chatReadyAgainLocked lets an agent who says ready again be offered chats it missed before.
func (t *tenant) chatReadyAgainLocked(a *agentRT) {
	if t.chat == nil {
		return
	}
	for _, ch := range t.chat.queued {
		delete(ch.tried, a.id)
	}
}

// chatLogoutLocked ends what a logged-out agent holds: its offers go back to the queue, its
// active chats end (system, agent_logout), its after-chat work ends.
func (t *tenant) chatLogoutLocked(ctx context.Context, f *fx, a *agentRT) {
	if t.chat == nil {
		return
	}
	for _, ch := range t.chat.held[a.id] {
		switch ch.state {
		case ChatOffered:
			t.chatOfferFailedLocked(ctx, f, ch, "agent_logged_out", true)
		case ChatActive:
			t.chatSystemLocked(f, ch, "The agent left the chat.")
			t.chatEndLocked(ctx, f, ch, chatBySystem, chatAgentLogout)
			t.chatCompleteLocked(f, ch)
		case ChatWrapUp:
			t.chatCompleteLocked(f, ch)
		}
	}
	delete(t.chat.sinks, a.id)
}

// chatShutdownLocked ends every chat of the tenant (system, shutdown).
func (t *tenant) chatShutdownLocked(ctx context.Context, f *fx) {
	if t.chat == nil {
		return
	}
	for _, ch := range t.chat.byID {
		if ch.state != ChatWrapUp {
			t.chatEndLocked(ctx, f, ch, chatBySystem, chatShutdown)
		}
		if _, ok := t.chat.byID[ch.id]; ok {
			t.chatCompleteLocked(f, ch)
		}
	}
}
