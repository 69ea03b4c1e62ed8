package core

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// chatSink collects the signals a participant receives.
type chatSink struct {
	mu     sync.Mutex
	frames []map[string]any
}

func (s *chatSink) put(f map[string]any) { s.mu.Lock(); s.frames = append(s.frames, f); s.mu.Unlock() }
func (s *chatSink) got() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.frames...)
}

func (w *world) startChat(t *testing.T, name string) (*ChatSession, *chatSink) {
	t.Helper()
	sink := &chatSink{}
	s, v, err := w.core.StartChat(context.Background(), "acme", ChatCustomer{DisplayName: name}, sink.put)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != ChatQueued && v.State != ChatOffered || v.Queue != "support" || v.DisplayName != name {
		t.Fatalf("started chat: %+v", v)
	}
	return s, sink
}

func chatOf(p string) ChatParty { return ChatParty{Actor: agentActor(p, ViaPhone)} }

// TestChatRoutedAcceptedMessagedEnded: a chat queues, is offered to the ready agent, declined,
// offered to the next, accepted; messages flow both ways numbered in order; strangers are
// refused; the customer ends it and the agent's after-chat work ends with the wrap-up timer.
func TestChatRoutedAcceptedMessagedEnded(t *testing.T) {
	w := newWorld(t, `{"wrap_up_seconds":30}`)
	ctx := context.Background()
	for _, a := range []string{"a1", "a2"} {
		w.phone(t, a, true)
		w.ready(t, a)
	}
	cust, custSink := w.startChat(t, "Ada")
	id := cust.ChatID
	if d := data(t, w.expect(t, event.ChatStarted)); d["user_id"] != nil || d["chat_id"] != id {
		t.Fatalf("chat_started on arrival: %v", d)
	}
	first := w.expect(t, event.ChatStarted)
	offered := data(t, first)["user_id"].(string)
	other := map[string]string{"a1": "a2", "a2": "a1"}[offered]
	if _, err := w.core.AcceptChat(ctx, agentActor(other, ViaPhone), id); !errors.Is(err, ErrConflict) {
		t.Fatalf("accept by an agent it is not offered to: %v", err)
	}
	if _, err := w.core.RejectChat(ctx, agentActor(offered, ViaPhone), id); err != nil {
		t.Fatal(err)
	}
	if d := data(t, w.expect(t, event.ChatOfferFailed)); d["reason"] != "declined" || d["user_id"] != offered {
		t.Fatalf("chat_offer_failed: %v", d)
	}
	if d := w.expectFor(t, event.ChatStarted, other); d["chat_id"] != id {
		t.Fatalf("second offer: %v", d)
	}
	agentSink := &chatSink{}
	sess, _ := w.core.Login(ctx, agentActor(other, ViaPhone), KindDesktop)
	stop := w.core.ChatListen(sess, agentSink.put)
	defer stop()
	v, err := w.core.AcceptChat(ctx, agentActor(other, ViaPhone), id)
	if err != nil || v.State != ChatActive || v.UserID != other {
		t.Fatalf("accept: %+v %v", v, err)
	}
	w.expect(t, event.ChatAccepted)
	if d := data(t, w.expect(t, event.ChatMessage)); d["from"] != "system" || !strings.Contains(d["text"].(string), "joined") {
		t.Fatalf("join message: %v", d)
	}
	if v := w.core.Agent("acme", other); v.Status != "ready" {
		t.Fatalf("a chat changed the agent's status to %s", v.Status)
	}

	m1, err := w.core.SendChat(ctx, ChatParty{Customer: cust}, id, "<script>x()</script>", "c1")
	if err != nil || m1.MsgSeq != 2 || m1.From != "customer" {
		t.Fatalf("customer message: %+v %v", m1, err)
	}
	m2, err := w.core.SendChat(ctx, chatOf(other), id, "hello Ada", "a-1")
	if err != nil || m2.MsgSeq != 3 || m2.UserID != other {
		t.Fatalf("agent message: %+v %v", m2, err)
	}
	for _, want := range []string{"<script>x()</script>", "hello Ada"} {
		if d := data(t, w.expect(t, event.ChatMessage)); d["text"] != want {
			t.Fatalf("chat_message %v, want %q", d, want)
		}
	}
	// strangers, oversize, blank: refused, nothing emitted (the next event checks it)
	stranger, _, _ := w.core.StartChat(ctx, "acme", ChatCustomer{DisplayName: "Eve"}, nil)
	for name, err := range map[string]error{
		"other customer":  second(w.core.SendChat(ctx, ChatParty{Customer: stranger}, id, "hi", "e1")),
		"other agent":     second(w.core.SendChat(ctx, chatOf(offered), id, "hi", "x1")),
		"unknown chat":    second(w.core.SendChat(ctx, chatOf(other), "hnope", "hi", "x2")),
		"too long":        second(w.core.SendChat(ctx, ChatParty{Customer: cust}, id, strings.Repeat("é", 2049), "c2")),
		"blank":           second(w.core.SendChat(ctx, ChatParty{Customer: cust}, id, " \n ", "c3")),
		"typing stranger": w.core.ChatTyping(ctx, chatOf(offered), id, true),
		"future ack":      w.core.ChatDelivered(ctx, chatOf(other), id, 99),
	} {
		want := map[string]ErrorKind{"other customer": KindForbidden, "other agent": KindForbidden, "unknown chat": KindNotFound,
			"too long": KindInvalid, "blank": KindInvalid, "typing stranger": KindForbidden, "future ack": KindInvalid}[name]
		if Kind(err) != want {
			t.Errorf("%s: %v (kind %s), want %s", name, err, Kind(err), want)
		}
	}
	// signals reach the other side only
	if err := w.core.ChatTyping(ctx, ChatParty{Customer: cust}, id, true); err != nil {
		t.Fatal(err)
	}
	if err := w.core.ChatDelivered(ctx, chatOf(other), id, 2); err != nil {
		t.Fatal(err)
	}
	if g := agentSink.got(); len(g) != 1 || g[0]["type"] != "chat_typing" || g[0]["from"] != "customer" {
		t.Fatalf("agent signals: %v", g)
	}
	if g := custSink.got(); len(g) != 1 || g[0]["type"] != "chat_delivered" || g[0]["msg_seq"] != 2 || g[0]["by"] != "agent" {
		t.Fatalf("customer signals: %v", g)
	}

	if _, err := w.core.EndChat(ctx, ChatParty{Customer: cust}, id); err != nil {
		t.Fatal(err)
	}
	<-cust.Done()
	for {
		ev := w.next(t)
		if ev.Name == event.ChatEnded {
			if d := data(t, ev); d["ended_by"] != "customer" || d["user_id"] != other || d["wrap_up_seconds"] != 30.0 {
				t.Fatalf("chat_ended: %v", d)
			}
			break
		}
		if ev.Name == event.ChatMessage {
			t.Fatalf("a refused message was emitted: %s", ev.Data)
		}
	}
	if _, err := w.core.SendChat(ctx, chatOf(other), id, "still there?", "a-2"); Kind(err) != KindConflict {
		t.Fatalf("message after the end: %v", err)
	}
	if v, _ := w.core.Chat("acme", id); v.State != ChatWrapUp {
		t.Fatalf("after the end the chat is %s", v.State)
	}
	w.clock.Advance(30 * time.Second)
	if d := data(t, w.expect(t, event.ChatCompleted)); d["user_id"] != other {
		t.Fatalf("chat_completed: %v", d)
	}
	if _, err := w.core.Chat("acme", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("completed chat still there: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestChatLimitsAndCalls: max_chats_per_agent caps what one agent holds; an agent on a call is
// still offered chats; a flood of messages is rate limited without changing anything.
func TestChatLimitsAndCalls(t *testing.T) {
	w := newWorld(t, `{"max_chats_per_agent":1,"wrap_up_seconds":0}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	wc, _ := callAt(t, w, "a1") // a1 is on a call
	_ = wc
	c1, _ := w.startChat(t, "One")
	if d := w.expectFor(t, event.ChatStarted, "a1"); d["chat_id"] != c1.ChatID {
		t.Fatalf("offer during a call: %v", d)
	}
	if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaPhone), c1.ChatID); err != nil {
		t.Fatal(err)
	}
	c2, _ := w.startChat(t, "Two")
	if v, _ := w.core.Chat("acme", c2.ChatID); v.State != ChatQueued {
		t.Fatalf("a second chat over max_chats_per_agent=1 is %s", v.State)
	}
	// flood: the burst passes, then rate_limited, the count unchanged
	n := 0
	var err error
	for ; n < 50; n++ {
		if _, err = w.core.SendChat(ctx, ChatParty{Customer: c1}, c1.ChatID, "spam", "s"); err != nil {
			break
		}
	}
	if n != ChatMessageBurst || Kind(err) != KindRateLimited {
		t.Fatalf("flood: %d messages passed, then %v", n, err)
	}
	w.clock.Advance(time.Second) // the bucket refills on the core's clock
	if _, err := w.core.SendChat(ctx, ChatParty{Customer: c1}, c1.ChatID, "later", "s2"); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	// the agent ends the first chat: its slot frees (no wrap-up) and the second is offered
	if _, err := w.core.EndChat(ctx, chatOf("a1"), c1.ChatID); err != nil {
		t.Fatal(err)
	}
	if d := w.expectFor(t, event.ChatStarted, "a1"); d["chat_id"] != c2.ChatID {
		t.Fatalf("second chat after the first ended: %v", d)
	}
	w.control(t, "a1", wc.ID, call.OpHangUp, "")
	// mode: a desktop in simple mode only sees chats
	w.setMode(t, "simple")
	if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaDesktop), c2.ChatID); Kind(err) != KindForbidden {
		t.Fatalf("simple-mode desktop accept: %v", err)
	}
	if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaPhone), c2.ChatID); err != nil {
		t.Fatalf("the phone is not limited by the mode: %v", err)
	}
	// logout ends the agent's chats
	if err := w.core.Logout(ctx, agentActor("a1", ViaPhone), "a1"); err != nil {
		t.Fatal(err)
	}
	<-c2.Done()
}

// TestChatOffersFollowAccepts: one offer at a time per agent, and each accept lets the next
// waiting chat be offered at once (up to max_chats_per_agent).
func TestChatOffersFollowAccepts(t *testing.T) {
	w := newWorld(t, `{"max_chats_per_agent":3}`)
	ctx := context.Background()
	w.phone(t, "a1", true)
	w.ready(t, "a1")
	var ids []string
	for _, n := range []string{"A", "B", "C", "D"} {
		s, _ := w.startChat(t, n)
		ids = append(ids, s.ChatID)
	}
	for i := 0; i < 3; i++ {
		d := w.expectFor(t, event.ChatStarted, "a1")
		if d["chat_id"] != ids[i] {
			t.Fatalf("offer %d: %v, want %s", i, d, ids[i])
		}
		if v, _ := w.core.Chat("acme", ids[i+1]); v.State != ChatQueued {
			t.Fatalf("chat %d is %s while %d is offered", i+1, v.State, i)
		}
		if _, err := w.core.AcceptChat(ctx, agentActor("a1", ViaPhone), ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := w.core.Chat("acme", ids[3]); v.State != ChatQueued {
		t.Fatalf("a fourth chat over max_chats_per_agent=3 is %s", v.State)
	}
}
