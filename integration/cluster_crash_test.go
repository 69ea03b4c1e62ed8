package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClusterOwnerKilled: kill -9 of the account's owner node during a burst of commands sent to
// the other nodes. Every acknowledged command's event is delivered exactly once to clients that
// resume on the surviving nodes (0 lost, 0 duplicated, seq gapless); meanwhile commands are
// refused promptly with 503 and Retry-After; the account is served again by a surviving node;
// the call whose media was on the dead node ends with a record (end_reason node_lost) and
// call_disconnected ended_by system. One trial in CI; CTI_CLUSTER_TRIALS=20 runs 20 (the
// killed node is started again between trials).
func TestClusterOwnerKilled(t *testing.T) {
	trials := 1
	if v, err := strconv.Atoi(os.Getenv("CTI_CLUSTER_TRIALS")); err == nil && v > 0 {
		trials = v
	}
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	admin := c.mint("--account", "acme", "--role", "admin")
	owner := c.owner("acme", 3, 30*time.Second)
	for _, u := range []string{"bob", "alice"} {
		if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/users/"+u, admin, `{"name":"`+u+`"}`); code/100 != 2 {
			t.Fatalf("PUT user %s: %d %s", u, code, b)
		}
	}
	acked := map[string]bool{}
	for trial := range trials {
		owner = c.owner("acme", 3, time.Minute)
		lead := c.waitPlaced(c.nodes, 30*time.Second) // the Raft leaders are on another node
		if lead == owner {
			t.Fatalf("trial %d: the owner %s holds the Raft leaders", trial, owner.id)
		}
		callID := c.openCall(owner, admin)
		survivors := c.others(owner)
		b := c.burstAndKill(owner, survivors, admin, trial, acked)
		t.Logf("trial %d: %s killed at %s (leaders on %s); served again by a survivor %s later (%d refused, slowest command after the kill %s)",
			trial, owner.id, b.killedAt.UTC().Format("15:04:05.000"), lead.id, b.took.Round(time.Millisecond), b.refused, b.slowest.Round(time.Millisecond))
		c.logSince(survivors, b.killedAt.Add(-time.Second))
		newOwner := c.owner("acme", 2, 30*time.Second, survivors...)
		evs := c.checkDelivery(survivors, admin, acked)
		c.checkNodeLost(newOwner, admin, callID, evs)
		if trial < trials-1 {
			if err := c.launch(owner); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// openCall connects bob's and alice's phones to the owner (their media is there), has the CRM
// make bob call alice through another node, answers, and returns the call id.
func (c *testCluster) openCall(owner *clusterNode, admin string) string {
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
	code, node, b := rest(t, "POST", c.others(owner)[0].proc.base+"/api/v1/calls", admin, `{"user_id":"bob","phone":"alice"}`)
	var made struct {
		CallID string `json:"call_id"`
	}
	if code != 201 || node != owner.id || json.Unmarshal(b, &made) != nil {
		t.Fatalf("make_call through a non-owner: %d %q %s", code, node, b)
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
	return made.CallID
}

// burst is what burstAndKill saw.
type burst struct {
	killedAt time.Time
	took     time.Duration // from the kill to the ack of the first command sent after it
	refused  int           // 503s (with Retry-After) to commands sent after the kill
	slowest  time.Duration // the longest answer (ack or 503) to a command sent after the kill
}

// burstRun is the state the burst's clients share.
type burstRun struct {
	mu            sync.Mutex
	victim        *clusterNode
	acked         map[string]bool
	before, after int
	back          time.Time
	errs          []string
	res           burst
}

// record takes the answer to greeting g's command sent at start; it kills the victim after 40
// acknowledged ones and says whether the burst is done (40 more acknowledged after the kill).
func (b *burstRun) record(g string, start time.Time, code int, retry string) (done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	killed := b.res.killedAt
	if !killed.IsZero() && start.After(killed) {
		b.res.slowest = max(b.res.slowest, time.Since(start))
		if code == 503 {
			b.res.refused++
		}
	}
	switch {
	case code == 200:
		b.acked[g] = true
		if killed.IsZero() {
			b.before++
		} else {
			b.after++
			if b.back.IsZero() && start.After(killed) { // sent after the kill
				b.back = time.Now()
			}
		}
	case code == 429 && retry != "": // past the account's configuration writes: go on
	case code == 503 && retry != "":
		if d := time.Since(start); d > 15*time.Second {
			b.errs = append(b.errs, fmt.Sprintf("a 503 took %s", d))
		}
	default:
		b.errs = append(b.errs, fmt.Sprintf("%s: %d (Retry-After %q)", g, code, retry))
	}
	if killed.IsZero() && b.before >= 40 {
		b.res.killedAt = time.Now()
		b.victim.proc.kill()
	}
	return b.after >= 40
}

// burstAndKill sends settings changes to the survivors from 4 clients, kills victim (the owner,
// or another node) with SIGKILL after 40 acknowledged ones, and goes on until 40 more are
// acknowledged after the kill. It records the acknowledged greetings in acked.
func (c *testCluster) burstAndKill(victim *clusterNode, survivors []*clusterNode, admin string, trial int, acked map[string]bool) burst {
	t := c.t
	body := settingsWithGreeting(t, survivors[0].proc.base, admin)
	b := &burstRun{victim: victim, acked: acked}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				g := fmt.Sprintf("t%d w%d i%d", trial, w, i)
				start := time.Now()
				code, retry := putSettings2(survivors[(w+i)%2].proc.base, admin, body(g))
				if b.record(g, start, code, retry) {
					return
				}
				if code == 503 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		close(stop)
		<-finished
		t.Fatalf("the burst did not finish: %d acknowledged before the kill, %d after", b.before, b.after)
	}
	if len(b.errs) > 0 {
		t.Fatalf("refusals other than a prompt 503 or 429 with Retry-After: %v", b.errs)
	}
	b.res.took = b.back.Sub(b.res.killedAt)
	return b.res
}

// putSettings2 sends PUT /settings and returns the status and Retry-After.
func putSettings2(base, token, body string) (int, string) {
	req, _ := http.NewRequest("PUT", base+"/api/v1/settings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("Retry-After")
}

// checkDelivery: a client resuming from 0 on each survivor gets the whole log, gapless, the
// same on both, with every acknowledged greeting exactly once.
func (c *testCluster) checkDelivery(survivors []*clusterNode, admin string, acked map[string]bool) []wireEvent {
	t := c.t
	for _, nd := range survivors { // a node may answer 503 (Retry-After) until it sees the takeover
		deadline := time.Now().Add(30 * time.Second)
		for _, err := readEvents(t, nd.proc.base, admin, 0); err != nil; _, err = readEvents(t, nd.proc.base, admin, 0) {
			if !strings.Contains(err.Error(), "events: 503") || time.Now().After(deadline) {
				t.Fatalf("GET /events on %s: %v", nd.id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	log := allEvents(t, survivors[0].proc.base, admin)
	integ := c.mint("--account", "acme", "--role", "integrator")
	for _, nd := range survivors {
		cl := c.vox(nd, "acme", integ, 0)
		got := nextEvents(t, cl, len(log), time.Minute)
		for i, f := range got {
			if f.Seq != int64(i+1) || f.Seq != log[i].Seq || f.Event != log[i].Event {
				t.Fatalf("on %s, event %d has seq %d (%s), the log has %d", nd.id, i, f.Seq, f.Event, log[i].Seq)
			}
		}
		cl.close()
	}
	seen := map[string]int{}
	for _, ev := range log {
		if ev.Event != "settings_changed" {
			continue
		}
		var d struct {
			Settings struct {
				IVR struct {
					Greeting string `json:"greeting"`
				} `json:"ivr"`
			} `json:"settings"`
		}
		if json.Unmarshal(ev.Data, &d) == nil {
			seen[d.Settings.IVR.Greeting]++
		}
	}
	var lost, dup []string
	for g := range acked {
		switch seen[g] {
		case 0:
			lost = append(lost, g)
		case 1:
		default:
			dup = append(dup, g)
		}
	}
	if len(lost) > 0 || len(dup) > 0 {
		var trace []string
		for _, ev := range log {
			if ev.Event == "settings_changed" {
				i := strings.Index(string(ev.Data), `"greeting":"`)
				trace = append(trace, fmt.Sprintf("%d:%.20s", ev.Seq, string(ev.Data)[i+12:]))
			}
		}
		t.Fatalf("of %d acknowledged commands, lost %v, duplicated %v; log: %v", len(acked), lost, dup, trace)
	}
	return log
}

// checkNodeLost: the open call ended with a complete record and one call_disconnected.
func (c *testCluster) checkNodeLost(newOwner *clusterNode, admin, callID string, log []wireEvent) {
	t := c.t
	code, _, b := rest(t, "GET", newOwner.proc.base+"/api/v1/calls/"+callID, admin, "")
	var rec struct {
		EndedAt   *string `json:"ended_at"`
		EndReason string  `json:"end_reason"`
		EndedBy   string  `json:"ended_by"`
	}
	if code != 200 || json.Unmarshal(b, &rec) != nil || rec.EndedAt == nil || rec.EndReason != "node_lost" || rec.EndedBy != "system" {
		t.Fatalf("record of the call on the dead node: %d %s", code, b)
	}
	n := 0
	for _, ev := range log {
		if ev.Event == "call_disconnected" && strings.Contains(string(ev.Data), `"`+callID+`"`) {
			if !strings.Contains(string(ev.Data), `"ended_by":"system"`) {
				t.Fatalf("call_disconnected %s", ev.Data)
			}
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d call_disconnected for the call on the dead node", n)
	}
}

// logOnFailure prints each node's cluster log lines when the test failed.
func (c *testCluster) logOnFailure() {
	if !c.t.Failed() && os.Getenv("CTI_CLUSTER_LOG") == "" {
		return
	}
	for _, nd := range c.nodes {
		if nd.stderr == nil {
			continue
		}
		for _, line := range strings.Split(nd.stderr.String(), "\n") {
			if strings.Contains(line, `"component":"cluster"`) || strings.Contains(line, `"level":"ERROR"`) {
				c.t.Logf("%s: %.300s", nd.id, line)
			}
		}
	}
}

// logSince prints (with CTI_CLUSTER_LOG set) the nodes' cluster log lines from t0 on.
func (c *testCluster) logSince(nodes []*clusterNode, t0 time.Time) {
	if os.Getenv("CTI_CLUSTER_LOG") == "" {
		return
	}
	for _, nd := range nodes {
		for _, line := range strings.Split(nd.stderr.String(), "\n") {
			var l struct {
				Time      time.Time `json:"time"`
				Component string    `json:"component"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Time.After(t0) && l.Component == "cluster" {
				c.t.Logf("%s: %.300s", nd.id, line)
			}
		}
	}
}
