package integration

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/modes"
)

// TestBridgeModesRefuse: in simple and agent-state mode every operation the mode does not allow
// is answered FAILURE naming the operation and the mode, and changes nothing; screen pops and
// call data work in every mode.
func TestBridgeModesRefuse(t *testing.T) {
	for _, mode := range []string{"simple", "agent-state"} {
		t.Run(mode, func(t *testing.T) {
			e := newBridgeEnv(t, mode)
			e.phone("a1")
			e.phone("a2")
			d := login(t, e.ws(e.token(auth.RoleAgent, "a1")), "a1", "")
			ci := d.query("control.query.init", control)
			m, _ := modes.ByName(mode)
			var caps []string
			for _, c := range ci.Body["capabilities"].([]any) {
				caps = append(caps, c.(string))
			}
			if ci.str("mode") != mode || !slices.Equal(caps, modes.Capabilities(m)) {
				t.Fatalf("control.query.init in %s mode: %s", mode, ci.raw)
			}
			in := func(op string) string { return op + " is not available in " + mode + " mode" }

			if mode == "simple" {
				d.refused("channel.request.ready", d.channel, nil, "channel.request.ready refused", in("ready"))
				d.refused("channel.request.notready", d.channel, map[string]string{"reason": "lunch"}, in("notready"))
				if s := d.query("channel.query.init", d.channel); s.str("status") != "online" {
					t.Fatalf("a refused ready changed the state: %s", s.raw)
				}
				e.phoneReady("a1")
			} else {
				d.request("channel.request.notready", d.channel, map[string]string{"reason": "lunch"})
				d.request("channel.request.ready", d.channel, nil)
			}
			d.refused("channel.request.dial", d.channel, map[string]string{"destination": "a2"}, in("dial"))
			if len(e.srv.Core.Calls("acme", "a1")) != 0 {
				t.Fatal("a refused dial made a call")
			}

			// the screen pop works in every mode
			mk := d.mark()
			wc, _ := e.customer()
			ia := d.interaction(mk)
			ii, conv, cinit := d.initCall(ia)
			if ii.str("interaction-state") != "ALERTING" || cinit.str("conversation-state") != "RINGING" {
				t.Fatalf("screen pop: %s %s", ii.raw, cinit.raw)
			}
			d.refused("interaction.request.accept", ia, nil, in("answer"))
			d.refused("conversation.request.answer", conv, nil, in("answer"))
			d.refused("interaction.request.reject", ia, nil, in("reject"))
			if s := d.query("conversation.query.init", conv); s.str("conversation-state") != "RINGING" {
				t.Fatalf("refusals changed the conversation: %s", s.raw)
			}
			// the agent answers on its phone; the desktop follows
			mk = d.mark()
			e.phoneControl("a1", wc.ID, call.OpAnswer, "")
			d.event(mk, "conversation.talking", conv)
			for _, c := range []struct {
				name, op string
				body     any
			}{
				{"conversation.request.hold", "hold", nil},
				{"conversation.request.retrieve", "retrieve", nil},
				{"conversation.request.mute", "mute", nil},
				{"conversation.request.unmute", "unmute", nil},
				{"conversation.request.senddtmf", "senddtmf", map[string]string{"digits": "1"}},
				{"conversation.request.transfer", "transfer", map[string]string{"destination": "a2"}},
				{"conversation.request.conference", "conference", map[string]string{"destination": "a2"}},
				{"conversation.request.removeparty", "removeparty", map[string]string{"number": "a2"}},
				{"conversation.request.release", "hangup", nil},
			} {
				r := d.refused(c.name, conv, c.body, c.name+" refused", in(c.op))
				if got := d.events(mk, r.idx, conv); len(got) != 2 { // talking and partyadded only
					t.Fatalf("%s raised events: %v", c.name, names(got))
				}
			}
			if s := d.query("conversation.query.init", conv); s.str("conversation-state") != "TALKING" || s.Body["muted"] != false {
				t.Fatalf("refusals changed the conversation: %s", s.raw)
			}
			if v, err := e.srv.Core.Call("acme", wc.ID); err != nil || v.State != "connected" || v.Held || len(v.Agents) != 1 {
				t.Fatalf("refusals changed the call: %+v %v", v, err)
			}
			// call data is allowed in every mode
			mk = d.mark()
			d.request("interaction.request.setdata", ia, map[string]any{"data": map[string]string{"case": "7"}})
			d.event(mk, "interaction.datachanged", ia)
		})
	}
}

// TestBridgeModeChange: an admin changing the account's mode raises control.statechanged on
// every initialised control destination, and the next request follows the new mode at once.
func TestBridgeModeChange(t *testing.T) {
	e := newBridgeEnv(t, "full")
	e.phone("a1")
	d := login(t, e.tcpClient(), "a1", e.token(auth.RoleAgent, "a1"))
	d.request("channel.request.ready", d.channel, nil)
	admin := e.token(auth.RoleAdmin, "ops")
	put := func(mode string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, e.url+"/api/v1/settings", bytes.NewReader([]byte(`{"mode":"`+mode+`"}`)))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT settings: %d", res.StatusCode)
		}
	}
	mk := d.mark()
	put("simple")
	sc := d.event(mk, "control.statechanged", control)
	if sc.str("mode") != "simple" || slices.Contains(sc.Body["capabilities"].([]any), any("ready")) {
		t.Fatalf("control.statechanged: %s", sc.raw)
	}
	d.refused("channel.request.notready", d.channel, map[string]string{"reason": "x"}, "notready is not available in simple mode")
	mk = d.mark()
	put("full")
	if sc := d.event(mk, "control.statechanged", control); sc.str("mode") != "full" {
		t.Fatalf("control.statechanged: %s", sc.raw)
	}
	d.request("channel.request.notready", d.channel, map[string]string{"reason": "x"})
}
