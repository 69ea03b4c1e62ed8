package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// chatEvents builds the events of one chat in the account's numbering from seq.
func chatEvents(t testing.TB, acct, id string, seq int64, at time.Time, evs ...any) []event.Event {
	t.Helper()
	var out []event.Event
	for i := 0; i < len(evs); i += 2 {
		raw, err := json.Marshal(evs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, event.Event{Account: acct, Seq: seq + int64(i/2), Time: at, Name: evs[i].(string), Data: raw})
	}
	return out
}

// TestChatProjection: chat events committed with Commit become chat records with their
// messages, paged and filtered like calls; a chat of another account is not seen (both backends).
func TestChatProjection(t *testing.T) { eachBackend(t, testChatProjection) }

func testChatProjection(t *testing.T, be backend) {
	s := be.newStore(t, "acme", "other")
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) string { return t0.Add(d).Format(event.TimeFormat) }
	evs := chatEvents(t, "acme", "h1", 1, t0,
		event.ChatStarted, event.ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", CreatedAt: ts(0)},
		event.ChatStarted, event.ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", UserID: "a1", CreatedAt: ts(0)},
		event.ChatAccepted, event.ChatAcceptedData{ChatID: "h1", UserID: "a1", DisplayName: "Ada"},
		event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "customer", Text: "<b>hi</b>", MsgSeq: 1, TS: ts(time.Second), ClientMsgID: "c1"},
		event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "agent", UserID: "a1", Text: "hello", MsgSeq: 2, TS: ts(2 * time.Second)},
		event.ChatEnded, event.ChatEndedData{ChatID: "h1", EndedBy: "customer", Reason: "customer_left", UserID: "a1"},
	)
	evs = append(evs, chatEvents(t, "acme", "h2", 7, t0.Add(time.Minute),
		event.ChatStarted, event.ChatStartedData{ChatID: "h2", DisplayName: "Bob", Queue: "sales", CreatedAt: ts(time.Minute)})...)
	evs = append(evs, chatEvents(t, "other", "h3", 1, t0,
		event.ChatStarted, event.ChatStartedData{ChatID: "h3", DisplayName: "Eve", Queue: "sales", CreatedAt: ts(0)})...)
	if _, err := s.Commit(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	c, err := s.Chat(ctx, "acme", "h1")
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "a1" || c.State != "ended" || c.EndedBy != "customer" || c.EndedAt == nil || c.AcceptedAt == nil ||
		len(c.Messages) != 2 || c.Messages[0].Text != "<b>hi</b>" || c.Messages[1].UserID != "a1" || c.Messages[0].ClientMsgID != "c1" ||
		!c.Messages[1].TS.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("chat h1: %+v", c)
	}
	page, next, err := s.Chats(ctx, "acme", ChatFilter{Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != "h2" || next == "" || len(page[0].Messages) != 0 {
		t.Fatalf("first page: %+v %q %v", page, next, err)
	}
	page, next, err = s.Chats(ctx, "acme", ChatFilter{Limit: 1, After: next})
	if err != nil || len(page) != 1 || page[0].ID != "h1" || next != "" || len(page[0].Messages) != 2 {
		t.Fatalf("second page: %+v %q %v", page, next, err)
	}
	if mine, _, _ := s.Chats(ctx, "acme", ChatFilter{UserID: "a1"}); len(mine) != 1 || mine[0].ID != "h1" {
		t.Fatalf("a1's chats: %+v", mine)
	}
	if late, _, _ := s.Chats(ctx, "acme", ChatFilter{From: t0.Add(time.Second)}); len(late) != 1 || late[0].ID != "h2" {
		t.Fatalf("chats from t0+1s: %+v", late)
	}
	if _, err := s.Chat(ctx, "acme", "h3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another account's chat: %v", err)
	}
	if _, _, err := s.Chats(ctx, "acme", ChatFilter{After: "!!"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
}
