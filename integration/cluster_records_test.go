package integration

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestClusterRecordRefusedAfterEvents: the half-applied path of a call record in a cluster
// (docs/cluster.md "What each failure costs"). A call ends while PostgreSQL refuses the call
// records (the calls table is renamed away: a real refusal by the database, no fault hook): the
// owner has appended call_disconnected to the stream, and its record write fails. The owner
// retries the record as it retries an append; once the table is back the record is written, so
// the hangup is acknowledged and every node reads the ended record (end_reason not node_lost, the
// call not left open for a later takeover to close a second time).
func TestClusterRecordRefusedAfterEvents(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	admin := c.mint("--account", "acme", "--role", "admin")
	for u, ext := range map[string]string{"bob": "101", "alice": "102"} {
		if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/users/"+u, admin, `{"name":"`+u+`","extension":"`+ext+`"}`); code/100 != 2 {
			t.Fatalf("PUT user %s: %d %s", u, code, b)
		}
	}
	callID, phones := c.openCallPhones(owner, admin)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `ALTER TABLE calls RENAME TO calls_away`); err != nil {
		t.Fatal(err)
	}
	restored := make(chan error, 1)
	go func() { // the table comes back once the owner has seen its record refused
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(owner.stderr.String(), "call record write failed; retrying") {
			if time.Now().After(deadline) {
				restored <- errors.New("the owner never retried a refused record")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, err := db.Exec(ctx, `ALTER TABLE calls_away RENAME TO calls`)
		restored <- err
	}()
	phones["bob"].result("h1", "hangup", map[string]any{"call_id": callID})
	if err := <-restored; err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		code, _, b := rest(t, "GET", nd.proc.base+"/api/v1/calls/"+callID, admin, "")
		var rec struct {
			EndedAt   *string `json:"ended_at"`
			EndReason string  `json:"end_reason"`
		}
		if code != 200 || json.Unmarshal(b, &rec) != nil || rec.EndedAt == nil || rec.EndReason == "node_lost" {
			t.Fatalf("record through %s: %d %s", nd.id, code, b)
		}
	}
}

// openCallPhones is openCall (cluster_crash_test.go) keeping the phones: bob calls alice, both
// on the owner, alice answers; it returns the call id and the phones by user.
func (c *testCluster) openCallPhones(owner *clusterNode, admin string) (string, map[string]*sig) {
	t := c.t
	s := &rtcServer{URL: owner.proc.base}
	phones := map[string]*sig{}
	for _, user := range []string{"bob", "alice"} {
		ph, _, err := s.dial(t, c.mint("--account", "acme", "--role", "agent", "--user", user), "")
		if err != nil {
			t.Fatalf("%s /rtc: %v", user, err)
		}
		ph.expect("welcome", nil)
		ph.negotiate(map[string]any{"mic": true})
		ph.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
		phones[user] = ph
	}
	phones["alice"].result("r1", "ready", nil)
	code, _, b := rest(t, "POST", owner.proc.base+"/api/v1/calls", admin, `{"user_id":"bob","phone":"alice"}`)
	var made struct {
		CallID string `json:"call_id"`
	}
	if code != 201 || json.Unmarshal(b, &made) != nil {
		t.Fatalf("make_call: %d %s", code, b)
	}
	isCall := func(name string) func(map[string]any) bool {
		return func(m map[string]any) bool {
			ev, _ := m["event"].(map[string]any)
			d, _ := ev["data"].(map[string]any)
			return ev["event"] == name && d["call_id"] == made.CallID
		}
	}
	phones["alice"].expect("event", isCall("incoming_call"))
	phones["alice"].result("a1", "answer", map[string]any{"call_id": made.CallID})
	phones["bob"].expect("event", isCall("call_connected"))
	return made.CallID, phones
}
