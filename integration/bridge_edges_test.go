package integration

import (
	"bytes"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestBridgeInitAfterQueuedNotReady: a desktop that sends notready before initialising its
// channel gets the current state (NOT_READY, dnd, the reason) in channel.query.init, not the
// state at login followed by a replayed statechanged. Every SUCCESS carries errorMessage "".
func TestBridgeInitAfterQueuedNotReady(t *testing.T) {
	e := newBridgeEnv(t, account.ModeFull)
	c := e.ws("")
	r := c.request("control.request.login", control, map[string]string{"token": e.token(auth.RoleAgent, "a1")})
	sid := r.str("session")
	si := c.query("session.query.init", sid)
	g := si.Body["channel-groups"].([]any)[0].(map[string]any)
	channel := sid + "." + g["id"].(string) + "." + g["channels"].([]any)[0].(map[string]any)["id"].(string)
	c.request("channel.request.notready", channel, map[string]any{"reason": "lunch"})
	m := c.mark()
	ch := c.query("channel.query.init", channel)
	if ch.str("state") != "NOT_READY" || ch.str("status") != "dnd" || ch.str("reason") != "lunch" {
		t.Fatalf("channel.query.init after notready: %s", ch.raw)
	}
	// a later event proves the stream went on; no statechanged of the past was replayed before it
	c.request("channel.request.notready", channel, map[string]any{"reason": "break"})
	sc := c.event(m, "channel.statechanged", channel)
	if sc.str("reason") != "break" {
		t.Fatalf("first statechanged after init: %s (replayed a change the answer already held)", sc.raw)
	}
	for _, msg := range []bmsg{r, si, ch} {
		if !bytes.Contains(msg.raw, []byte(`"result":"SUCCESS","errorMessage":""`)) {
			t.Errorf("SUCCESS without an empty errorMessage: %s", msg.raw)
		}
	}
}

// TestBridgeInvalidTextRefused: a message with invalid UTF-8 or NUL is a FAILURE that echoes no
// mangled requestId, and changes nothing.
func TestBridgeInvalidTextRefused(t *testing.T) {
	e := newBridgeEnv(t, account.ModeFull)
	c := e.ws("")
	for _, raw := range []string{
		"{\"header\":{\"type\":\"cti.query\",\"name\":\"control.query.init\",\"target\":\"CTI.CONTROL\",\"requestId\":\"r\xff\"}}",
		`{"header":{"type":"cti.query","name":"control.query.init","target":"CTI.CONTROL","requestId":"r\u0000"}}`,
	} {
		m := c.mark()
		c.sendRaw([]byte(raw))
		f := c.waitFor(m, "the FAILURE", func(b bmsg) bool { return b.Header.Type == "cti.response" })
		if f.Header.Result != "FAILURE" || f.Header.RequestID != "unknown" || !bytes.Contains(f.raw, []byte("not valid text")) {
			t.Errorf("%q: %s", raw, f.raw)
		}
	}
}
