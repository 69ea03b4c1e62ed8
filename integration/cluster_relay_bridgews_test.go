package integration

import (
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/schemas"
)

// TestClusterRelayedBridgeWSLogin (issue 15): a bridge WebSocket opened without a URL token on a
// node that does not own the account is served there until its login: control.query.init is
// answered provisionally and a login with a wrong token is refused there. The login with the
// agent's token is relayed to the owner, which answers it and raises control.statechanged with
// the account's mode; session.query.init is the owner's, and so are the events of a status
// change the agent's other desktop makes on the owner. The relaying node counts the connection.
// When the owner is killed, the relayed WebSocket closes with 1012 (service restart).
func TestClusterRelayedBridgeWSLogin(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	relay := c.others(owner)[0]
	admin := c.mint("--account", "acme", "--role", "admin")
	if code, _, b := rest(t, "PUT", relay.proc.base+"/api/v1/users/carol", admin, `{"name":"Carol"}`); code/100 != 2 {
		t.Fatalf("PUT user carol: %d %s", code, b)
	}
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	carolToken := c.mint("--account", "acme", "--role", "agent", "--user", "carol")

	ws := dialBridgeWS(t, relay.proc.base, "", reg)
	if pi := ws.query("control.query.init", control); pi.str("mode") != "simple" || pi.str("session") != "" {
		t.Fatalf("provisional control.query.init through %s: %s", relay.id, pi.raw)
	}
	ws.refused("control.request.login", control, map[string]string{"token": "not.a.token"})
	m := ws.mark()
	carol := login(t, ws, "carol", carolToken)
	if sc := ws.event(m, "control.statechanged", control); sc.str("mode") != "full" || sc.str("session") != carol.sid {
		t.Fatalf("control.statechanged after the relayed login: %s", sc.raw)
	}
	if n := metricValue(t, relay, `cti_relayed_connections{kind="bridge_ws"}`); n != 1 {
		t.Fatalf("%s relays %v bridge WebSockets, want 1", relay.id, n)
	}

	// the agent's other desktop, on the owner, changes her status: the relayed desk sees it
	other := login(t, dialBridgeWS(t, owner.proc.base, carolToken, reg), "carol", "")
	m = carol.mark()
	other.request("channel.request.notready", other.channel, map[string]any{"reason": "lunch"})
	if sc := carol.event(m, "channel.statechanged", carol.channel); sc.str("state") != "NOT_READY" || sc.str("reason") != "lunch" {
		t.Fatalf("channel.statechanged on the relayed desk: %s", sc.raw)
	}
	if ci := carol.query("channel.query.init", carol.channel); ci.str("state") != "NOT_READY" {
		t.Fatalf("channel.query.init on the relayed desk: %s", ci.raw)
	}

	// the owner dies: the relayed WebSocket is closed with 1012, the bridge reconnects
	owner.proc.kill()
	if code := ws.waitClosed(); code != 1012 {
		t.Fatalf("the relayed bridge WebSocket closed with %d when the owner was killed, want 1012", code)
	}
}
