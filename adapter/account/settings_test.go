package account

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMergeKeepsUnnamedFields(t *testing.T) {
	base := Defaults(ModeFull)
	base.AllowedOrigins = []string{"https://crm.example.com"}
	tests := []struct {
		name  string
		patch string
		check func(t *testing.T, s Settings)
	}{
		{"mode only", `{"mode":"simple"}`, func(t *testing.T, s Settings) {
			if s.Mode != ModeSimple || s.RingTimeoutSeconds != 20 || len(s.AllowedOrigins) != 1 {
				t.Fatalf("got %+v", s)
			}
		}},
		{"ivr replaced whole", `{"ivr":{"greeting":"welcome","menu":{"3":"billing"},"timeout_seconds":5,"default_queue":"billing"}}`, func(t *testing.T, s Settings) {
			if !reflect.DeepEqual(s.IVR.Menu, map[string]string{"3": "billing"}) || s.Mode != ModeFull {
				t.Fatalf("got %+v", s.IVR)
			}
		}},
		{"origins cleared", `{"allowed_origins":[]}`, func(t *testing.T, s Settings) {
			if s.AllowedOrigins == nil || len(s.AllowedOrigins) != 0 {
				t.Fatalf("got %#v", s.AllowedOrigins)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := base.Merge([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
			if base.Mode != ModeFull {
				t.Fatal("merge changed its receiver")
			}
		})
	}
}

func TestDecodeFillsDefaults(t *testing.T) {
	s, err := Decode([]byte(`{"mode":"agent-state"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults(ModeAgentState)
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v want %+v", s, want)
	}
	if _, err := Decode([]byte(`{"mode":`)); err == nil {
		t.Fatal("corrupt settings decoded without error")
	}
	raw, _ := json.Marshal(want)
	back, _ := Decode(raw)
	if !reflect.DeepEqual(back, want) {
		t.Fatal("round trip changed settings")
	}
}

func TestValidNameAndMode(t *testing.T) {
	for name, ok := range map[string]bool{"demo": true, "a": true, "acme-1_x": true, "": false, "-a": false, "Demo": false, "a.b": false} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
	for m, ok := range map[string]bool{"simple": true, "agent-state": true, "full": true, "FULL": false, "": false} {
		if ValidMode(m) != ok {
			t.Errorf("ValidMode(%q) = %v", m, !ok)
		}
	}
}
