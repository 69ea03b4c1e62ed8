package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// failingChats is the store with its chat projection refused while fail is set (the database
// down between the append and the projection, or a node killed there: it never projects).
type failingChats struct {
	*store.Store
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *failingChats) ProjectChats(ctx context.Context, acct string, after int64, evs []event.Event) (int64, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return 0, errors.New("projection refused by the test")
	}
	return f.Store.ProjectChats(ctx, acct, after, evs)
}

// chatHub is a hub on a Log over records (no feed: the test publishes as the owner).
func chatHub(t *testing.T, s *server.Server, name string, records Records) (*Log, *hub.Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, err := OpenLog(ctx, connect(t, s), records, LogOptions{Replicas: 1, Node: name, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, l, hub.Options{Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(context.Background())
	go h.Run(run)
	t.Cleanup(func() { stop(); <-h.Done(); l.Close() })
	return l, h
}

// standalone is one JetStream server without routes.
func standalone(t *testing.T) *server.Server {
	t.Helper()
	s, err := StartEmbedded(EmbedOptions{Name: "n1", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	if err := WaitReady(s, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

func publishChat(t *testing.T, h *hub.Hub, name string, data any) {
	t.Helper()
	if _, err := h.Publish(context.Background(), "acme", name, data); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
}

func waitChat(t *testing.T, st *store.Store, id string, msgs int, state string) store.Chat {
	t.Helper()
	var c store.Chat
	waitFor(t, "chat "+id+" projected", func() bool {
		var err error
		c, err = st.Chat(context.Background(), "acme", id)
		return err == nil && len(c.Messages) == msgs && c.State == state
	})
	return c
}

// TestClusterChatProjection: the owner projects its chat events into the shared store right
// after the append (read back at once); a node whose projection fails after the append (the
// store down, or killed before projecting) leaves the events in the log, and the node taking
// the account over projects them from the log, once each; a projection that fails on the owner
// is retried in the background until it succeeds.
func TestClusterChatProjection(t *testing.T) {
	servers := []*server.Server{standalone(t)}
	st := openStore(t)
	ts := time.Now().UTC().Format(event.TimeFormat)
	dead := &failingChats{Store: st}
	dead.fail.Store(true)
	_, a := chatHub(t, servers[0], "a", dead)
	publishChat(t, a, event.DataUpdated, map[string]any{"k": "v"}) // a batch without chat events
	publishChat(t, a, event.ChatStarted, event.ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", CreatedAt: ts})
	publishChat(t, a, event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "customer", Text: "one", MsgSeq: 1, TS: ts})
	if _, err := st.Chat(context.Background(), "acme", "h1"); !errors.Is(err, store.ErrNotFound) || dead.calls.Load() < 2 {
		t.Fatalf("a refused projection: chat %v, %d tries", err, dead.calls.Load())
	}

	// B takes acme over (Refresh, as takeover does) and catches the projection up from the log.
	lb, b := chatHub(t, servers[0], "b", st)
	last, err := lb.Refresh(context.Background(), "acme")
	if err != nil || last.seq != 3 {
		t.Fatalf("B's refresh: %d %v", last.seq, err)
	}
	b.SyncSeq("acme", last.seq)
	waitChat(t, st, "h1", 1, "queued")
	// B's own batches are projected synchronously: read back as soon as Publish returns.
	publishChat(t, b, event.ChatAccepted, event.ChatAcceptedData{ChatID: "h1", UserID: "a1", DisplayName: "Ada"})
	publishChat(t, b, event.ChatMessage, event.ChatMessageData{ChatID: "h1", From: "agent", UserID: "a1", Text: "two", MsgSeq: 2, TS: ts})
	c, err := st.Chat(context.Background(), "acme", "h1")
	if err != nil || c.State != "active" || len(c.Messages) != 2 || c.Messages[0].Text != "one" || c.Messages[1].Text != "two" {
		t.Fatalf("after B's messages: %+v %v", c, err)
	}
	if w, _ := st.ChatsProjected(context.Background(), "acme"); w != 5 {
		t.Fatalf("projected up to %d, want 5", w)
	}
}

// TestClusterChatProjectionRetry: the owner's projection fails for a while after its appends
// (the store refusing); the events stay acknowledged and the background retry projects them,
// each once, when the store accepts again.
func TestClusterChatProjectionRetry(t *testing.T) {
	servers := []*server.Server{standalone(t)}
	st := openStore(t)
	ts := time.Now().UTC().Format(event.TimeFormat)
	flaky := &failingChats{Store: st}
	la, a := chatHub(t, servers[0], "a", flaky)
	if _, err := la.Refresh(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	publishChat(t, a, event.ChatStarted, event.ChatStartedData{ChatID: "h2", DisplayName: "Bob", Queue: "support", CreatedAt: ts})
	waitChat(t, st, "h2", 0, "queued")
	flaky.fail.Store(true)
	for i, tx := range []string{"one", "two", "three"} {
		publishChat(t, a, event.ChatMessage, event.ChatMessageData{ChatID: "h2", From: "customer", Text: tx, MsgSeq: i + 1, TS: ts})
	}
	publishChat(t, a, event.ChatEnded, event.ChatEndedData{ChatID: "h2", EndedBy: "customer", Reason: "customer_left"})
	if c, _ := st.Chat(context.Background(), "acme", "h2"); len(c.Messages) != 0 {
		t.Fatalf("projected while refused: %+v", c)
	}
	flaky.fail.Store(false)
	c := waitChat(t, st, "h2", 3, "ended")
	for i, want := range []string{"one", "two", "three"} {
		if c.Messages[i].Text != want || c.Messages[i].Seq != i+1 {
			t.Fatalf("message %d: %+v", i, c.Messages[i])
		}
	}
}
