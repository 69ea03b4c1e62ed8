package integration

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// modeMethods calls each mode-limited method of window.CTI with harmless arguments.
var modeMethods = map[string]struct{ op, js string }{
	"agentReady":         {"ready", `CTI.agentReady()`},
	"agentNotReady":      {"notready", `CTI.agentNotReady('lunch')`},
	"makeCall":           {"dial", `CTI.makeCall('1002')`},
	"answerCall":         {"answer", `CTI.answerCall('c1')`},
	"rejectCall":         {"reject", `CTI.rejectCall('c1')`},
	"hangUpCall":         {"hangup", `CTI.hangUpCall('c1')`},
	"holdCall":           {"hold", `CTI.holdCall('c1')`},
	"retrieveCall":       {"retrieve", `CTI.retrieveCall('c1')`},
	"muteCall":           {"mute", `CTI.muteCall('c1')`},
	"unmuteCall":         {"unmute", `CTI.unmuteCall('c1')`},
	"blindTransfer":      {"transfer", `CTI.blindTransfer('c1', 'agent2')`},
	"conferenceInitiate": {"conference", `CTI.conferenceInitiate('c1', 'agent2')`},
	"dropParty":          {"removeparty", `CTI.dropParty('c1', 'agent2')`},
	"sendDTMF":           {"senddtmf", `CTI.sendDTMF('c1', '1')`},
	"consultationCall":   {"consult", `CTI.consultationCall('c1', 'agent2')`},
	"transferComplete":   {"consult", `CTI.transferComplete('c1')`},
	"conferenceComplete": {"consult", `CTI.conferenceComplete('c1')`},
	"enableVideo":        {"video", `CTI.enableVideo('c1')`},
	"disableVideo":       {"video", `CTI.disableVideo('c1')`},
	"startScreenShare":   {"screenshare", `CTI.startScreenShare('c1')`},
	"stopScreenShare":    {"screenshare", `CTI.stopScreenShare('c1')`},
}

// visibleOps lists the data-op values of the CRM's visible controls.
const visibleOps = `[...new Set([...document.querySelectorAll('[data-op]')].filter(e => !e.hidden).map(e => e.dataset.op))].sort()`

// TestBrowserModes: in each telephony mode the demo CRM shows only the controls the mode allows,
// and window.CTI refuses every other method with OPENCTI_MODE_NOT_SUPPORTED without sending a
// frame; allowed methods reach the server. A mode change while the page is open applies at once.
func TestBrowserModes(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	admin := s.token(t, auth.RoleAdmin, "test-admin")
	all := []string{"answer", "conference", "consult", "dial", "hangup", "hold", "logout", "mute", "notready", "ready", "reject", "retrieve", "screenshare", "senddtmf", "transfer", "unmute", "video"}
	for _, tc := range []struct {
		mode    string
		visible []string
	}{
		{"simple", []string{"logout"}},
		{"agent-state", []string{"logout", "notready", "ready"}},
		{"full", all},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if code := s.apiJSON(t, "PUT", "/settings", admin, fmt.Sprintf(`{"mode":%q}`, tc.mode), nil); code != 200 {
				t.Fatalf("set mode %s: %d", tc.mode, code)
			}
			crm := s.agentTab(b, "crm "+tc.mode, "/demo/crm", "agent1")
			defer crm.close()
			crm.waitFor("capabilities", fmt.Sprintf(`CTI.getState().mode === %q`, tc.mode), browserStep)
			crm.waitPhone() // no signalling frames in flight while frames are counted
			var vis []string
			crm.eval(visibleOps, &vis)
			if !slices.Equal(vis, tc.visible) {
				t.Errorf("visible controls %v, want %v", vis, tc.visible)
			}
			var caps struct{ Mode string }
			crm.eval(`CTI.getCapabilities()`, &caps)
			if caps.Mode != tc.mode {
				t.Errorf("getCapabilities mode %q", caps.Mode)
			}
			names := make([]string, 0, len(modeMethods))
			for n := range modeMethods {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				m := modeMethods[name]
				allowed := slices.Contains(tc.visible, m.op) || tc.mode == "full"
				var r struct {
					Code string
					Sent int
				}
				crm.eval(`(async () => { const before = window.__probe.sent; let code = 'resolved';
				  try { await `+m.js+`; } catch (e) { code = e.errCode; } return {code, sent: window.__probe.sent - before}; })()`, &r)
				switch {
				case !allowed && (r.Code != "OPENCTI_MODE_NOT_SUPPORTED" || r.Sent != 0):
					t.Errorf("%s in %s mode: %s after %d frames, want OPENCTI_MODE_NOT_SUPPORTED without a round trip", name, tc.mode, r.Code, r.Sent)
				case allowed && (r.Code == "OPENCTI_MODE_NOT_SUPPORTED" || r.Sent < 1):
					t.Errorf("%s in %s mode: %s after %d frames, want one round trip", name, tc.mode, r.Code, r.Sent)
				}
			}
			crm.noCSPViolations()
		})
	}

	// The mode changes under an open page: controls hide and methods refuse at once.
	crm := s.agentTab(b, "crm live", "/demo/crm", "agent1")
	crm.waitFor("full mode", `CTI.getState().mode === 'full' && !document.getElementById('btn-hold').hidden`, browserStep)
	if code := s.apiJSON(t, "PUT", "/settings", admin, `{"mode":"agent-state"}`, nil); code != 200 {
		t.Fatalf("set mode: %d", code)
	}
	crm.waitFor("agent-state mode", `CTI.getState().mode === 'agent-state' && document.getElementById('btn-hold').hidden && !document.getElementById('btn-ready').hidden`, browserStep)
	var code string
	crm.eval(`CTI.holdCall('c1').then(() => 'resolved', e => e.errCode)`, &code)
	if code != "OPENCTI_MODE_NOT_SUPPORTED" {
		t.Errorf("holdCall after the switch to agent-state: %s", code)
	}

	// The softphone is the agent's own phone: the mode never limits it.
	phone := s.agentTab(b, "softphone", "/softphone", "agent2")
	var r struct{ Methods []string }
	phone.eval(`CTI.getCapabilities()`, &r)
	if !slices.Contains(r.Methods, "holdCall") || !slices.Contains(r.Methods, "makeCall") {
		t.Errorf("softphone capabilities in agent-state mode: %v", r.Methods)
	}
	phone.eval(`CTI.holdCall('c1').then(() => 'resolved', e => e.errCode)`, &code)
	if code != "OPENCTI_CALL_NOT_FOUND" {
		t.Errorf("softphone holdCall of an unknown call: %s, want OPENCTI_CALL_NOT_FOUND from the server", code)
	}
}
