package integration

import (
	"strings"
	"testing"
	"time"
)

// TestClusterSettingsEveryNode: a settings change committed by the owner is seen by every node
// (docs/cluster.md "Settings on every node"). Nodes B and C, which do not own the account, have
// its settings cached (they refused a chat token for a page origin the account does not allow);
// allowed_origins is changed through C (forwarded to the owner); as soon as B's CTI client gets
// the settings_changed event, B's origin check follows: the same request gets its token (the
// cache is updated before the event is fanned out), and is refused again after the origin is
// removed.
func TestClusterSettingsEveryNode(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	others := c.others(owner)
	b, via := others[0], others[1]
	admin := c.mint("--account", "acme", "--role", "admin")
	for _, nd := range others {
		if code, m := publicChatToken(t, nd.proc.base, "acme", shopOrigin); code != 403 {
			t.Fatalf("token for a page origin not allowed, on %s: %d %v", nd.id, code, m)
		}
	}
	onB := c.vox(b, "acme", c.mint("--account", "acme", "--role", "integrator"), -1)
	for i, origins := range []string{`["` + shopOrigin + `"]`, `[]`} {
		code, node, body := rest(t, "PUT", via.proc.base+"/api/v1/settings", admin, `{"allowed_origins":`+origins+`}`)
		if code != 200 || node != owner.id {
			t.Fatalf("PUT settings through %s: %d %q %s", via.id, code, node, body)
		}
		ev := nextEvents(t, onB, 1, 30*time.Second)[0]
		if ev.Event != "settings_changed" || !strings.Contains(string(ev.Data), `"allowed_origins":`+origins) {
			t.Fatalf("B's event %d: %s", i, ev.raw)
		}
		code, m := publicChatToken(t, b.proc.base, "acme", shopOrigin)
		if want := map[int]int{0: 201, 1: 403}[i]; code != want {
			t.Fatalf("after settings_changed %d, B answers the token request %d (want %d): %v", i, code, want, m)
		}
	}
}

// TestClusterSettingsRefusedAfterWrite: the half-applied path of a settings change (docs/cluster.md
// "What each failure costs"). The two nodes that do not own the account are killed (kill -9): the
// stream has no quorum, but the owner still holds its lease for a few seconds and takes a settings
// PUT; it writes the settings, then cannot append settings_changed (retried 10 s) and answers 503.
// The refused change must change nothing: once the others are back, every node serves the old
// settings (the owner wrote them back) and refuses the origin the refused PUT would have allowed.
func TestClusterSettingsRefusedAfterWrite(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	admin := c.mint("--account", "acme", "--role", "admin")
	others := c.others(owner)
	for _, nd := range others {
		nd.proc.kill()
	}
	code, _, body := rest(t, "PUT", owner.proc.base+"/api/v1/settings", admin, `{"allowed_origins":["`+shopOrigin+`"]}`)
	if !strings.Contains(owner.stderr.String(), "event append failed; retrying") {
		t.Fatalf("the PUT (%d %s) did not reach the append: the owner had lost the account first", code, body)
	}
	if code != 503 {
		t.Fatalf("PUT settings without a quorum: %d %s, want 503", code, body)
	}
	done := make(chan error, len(others))
	for _, nd := range others {
		go func() { done <- c.launch(nd) }()
	}
	for range others {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	c.owner("acme", 3, time.Minute)
	for _, nd := range c.nodes {
		code, b := restUntilServed(t, "GET", nd.proc.base+"/api/v1/settings", admin)
		if code != 200 || strings.Contains(string(b), shopOrigin) {
			t.Fatalf("settings through %s after the refused PUT: %d %s", nd.id, code, b)
		}
		if code, m := publicChatToken(t, nd.proc.base, "acme", shopOrigin); code != 403 {
			t.Fatalf("%s allows the origin of the refused PUT: %d %v", nd.id, code, m)
		}
	}
}

// restUntilServed sends a request without body until it is not answered 503 (the account between
// owners: the client retries, as Retry-After says), 30 s at most.
func restUntilServed(t *testing.T, method, url, token string) (int, []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, b := rest(t, method, url, token, "")
		if code != 503 || time.Now().After(deadline) {
			return code, b
		}
		time.Sleep(100 * time.Millisecond)
	}
}
