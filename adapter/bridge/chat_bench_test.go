package bridge

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// discard is a transport that takes every message at once.
type discard struct{}

func (discard) write([][]byte) error               { return nil }
func (discard) close(websocket.StatusCode, string) { /* nothing to close */ }
func (discard) kind() string                       { return "discard" }

// renderConn is a logged-in connection of agent uid with initialised telephony and chat
// channels, whose messages go to a discarding writer (stopped at the benchmark's end).
func renderConn(b *testing.B, uid string) *conn {
	br := &Bridge{log: slog.New(slog.DiscardHandler)}
	c := &conn{b: br, sess: &core.Session{ID: "s" + uid, Account: "acme", UserID: uid},
		actor: core.Actor{Account: "acme", UserID: uid}}
	c.out = conns.NewSinkOutbox(sink{discard{}}, conns.Bounds{Messages: math.MaxInt, Bytes: math.MaxInt}, nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.out.Run(context.Background()) }()
	b.Cleanup(func() { c.out.Close(0, ""); <-done })
	c.channel = &channel{dest: dest{target: c.sess.ID + ".voice.phone", inited: true}}
	c.chat = &chatChannel{dest: dest{target: c.sess.ID + ".messaging.chat", inited: true}}
	return c
}

// BenchmarkRenderChat measures the rendering of one account event for one connection (the
// feed does it for every connection of the account): a chat message on the chat interaction
// of the agent holding the chat (decode excluded: the feed decodes once per event), the same
// event at a connection of another agent (skipped), and, for comparison, a telephony event
// (call_held / call_retrieved alternating: conversation.held / .talking) on a held call's
// conversation.
func BenchmarkRenderChat(b *testing.B) {
	b.Run("chatmessage", func(b *testing.B) {
		c := renderConn(b, "a1")
		ci := c.newChatLocked("h1", "Ada", "", "support", Active, nil)
		ci.inited = true
		ev := &coreEvent{Name: event.ChatMessage, ChatID: "h1", From: "customer", Text: "Hello, I have a question about my order",
			TS: "2026-12-02T03:30:00.123Z"}
		b.ReportAllocs()
		for i := range b.N {
			ev.MsgSeq = i + 1
			c.onEvent(ev)
		}
		if ci.lastSeq != b.N {
			b.Fatalf("rendered up to %d of %d messages", ci.lastSeq, b.N)
		}
	})
	b.Run("chatmessage-other-agent", func(b *testing.B) {
		c := renderConn(b, "a2")
		ev := &coreEvent{Name: event.ChatMessage, ChatID: "h1", From: "customer", Text: "Hello", TS: "2026-12-02T03:30:00.123Z"}
		b.ReportAllocs()
		for i := range b.N {
			ev.MsgSeq = i + 1
			c.onEvent(ev)
		}
	})
	b.Run("callheld", func(b *testing.B) {
		c := renderConn(b, "a1")
		ia := c.newInteractionLocked("c1", nil, Ringing, &coreEvent{Name: event.IncomingCall, CallID: "c1", Phone: "+15550100"})
		ia.inited, ia.conv.inited = true, true
		c.connectedLocked(ia, "interaction.accepted")
		evs := [2]*coreEvent{{Name: event.CallHeld, CallID: "c1"}, {Name: event.CallRetrieved, CallID: "c1"}}
		b.ReportAllocs()
		for i := range b.N {
			c.onEvent(evs[i&1])
		}
		if want := map[int]string{0: Talking, 1: Held}[b.N&1]; ia.conv.state != want {
			b.Fatalf("conversation %s after %d events, want %s", ia.conv.state, b.N, want)
		}
	})
}
