package event

import (
	"encoding/json"
	"testing"
	"time"
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
