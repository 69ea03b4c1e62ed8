package bridge

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestChatHistory: a chat interaction keeps the last 50 messages for its init answer, in
// msg_seq order, and takes each message once (one already rendered is refused).
func TestChatHistory(t *testing.T) {
	ci := &chatInteraction{id: "h1", chatID: "h1", state: Active}
	for seq := 1; seq <= 173; seq++ {
		if !ci.addMessage(event.ChatMessageData{ChatID: "h1", From: "customer", Text: "m", MsgSeq: seq}) {
			t.Fatalf("message %d refused", seq)
		}
		if ci.addMessage(event.ChatMessageData{ChatID: "h1", MsgSeq: seq}) || ci.addMessage(event.ChatMessageData{ChatID: "h1", MsgSeq: seq - 1}) {
			t.Fatalf("message %d taken twice", seq)
		}
		h := ci.body().Messages
		want := min(seq, chatHistory)
		if len(h) != want || h[len(h)-1].MsgSeq != seq || h[0].MsgSeq != seq-want+1 {
			t.Fatalf("after %d messages: %d kept, %d..%d", seq, len(h), h[0].MsgSeq, h[len(h)-1].MsgSeq)
		}
		if len(ci.msgs) > 2*chatHistory {
			t.Fatalf("after %d messages the buffer holds %d", seq, cap(ci.msgs))
		}
	}
}
