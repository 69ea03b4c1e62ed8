package account

import (
	"slices"
	"testing"
)

func TestDeskListsDefaultAndMerge(t *testing.T) {
	old, err := Decode([]byte(`{"mode":"simple"}`)) // stored before the lists existed
	if err != nil || !slices.Equal(old.NotReadyReasons, DefaultNotReadyReasons) || old.QuickConnects == nil || len(old.QuickConnects) != 0 {
		t.Fatalf("older settings: %v %q %v", err, old.NotReadyReasons, old.QuickConnects)
	}
	cleared, err := old.Merge([]byte(`{"not_ready_reasons":null,"quick_connects":[{"name":"Desk","destination":"+15550100"}]}`))
	if err != nil || cleared.NotReadyReasons == nil || len(cleared.NotReadyReasons) != 0 {
		t.Fatalf("null reasons: %v %#v", err, cleared.NotReadyReasons)
	}
	if len(cleared.QuickConnects) != 1 || cleared.QuickConnects[0] != (QuickConnect{Name: "Desk", Destination: "+15550100"}) {
		t.Errorf("quick connects: %+v", cleared.QuickConnects)
	}
	if cleared.Mode != "simple" {
		t.Errorf("merge lost the mode: %q", cleared.Mode)
	}
}
