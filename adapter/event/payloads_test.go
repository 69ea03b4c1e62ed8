package event

import (
	"encoding/json"
	"testing"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// TestPayloadsMatchTheirSchemas: every typed payload, as the core fills it (and with its
// optional parts empty), is valid against its event's schema, and every event the core emits
// has a typed payload here.
func TestPayloadsMatchTheirSchemas(t *testing.T) {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"crm_id": "42"}
	party := CallPartyData{CallID: "c1", UserID: "a1"}
	cases := map[string][]any{
		StatusChanged: {StatusChangedData{UserID: "a1", Status: "dnd", Previous: "online", Reason: "lunch"},
			StatusChangedData{UserID: "a1", Status: "online", Previous: "offline"}},
		IncomingCall: {IncomingCallData{CallID: "c1", Phone: "+1555", DisplayName: "Ada", Source: "webrtc", Media: "audio",
			Queue: "sales", Variables: vars, UserID: "a1"},
			IncomingCallData{CallID: "c1", Phone: "anonymous", DisplayName: "web caller", Source: "internal", Media: "video", Variables: map[string]string{}}},
		OutgoingCall: {OutgoingCallData{CallID: "c1", UserID: "a1", Phone: "102", Variables: map[string]string{}},
			OutgoingCallData{CallID: "c2", UserID: "a1", Phone: "102", Variables: map[string]string{}, ConsultOf: "c1"}},
		CallConnected:    {CallConnectedData{CallID: "c1", UserID: "a1", Phone: "+1555"}},
		CallFailed:       {CallFailedData{CallID: "c1", UserID: "", Phone: "+1555", Code: 480, Reason: "queue timeout"}},
		CallDisconnected: {CallDisconnectedData{CallID: "c1", UserID: "a1", Phone: "+1555", DurationMS: 1200, EndedBy: "agent"}},
		DataUpdated:      {DataUpdatedData{CallID: "c1", Variables: vars}},
		CallHeld:         {party},
		CallRetrieved:    {party},
		CallMuted:        {party},
		CallUnmuted:      {party},
		PartyAdded:       {PartyData{CallID: "c1", UserID: "a3", Phone: "a3", PartyID: "a3"}},
		PartyRemoved:     {PartyData{CallID: "c1", UserID: "a3", Phone: "a3", PartyID: "a3"}},
		CallTransferred: {CallTransferredData{CallID: "c1", FromUserID: "a1", To: "sales", Variables: vars},
			CallTransferredData{CallID: "c1", FromUserID: "a1", To: "102", ToUserID: "a2", Variables: vars},
			CallTransferredData{CallID: "c1", FromUserID: "a1", To: "+15550100", Phone: "+15550100", Variables: vars}},
		DTMFSent:          {DTMFSentData{CallID: "c1", UserID: "a1", Digits: "12#"}},
		MediaOwnerChanged: {MediaOwnerChangedData{UserID: "a1", SessionID: "s1"}, MediaOwnerChangedData{UserID: "a1"}},
		MediaChanged: {MediaChangedData{CallID: "c1", UserID: "a1", Media: "screen", Customer: SideMedia{Screen: true}},
			MediaChangedData{CallID: "c1", Media: "video"}},
		ScreenShareStarted: {ScreenShareData{CallID: "c1", By: "agent", UserID: "a1"}, ScreenShareData{ChatID: "h1", By: "customer"}},
		ScreenShareStopped: {ScreenShareData{CallID: "c1", By: "customer"}},
	}
	for _, name := range []string{IncomingCall, OutgoingCall, CallConnected, CallFailed, CallDisconnected, DataUpdated,
		StatusChanged, CallHeld, CallRetrieved, CallMuted, CallUnmuted, PartyAdded, PartyRemoved, CallTransferred,
		DTMFSent, MediaOwnerChanged, MediaChanged, ScreenShareStarted, ScreenShareStopped} {
		if len(cases[name]) == 0 {
			t.Errorf("%s has no typed payload", name)
		}
		for _, p := range cases[name] {
			raw, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := reg.Validate("events/"+name, raw); err != nil {
				t.Errorf("%s %s: %v", name, raw, err)
			}
		}
	}
}

// TestPayloadWireBytes: the payloads encode with their fields in alphabetical order, the bytes
// the maps they replaced produced (clients comparing frames see no change).
func TestPayloadWireBytes(t *testing.T) {
	raw, _ := json.Marshal(StatusChangedData{UserID: "a1", Status: "online", Previous: "offline"})
	if string(raw) != `{"previous":"offline","reason":"","status":"online","user_id":"a1"}` {
		t.Fatalf("status_changed %s", raw)
	}
	raw, _ = json.Marshal(IncomingCallData{CallID: "c", Variables: map[string]string{}})
	if string(raw) != `{"call_id":"c","display_name":"","media":"","phone":"","queue":"","source":"","variables":{}}` {
		t.Fatalf("incoming_call %s", raw)
	}
}
