package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

type chatProjector interface {
	ProjectChats(ctx context.Context, account string, after int64, evs []event.Event) (int64, error)
	ChatsProjected(ctx context.Context, account string) (int64, error)
}

// TestProjectChats: the cluster's chat projection (chats_project.go) applies each batch once
// whatever the retries, refuses a batch that does not continue it (ErrChatGap, nothing
// written), and skips the part of a batch already projected (both backends).
func TestProjectChats(t *testing.T) { eachBackend(t, testProjectChats) }

func testProjectChats(t *testing.T, be backend) {
	s := be.newStore(t, "acme").(chatProjector)
	rec := s.(ChatRecords)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ts := t0.Format(event.TimeFormat)
	evs := chatEvents(t, "acme", "h1", 3, t0,
		event.ChatStarted, event.ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", CreatedAt: ts},
		event.ChatAccepted, event.ChatAcceptedData{ChatID: "h1", UserID: "a1", DisplayName: "Ada"},
		event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "customer", Text: "one", MsgSeq: 1, TS: ts},
		event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "agent", UserID: "a1", Text: "two", MsgSeq: 2, TS: ts},
		event.ChatEnded, event.ChatEndedData{ChatID: "h1", EndedBy: "agent", Reason: "agent_ended", UserID: "a1"},
	) // seqs 3..7; 1 and 2 are other events
	if w, err := s.ChatsProjected(ctx, "acme"); err != nil || w != 0 {
		t.Fatalf("projected before: %d %v", w, err)
	}
	// Events after 2 cannot be projected onto a projection standing at 0 unless the caller
	// vouches for 1 and 2 (after = 0).
	if w, err := s.ProjectChats(ctx, "acme", 2, evs[:3]); !errors.Is(err, ErrChatGap) || w != 0 {
		t.Fatalf("gap: %d %v", w, err)
	}
	if _, err := rec.Chat(ctx, "acme", "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused projection wrote the chat: %v", err)
	}
	if w, err := s.ProjectChats(ctx, "acme", 0, evs[:3]); err != nil || w != 5 {
		t.Fatalf("first batch: %d %v", w, err)
	}
	// A retry of the first batch, then a batch overlapping it: each event applied once. The
	// message of seq 5 is changed in the retry: were it applied again, its text would not be "one".
	again := append([]event.Event(nil), evs[:3]...)
	again[2] = chatEvents(t, "acme", "h1", 5, t0, event.ChatMessage,
		event.ChatMessageData{ChatID: "h1", From: "customer", Text: "changed", MsgSeq: 9, TS: ts})[0]
	if w, err := s.ProjectChats(ctx, "acme", 0, again); err != nil || w != 5 {
		t.Fatalf("retry: %d %v", w, err)
	}
	if w, err := s.ProjectChats(ctx, "acme", 2, evs[1:]); err != nil || w != 7 {
		t.Fatalf("overlap: %d %v", w, err)
	}
	c, err := rec.Chat(ctx, "acme", "h1")
	if err != nil || c.State != "ended" || c.UserID != "a1" || len(c.Messages) != 2 ||
		c.Messages[0].Text != "one" || c.Messages[1].Text != "two" {
		t.Fatalf("chat: %+v %v", c, err)
	}
	// A replay of the accept after the end does not reopen the chat.
	if w, err := s.ProjectChats(ctx, "acme", 7, evs[1:2]); err != nil || w != 7 {
		t.Fatalf("old accept: %d %v", w, err)
	}
	if c, _ := rec.Chat(ctx, "acme", "h1"); c.State != "ended" {
		t.Fatalf("an old accept reopened the chat: %+v", c)
	}
	if w, err := s.ChatsProjected(ctx, "acme"); err != nil || w != 7 {
		t.Fatalf("projected after: %d %v", w, err)
	}
}

// BenchmarkProjectChats: what a chat message costs the store in a cluster (ProjectChats: the
// projected seq read and moved, the message inserted, one transaction) beside what it costs on
// a single node (Commit of the event, which projects it in the same transaction), on both
// backends in one run; one iteration is one message.
//
//	go test ./adapter/store -run '^$' -bench ProjectChats
func BenchmarkProjectChats(b *testing.B) {
	for _, be := range backends {
		for _, mode := range []string{"commit", "project"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				s := be.newStore(b, "acme")
				p := s.(chatProjector)
				ctx := context.Background()
				ts := time.Now().UTC().Format(event.TimeFormat)
				var took []time.Duration
				seq := int64(0)
				for b.Loop() {
					seq++
					ev := chatEvents(b, "acme", "h1", seq, time.Now(), event.ChatMessage,
						event.ChatMessageData{ChatID: "h1", From: "customer", Text: "hello there", MsgSeq: int(seq), TS: ts})
					t0 := time.Now()
					var err error
					if mode == "commit" {
						_, err = s.Commit(ctx, ev, nil)
					} else {
						_, err = p.ProjectChats(ctx, "acme", seq-1, ev)
					}
					if err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(t0))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
			})
		}
	}
}
