package core

import (
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// TestChatHistoryKeepsTheLast: whatever the count, a view holds the last chatHistoryKept
// messages in order, and the history never holds twice that.
func TestChatHistoryKeepsTheLast(t *testing.T) {
	ch := &chatRT{}
	for n := 1; n <= 5*chatHistoryKept+7; n++ {
		ch.keep(event.ChatMessageData{MsgSeq: n})
		got := ch.view().Messages
		if want := min(n, chatHistoryKept); len(got) != want {
			t.Fatalf("after %d messages the view holds %d, want %d", n, len(got), want)
		}
		for i, m := range got {
			if want := n - len(got) + 1 + i; m.MsgSeq != want {
				t.Fatalf("after %d messages, view[%d] is message %d, want %d", n, i, m.MsgSeq, want)
			}
		}
		if len(ch.history) >= 2*chatHistoryKept {
			t.Fatalf("history holds %d messages", len(ch.history))
		}
	}
}
