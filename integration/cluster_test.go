package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// others are the nodes other than nd.
func (c *testCluster) others(nd *clusterNode) []*clusterNode {
	var out []*clusterNode
	for _, x := range c.nodes {
		if x != nd {
			out = append(out, x)
		}
	}
	return out
}

// TestClusterThreeNodes: three cti-adapter processes with embedded NATS form a cluster with no
// other process. One of them owns the account (readyz); a CTI WebSocket client on each of the
// two other nodes receives the same events with the same seq; a REST command sent to a node
// that does not own the account has the owner's effect and the owner's reply (CTI-Node names
// the owner), errors included; a vox command on a non-owner is forwarded the same way; the other
// account's client receives nothing of it.
func TestClusterThreeNodes(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	c.addAccount("globex")
	owner := c.owner("acme", 3, 30*time.Second)
	rest2 := c.others(owner)
	admin := c.mint("--account", "acme", "--role", "admin")
	integ := c.mint("--account", "acme", "--role", "integrator")
	for _, u := range []string{"bob", "alice"} {
		code, node, body := rest(t, "PUT", rest2[1].proc.base+"/api/v1/users/"+u, admin, `{"name":"`+u+`","extension":"`+map[string]string{"bob": "101", "alice": "102"}[u]+`"}`)
		if code/100 != 2 || node != owner.id {
			t.Fatalf("PUT user %s through %s: %d CTI-Node %q (owner %s) %s", u, rest2[1].id, code, node, owner.id, body)
		}
	}
	onA := c.vox(rest2[0], "acme", integ, -1)
	onB := c.vox(rest2[1], "acme", c.mint("--account", "acme", "--role", "integrator"), -1)
	foreign := c.vox(rest2[0], "globex", c.mint("--account", "globex", "--role", "integrator"), -1)

	// The same command through the owner and through a non-owner: the same reply.
	for _, path := range []string{"/api/v1/calls/nosuchcall/variables", "/api/v1/users/nobody/logout"} {
		body := `{"variables":{"k":"v"}}`
		if strings.HasSuffix(path, "logout") {
			body = ""
		}
		c1, n1, b1 := rest(t, "POST", owner.proc.base+path, integ, body)
		c2, n2, b2 := rest(t, "POST", rest2[1].proc.base+path, integ, body)
		if c1 != c2 || string(b1) != string(b2) || n1 != owner.id || n2 != owner.id || c1/100 == 2 {
			t.Fatalf("%s: owner %d %s %s, non-owner %d %s %s", path, c1, n1, b1, c2, n2, b2)
		}
	}
	// Effects through a non-owner: settings changes, each one event on every node.
	const changes = 5
	settings := settingsWithGreeting(t, rest2[0].proc.base, admin)
	for i := range changes {
		code, node, b := rest(t, "PUT", rest2[0].proc.base+"/api/v1/settings", admin, settings(fmt.Sprintf("hello %d", i)))
		if code != 200 || node != owner.id {
			t.Fatalf("PUT settings via %s: %d %q %s", rest2[0].id, code, node, b)
		}
	}
	a, b := nextEvents(t, onA, changes, 30*time.Second), nextEvents(t, onB, changes, 30*time.Second)
	for i := range a {
		if a[i].Seq != b[i].Seq || string(a[i].raw) != string(b[i].raw) || (i > 0 && a[i].Seq != a[i-1].Seq+1) {
			t.Fatalf("event %d: node %s %s, node %s %s", i, rest2[0].id, a[i].raw, rest2[1].id, b[i].raw)
		}
		if !strings.Contains(string(a[i].raw), fmt.Sprintf("hello %d", i)) {
			t.Fatalf("event %d is %s", i, a[i].raw)
		}
	}
	// A vox command on a non-owner: forwarded, same result shape, same error codes.
	onB.command("logout", "r1", map[string]any{"user_id": "nobody"})
	if f := onB.reply("r1"); f.Event != "error" || f.errorData().Code != "not_found" {
		t.Fatalf("forwarded vox logout of an unknown user: %s", f.raw)
	}
	onB.command("logout", "r2", map[string]any{"user_id": "bob"})
	if f := onB.reply("r2"); f.Event != "error" || f.errorData().Code != "conflict" || f.errorData().Message != "conflict: user bob is offline" {
		t.Fatalf("forwarded vox logout of an offline user (the owner's text kept): %s", f.raw)
	}
	select {
	case f := <-foreign.in:
		t.Fatalf("globex client got %s", f.raw)
	default:
	}
	checkMetrics(t, c, owner)
}

// checkMetrics: the owner counts its account, the others their forwarded commands.
func checkMetrics(t *testing.T, c *testCluster, owner *clusterNode) {
	t.Helper()
	code, body := get(t, owner.proc.base+"/metrics", "")
	if code != 200 || !strings.Contains(string(body), "cti_owned_accounts") || !strings.Contains(string(body), "cti_stream_lag") {
		t.Fatalf("owner /metrics: %d", code)
	}
	var forwarded []string
	for _, nd := range c.others(owner) {
		_, b := get(t, nd.proc.base+"/metrics", "")
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "cti_forwarded_commands_total{") {
				forwarded = append(forwarded, nd.id+" "+line)
			}
		}
	}
	if !slices.ContainsFunc(forwarded, func(s string) bool { return strings.Contains(s, `kind="rest"`) }) ||
		!slices.ContainsFunc(forwarded, func(s string) bool { return strings.Contains(s, `kind="command"`) }) {
		t.Fatalf("forwarded counters: %v", forwarded)
	}
}

// settingsWithGreeting reads the account's settings and returns them as a PUT body with another
// IVR greeting.
func settingsWithGreeting(t *testing.T, base, admin string) func(string) string {
	t.Helper()
	code, _, b := rest(t, "GET", base+"/api/v1/settings", admin, "")
	var s map[string]any
	if code != 200 || json.Unmarshal(b, &s) != nil {
		t.Fatalf("GET settings: %d %s", code, b)
	}
	return func(greeting string) string { // called from several goroutines: a copy each
		var s map[string]any
		_ = json.Unmarshal(b, &s)
		s["ivr"].(map[string]any)["greeting"] = greeting
		out, _ := json.Marshal(s)
		return string(out)
	}
}
