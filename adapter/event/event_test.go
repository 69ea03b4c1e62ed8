package event

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/schemas"
)

func TestWireForm(t *testing.T) {
	e := Event{Account: "a", Seq: 42, Time: time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.FixedZone("x", 3600)),
		Name: StatusChanged, Data: json.RawMessage(`{"user_id":"u1"}`)}
	got := string(e.Wire())
	want := `{"event":"status_changed","seq":42,"ts":"2026-11-21T09:00:00.123Z","data":{"user_id":"u1"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(e.Wire(), &back); err != nil {
		t.Fatal(err)
	}
	odd := Event{Name: "a\"b", Seq: 1}
	if err := json.Unmarshal(odd.Wire(), &back); err != nil || back["event"] != "a\"b" || back["data"] == nil {
		t.Fatalf("escaping/empty data: %v %v", err, back)
	}
	m, _ := json.Marshal([]Event{e})
	if string(m) != "["+want+"]" {
		t.Fatalf("MarshalJSON: %s", m)
	}
}

// TestEveryEventHasASchema: every event the core emits has a data schema and is an allowed
// name of the CTI WebSocket envelope, so adding an event without its contract fails here.
func TestEveryEventHasASchema(t *testing.T) {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{IncomingCall, OutgoingCall, CallConnected, CallFailed, CallDisconnected, DataUpdated,
		StatusChanged, SettingsChanged, CallHeld, CallRetrieved, CallMuted, CallUnmuted, PartyAdded, PartyRemoved,
		CallTransferred, DTMFSent, MediaOwnerChanged,
		MonitorStarted, MonitorEnded, RecordingStarted, RecordingPaused, RecordingResumed, RecordingStopped} {
		if err := reg.Validate("events/"+name, []byte(`{}`)); errors.Is(err, schemas.ErrUnknownSchema) {
			t.Errorf("%s has no schema events/%s", name, name)
		}
		ev := Event{Name: name, Seq: 1, Time: time.Now(), Data: json.RawMessage(`{}`)}
		if err := reg.Validate("vox/event", ev.Wire()); err != nil {
			t.Errorf("%s is refused by the vox/event envelope: %v", name, err)
		}
	}
}
