package modes

import (
	"errors"
	"strings"
	"testing"
)

// TestEveryModeAgainstEveryOp is the whole contract of the modes, one row per operation.
func TestEveryModeAgainstEveryOp(t *testing.T) {
	table := map[Op][3]bool{ // simple, agent-state, full
		Login: {true, true, true}, Logout: {true, true, true}, SetData: {true, true, true},
		Ready: {false, true, true}, NotReady: {false, true, true},
		Dial: {false, false, true}, Answer: {false, false, true}, Reject: {false, false, true},
		HangUp: {false, false, true}, Hold: {false, false, true}, Retrieve: {false, false, true},
		Mute: {false, false, true}, Unmute: {false, false, true}, DTMF: {false, false, true},
		Transfer: {false, false, true}, Conference: {false, false, true}, RemoveParty: {false, false, true},
		Consult: {false, false, true},
		Video:   {false, false, true}, ScreenShare: {false, false, true},
		Record:     {false, false, true},
		ChatAccept: {false, false, true}, ChatSend: {false, false, true}, ChatEnd: {false, false, true},
	}
	if len(table) != len(AllOps) {
		t.Fatalf("table has %d ops, AllOps %d", len(table), len(AllOps))
	}
	for i, name := range []string{"simple", "agent-state", "full"} {
		m, err := ByName(name)
		if err != nil || m.Name() != name {
			t.Fatalf("ByName(%q) = %v, %v", name, m, err)
		}
		for _, op := range AllOps {
			want := table[op][i]
			if m.Allows(op) != want {
				t.Errorf("%s.Allows(%s) = %v", name, op, !want)
			}
			err := Check(m, op)
			var fe *ForbiddenError
			if want && err != nil || !want && (!errors.As(err, &fe) || !strings.Contains(err.Error(), string(op)) || !strings.Contains(err.Error(), name)) {
				t.Errorf("Check(%s, %s) = %v", name, op, err)
			}
		}
		if Allows := m.Allows("launch_rockets"); Allows {
			t.Errorf("%s allows an unknown op", name)
		}
	}
	if _, err := ByName("turbo"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if got := Capabilities(AgentState{}); strings.Join(got, ",") != "login,logout,setdata,ready,notready" {
		t.Fatalf("agent-state capabilities %v", got)
	}
}
