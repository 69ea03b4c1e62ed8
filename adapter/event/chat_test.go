package event

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// TestChatEventsHaveSchemas: every chat event has a data schema, passes the vox/event envelope,
// and its typed payloads (optional parts empty or set) are valid against it.
func TestChatEventsHaveSchemas(t *testing.T) {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	const ts = "2026-12-01T09:00:00.000Z"
	cases := map[string][]any{
		ChatStarted: {ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", CreatedAt: ts},
			ChatStartedData{ChatID: "h1", DisplayName: "Ada", Queue: "support", UserID: "a1", Phone: "+1555", CreatedAt: ts}},
		ChatOfferFailed: {ChatOfferFailedData{ChatID: "h1", UserID: "a1", Reason: "no_answer"}},
		ChatAccepted:    {ChatAcceptedData{ChatID: "h1", UserID: "a1", DisplayName: ""}},
		ChatMessage: {ChatMessageData{ChatID: "h1", From: "customer", Text: "<i>x</i>", TS: ts, MsgSeq: 1, ClientMsgID: "c1"},
			ChatMessageData{ChatID: "h1", From: "agent", UserID: "a1", Text: "y", TS: ts, MsgSeq: 2}},
		ChatEnded:     {ChatEndedData{ChatID: "h1", EndedBy: "system", Reason: "queue_timeout"}},
		ChatCompleted: {ChatCompletedData{ChatID: "h1", UserID: "a1"}},
	}
	for _, name := range ChatEvents {
		if err := reg.Validate("events/"+name, []byte(`{}`)); errors.Is(err, schemas.ErrUnknownSchema) {
			t.Errorf("%s has no schema", name)
		}
		ev := Event{Name: name, Seq: 1, Time: time.Now(), Data: json.RawMessage(`{}`)}
		if err := reg.Validate("vox/event", ev.Wire()); err != nil {
			t.Errorf("%s refused by vox/event: %v", name, err)
		}
		if len(cases[name]) == 0 {
			t.Errorf("%s has no typed payload", name)
		}
		for _, p := range cases[name] {
			raw, _ := json.Marshal(p)
			if err := reg.Validate("events/"+name, raw); err != nil {
				t.Errorf("%s %s: %v", name, raw, err)
			}
		}
	}
}
