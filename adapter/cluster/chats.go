package cluster

// Chats in a cluster (docs/cluster.md "Chats"). On a single node store.Commit projects the chat
// events onto the chat tables in the transaction that writes them; here the events go to the
// stream, so the owner projects each appended batch's chat events into the shared store right
// after the append (ChatProjector, keyed by seq: a batch projected twice is applied once). A
// projection that fails (the store is down) is retried in the background from the log, and a
// node taking an account over catches its projection up from the log, so a crash between the
// append and the projection neither loses nor duplicates a chat message.

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// ChatProjector is the store's chat projection (store.Store, store.Postgres).
type ChatProjector interface {
	ProjectChats(ctx context.Context, account string, after int64, evs []event.Event) (int64, error)
	ChatsProjected(ctx context.Context, account string) (int64, error)
}

// chatMark is what this node knows of an account's projection: every chat event up to db is
// projected, and the events in (db, clean] hold no chat event.
type chatMark struct{ db, clean int64 }

// chatRetryFor bounds the background retries of a failed projection; the next takeover (or
// the next chat batch) catches up whatever is still missing after it.
const chatRetryFor = 10 * time.Minute

// projectAll projects each appended account's events of one commit (not those of failed).
func (l *Log) projectAll(ctx context.Context, evs []event.Event, failed map[string]error) {
	if l.chats == nil || len(evs) == 0 {
		return
	}
	groups, order := groupByAccount(evs)
	for _, acct := range order {
		if failed[acct] == nil {
			l.projectChats(ctx, acct, groups[acct])
		}
	}
}

func hasChat(evs []event.Event) bool {
	for i := range evs {
		if strings.HasPrefix(evs[i].Name, "chat_") {
			return true
		}
	}
	return false
}

// projectChats projects one appended batch of acct (its events evs, contiguous). Without chat
// events it only extends what this node knows. A failure is logged and retried in the
// background: the events are in the log, the command has happened.
func (l *Log) projectChats(ctx context.Context, acct string, evs []event.Event) {
	if l.chats == nil || len(evs) == 0 {
		return
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	l.mu.Lock()
	m, known := l.chatMarks[acct]
	if !hasChat(evs) {
		if known && m.clean == first-1 {
			l.chatMarks[acct] = chatMark{db: m.db, clean: last}
		}
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	var err error
	if known && m.clean == first-1 {
		var w int64
		if w, err = l.chats.ProjectChats(ctx, acct, m.db, evs); err == nil {
			l.markChats(acct, chatMark{db: w, clean: last})
			return
		}
	}
	if err == nil || errors.Is(err, store.ErrChatGap) {
		if err = l.catchUpChats(ctx, acct, evs); err == nil {
			return
		}
	}
	l.opts.Log.Error("chat projection failed; retrying from the log", "account", acct, "seq", last, "err", err)
	l.retryChats(acct)
}

// catchUpChats projects every event of acct after the store's projected seq: those of the log,
// then tail (events just appended, which the log already holds too; nil to read the log only).
func (l *Log) catchUpChats(ctx context.Context, acct string, tail []event.Event) error {
	w, err := l.chats.ChatsProjected(ctx, acct)
	if err != nil {
		return err
	}
	var evs []event.Event
	end := int64(-1) // read the log to its end
	if len(tail) > 0 {
		end = tail[0].Seq - 1
	}
	for from := w; end < 0 || from < end; {
		page, err := l.Events(ctx, acct, from, store.MaxEventLimit)
		if err != nil {
			return err
		}
		for _, e := range page {
			if end < 0 || e.Seq <= end {
				evs = append(evs, e)
			}
		}
		if len(page) < store.MaxEventLimit || (end >= 0 && page[len(page)-1].Seq >= end) {
			break
		}
		from = page[len(page)-1].Seq
	}
	evs = append(evs, tail...)
	if len(evs) == 0 {
		return nil
	}
	// If the log was pruned past w, what is gone cannot be projected any more: after = w.
	done, err := l.chats.ProjectChats(ctx, acct, w, evs)
	if err != nil {
		return err
	}
	l.markChats(acct, chatMark{db: done, clean: evs[len(evs)-1].Seq})
	return nil
}

// markChats raises what this node knows of acct's projection (both bounds only grow, so
// projections finishing out of order never lower it).
func (l *Log) markChats(acct string, m chatMark) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.chatMarks[acct]
	l.chatMarks[acct] = chatMark{db: max(cur.db, m.db), clean: max(cur.clean, m.clean)}
}

func (l *Log) forgetChats(acct string) {
	l.mu.Lock()
	delete(l.chatMarks, acct)
	l.mu.Unlock()
}

// retryChats catches acct's projection up from the log in the background, with a growing
// pause, until it succeeds, the node no longer appends for acct (Forget), the log is closed,
// or chatRetryFor.
// One retry runs per account at a time.
func (l *Log) retryChats(acct string) {
	l.forgetChats(acct)
	l.mu.Lock()
	if l.chatRetrying[acct] {
		l.mu.Unlock()
		return
	}
	l.chatRetrying[acct] = true
	l.mu.Unlock()
	go func() {
		defer func() {
			l.mu.Lock()
			delete(l.chatRetrying, acct)
			l.mu.Unlock()
		}()
		l.catchUpLoop(acct, time.Now().Add(chatRetryFor))
	}()
}

func (l *Log) catchUpLoop(acct string, until time.Time) {
	for wait := 200 * time.Millisecond; time.Now().Before(until); wait = min(2*wait, 5*time.Second) {
		select {
		case <-l.done:
			return
		case <-time.After(wait):
		}
		l.mu.Lock()
		_, appending := l.tails[acct]
		l.mu.Unlock()
		if !appending {
			return // another node owns the account: its takeover catches up
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := l.catchUpChats(ctx, acct, nil)
		cancel()
		if err == nil {
			l.opts.Log.Info("chat projection caught up", "account", acct)
			return
		}
		l.opts.Log.Warn("chat projection still failing", "account", acct, "err", err)
	}
	l.opts.Log.Error("chat projection gave up retrying; the next takeover catches it up", "account", acct)
}
