package integration

import (
	"strings"
	"testing"
	"time"
)

// A prompt generated through a non-owner is generated and kept by the account's owner (REST is
// forwarded there) and stored in PostgreSQL; when the owner dies, the new owner, which loaded
// its prompts when it started (before this one existed), plays it after its refresh of the
// table's stamps (every 10 s), without a restart.
func TestClusterPromptSurvivesOwner(t *testing.T) {
	needEspeak(t)
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	via := c.others(owner)[0]
	admin := c.mint("--account", "acme", "--role", "admin")
	code, node, body := rest(t, "PUT", via.proc.base+"/api/v1/prompts/greeting", admin, `{"text":"Welcome to acme."}`)
	if code != 201 || node != owner.id {
		t.Fatalf("PUT /prompts through %s: %d %q %s", via.id, code, node, body)
	}
	if code, node, _ := rest(t, "GET", via.proc.base+"/api/v1/prompts/greeting/audio", admin, ""); code != 200 || node != owner.id {
		t.Fatalf("the owner's preview: %d %q", code, node)
	}

	owner.proc.kill()
	survivors := c.others(owner)
	next := c.owner("acme", 2, 60*time.Second, survivors...)
	deadline := time.Now().Add(40 * time.Second)
	for {
		code, node, body := rest(t, "GET", via.proc.base+"/api/v1/prompts/greeting/audio", admin, "")
		if code == 200 && node == next.id && strings.HasPrefix(string(body), "RIFF") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new owner %s never served the prompt: %d %q %.200s", next.id, code, node, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
