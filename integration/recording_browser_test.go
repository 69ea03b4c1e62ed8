package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBrowserShimRecording: the shim's startRecording, pauseRecording, resumeRecording and
// stopRecording (real Chromium, a CRM desktop in full mode) drive the call's recording; in
// agent-state mode the shim refuses them with OPENCTI_MODE_NOT_SUPPORTED.
func TestBrowserShimRecording(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	if _, err := s.Accounts.Update(context.Background(), "demo", []byte(`{"recording":"on_demand"}`)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	crm := s.agentTab(b, "crm agent1", "/demo/crm", "agent1")
	crm.waitPhone()
	crm.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	crm.click("#btn-ready")
	crm.waitFor("ready", `CTI.getState().status === 'ready'`, browserStep)
	cust := s.startWebCall(b, "Ada", "+15550100")
	cust.click(`.ctiw [data-digit="2"]`)
	id := crm.ctiCall("alerting")
	crm.eval(`CTI.answerCall(`+mustJSON(id)+`).then(() => 0)`, nil)
	crm.ctiCall("connected")

	var r struct{ CallID, RecordingID, State string }
	for _, step := range []struct{ method, state string }{
		{"startRecording", "recording"}, {"pauseRecording", "paused"}, {"resumeRecording", "recording"}, {"stopRecording", "stopped"},
	} {
		crm.eval(`CTI.`+step.method+`(`+mustJSON(id)+`)`, &r)
		if r.CallID != id || r.State != step.state || r.RecordingID == "" {
			t.Fatalf("%s: %+v", step.method, r)
		}
	}
	ms, _ := s.Recordings.List("demo", id)
	if len(ms) != 1 || ms[0].ID != r.RecordingID {
		t.Fatalf("recordings of the call: %+v", ms)
	}
	var admin = s.token(t, auth.RoleAdmin, "boss")
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"mode":"agent-state"}`, nil); code != 200 {
		t.Fatalf("PUT settings: %d", code)
	}
	crm.waitFor("agent-state mode", `CTI.getState().mode === 'agent-state' || (CTI.getState().pyTelephonyMode || '') === 'agent-state'`, browserStep)
	var refused struct{ ErrCode string }
	crm.eval(`CTI.startRecording(`+mustJSON(id)+`).then(() => ({errCode: 'accepted'}), e => e)`, &refused)
	if !strings.Contains(refused.ErrCode, "MODE_NOT_SUPPORTED") {
		t.Fatalf("startRecording in agent-state mode: %+v", refused)
	}
	cust.click(".ctiw-hangup")
}
