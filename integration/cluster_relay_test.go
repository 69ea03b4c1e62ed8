package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/schemas"
	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Relayed signalling (docs/cluster.md "Relayed signalling"): a /rtc or bridge connection that
// reaches a node which does not own its account is relayed to the owner; media flows straight
// to the owner.

// TestClusterRelayedWebCall: the account is owned by node A; the agent's phone (a real pion peer)
// signals through node B, the customer's web call through node C. The customer reaches the
// agent through the IVR, the agent answers, and both hear each other (tone detection): the
// owner runs the call as if both were local, its ICE candidates carry the media. B and C count
// their relayed connections; A relays none. Then A is killed while the phone's relayed
// connection is open: the phone is closed with 1012 (service restart), and once a survivor owns
// the account the phone reconnects through B and is served again.
func TestClusterRelayedWebCall(t *testing.T) {
	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	nodeB, nodeC := c.others(owner)[0], c.others(owner)[1]
	admin := c.mint("--account", "acme", "--role", "admin")
	if code, _, b := rest(t, "PUT", nodeB.proc.base+"/api/v1/users/bob", admin, `{"name":"Bob","queues":["support"]}`); code/100 != 2 {
		t.Fatalf("PUT user bob: %d %s", code, b)
	}
	bobToken := c.mint("--account", "acme", "--role", "agent", "--user", "bob")
	phone := relayedPhone(t, nodeB, bobToken)

	originC := "http://" + hostOf(t, nodeC.proc.base)
	tok := customerToken(t, nodeC.proc.base, "acme", originC)
	cust, callID := relayedCallTalks(t, phone, nodeC, tok, originC)
	for _, nd := range []*clusterNode{nodeB, nodeC} {
		if n := metricValue(t, nd, `cti_relayed_connections{kind="rtc"}`); n != 1 {
			t.Fatalf("%s relays %v /rtc connections, want 1", nd.id, n)
		}
	}
	if n := metricValue(t, owner, `cti_relayed_connections_total{kind="rtc"}`); n != 0 {
		t.Fatalf("the owner %s relayed %v connections", owner.id, n)
	}
	// the call, hence its media legs, runs on the owner alone
	if onA, onB, onC := metricValue(t, owner, "cti_active_calls"), metricValue(t, nodeB, "cti_active_calls"), metricValue(t, nodeC, "cti_active_calls"); onA != 1 || onB != 0 || onC != 0 {
		t.Fatalf("active calls: owner %v, relays %v and %v", onA, onB, onC)
	}
	cust.send(map[string]any{"type": "hangup"})
	phone.expect("event", eventNamed("call_disconnected"))
	<-cust.done
	if cust.code != 4000 {
		t.Fatalf("the customer's relayed socket closed with %d, want the owner's 4000", cust.code)
	}
	if code, node, b := rest(t, "GET", nodeC.proc.base+"/api/v1/calls/"+callID, admin, ""); code != 200 || node != owner.id ||
		!strings.Contains(string(b), `"queue":"support"`) {
		t.Fatalf("call record through %s: %d %q %s", nodeC.id, code, node, b)
	}

	relayRefusals(t, nodeB, nodeC, owner, tok, customerToken(t, nodeC.proc.base, "acme", originC))

	// The owner dies while the phone's relayed connection is open: 1012, then served again.
	owner.proc.kill()
	select {
	case <-phone.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the relayed phone was not closed after its account's owner died")
	}
	if phone.code != 1012 {
		t.Fatalf("the relayed phone closed with %d, want 1012 (service restart)", phone.code)
	}
	refused := redialUntilServed(t, nodeB, bobToken)
	survivor := c.owner("acme", 2, 30*time.Second, nodeB, nodeC)
	t.Logf("%s killed; %s owns acme; %d handshakes through %s refused 503 with Retry-After meanwhile", owner.id, survivor.id, refused, nodeB.id)
	relayedPhone(t, nodeB, bobToken)
}

// relayedCallTalks places a web call through nd with the customer token tok on a page of origin:
// IVR digit 2 (support), phone answers, tones both ways. It returns the customer and the call id.
func relayedCallTalks(t *testing.T, phone *sig, nd *clusterNode, tok, origin string) (*sig, string) {
	t.Helper()
	cust, _, err := (&rtcServer{URL: nd.proc.base}).dial(t, tok, origin)
	if err != nil {
		t.Fatalf("customer /rtc through %s: %v", nd.id, err)
	}
	cust.expect("welcome", nil)
	cust.negotiate(map[string]any{"display_name": "Ada"})
	callID := cust.expect("call", nil)["call_id"].(string)
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "ivr" })
	if err := cust.media.SendDigits("2"); err != nil {
		t.Fatal(err)
	}
	phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call" && ev["data"].(map[string]any)["call_id"] == callID
	})
	phone.result("r2", "answer", map[string]any{"call_id": callID})
	cust.expect("state", func(m map[string]any) bool { return m["state"] == "connected" })
	ctx, cancel := context.WithCancel(context.Background())
	stop1, stop2 := cust.media.Speak(ctx, 700), phone.media.Speak(ctx, 1300)
	rtctest.Eventually(t, 15*time.Second, "the agent hears the customer", func() bool { return phone.media.Hears(700) })
	rtctest.Eventually(t, 15*time.Second, "the customer hears the agent", func() bool { return cust.media.Hears(1300) })
	cancel()
	stop1()
	stop2()
	return cust, callID
}

// relayRefusals: the owner's refusal of a relayed handshake reaches the client as the owner
// wrote it (a customer token the owner has spent: 409; a page on a foreign origin: 403); a
// handshake carrying a relay header without the node's secret is refused 403 and not served.
func relayRefusals(t *testing.T, nodeB, nodeC, owner *clusterNode, spent, fresh string) {
	t.Helper()
	for _, c := range []struct {
		nd     *clusterNode
		token  string
		header http.Header
		want   int
		detail string
	}{
		{nodeB, spent, http.Header{}, 409, "already used"},
		{nodeC, fresh, http.Header{"Origin": {"https://evil.example"}}, 403, "evil.example"},
		{owner, fresh, http.Header{"Cti-Relay": {nodeB.id + " forged"}}, 403, "member"},
	} {
		req, _ := http.NewRequest("GET", c.nd.proc.base+"/rtc?access_token="+c.token, nil)
		for k, v := range c.header {
			req.Header[k] = v
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.want || !strings.Contains(string(b), c.detail) {
			t.Fatalf("handshake through %s with %v: %d %s, want %d naming %q", c.nd.id, c.header, res.StatusCode, b, c.want, c.detail)
		}
	}
}

// redialUntilServed opens /rtc through nd until the handshake succeeds (a minute at most): every
// refusal meanwhile (the account without a live owner) must be 503 unavailable with Retry-After.
// It returns how many were refused.
func redialUntilServed(t *testing.T, nd *clusterNode, token string) int {
	t.Helper()
	u := "ws" + strings.TrimPrefix(nd.proc.base, "http") + "/rtc?access_token=" + token
	deadline := time.Now().Add(time.Minute)
	for refused := 0; ; refused++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		ws, res, err := websocket.Dial(ctx, u, nil)
		cancel()
		if err == nil {
			ws.Close(websocket.StatusNormalClosure, "")
			return refused
		}
		if res == nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("handshake through %s while the owner is gone: %v %v", nd.id, res, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// relayedPhone connects an agent's phone through nd, negotiates its media and makes it ready.
func relayedPhone(t *testing.T, nd *clusterNode, token string) *sig {
	t.Helper()
	phone, res, err := (&rtcServer{URL: nd.proc.base}).dial(t, token, "")
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		t.Fatalf("phone /rtc through %s: %d %v", nd.id, code, err)
	}
	if w := phone.expect("welcome", nil); w["user_id"] != "bob" {
		t.Fatalf("welcome through %s: %v", nd.id, w)
	}
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)
	return phone
}

// customerToken asks base's public endpoint for a web call token of acct as a page on origin.
func customerToken(t *testing.T, base, acct, origin string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/webcall/"+acct+"/token", nil)
	req.Header.Set("Origin", origin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Token string }
	if res.StatusCode != http.StatusCreated || jsonDecode(res, &body) != nil || body.Token == "" {
		t.Fatalf("web call token from %s: %d", base, res.StatusCode)
	}
	return body.Token
}

func hostOf(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// metricValue is the value of the sample named sample (name{labels}) on nd's /metrics (0 when
// absent).
func metricValue(t *testing.T, nd *clusterNode, sample string) float64 {
	t.Helper()
	code, body := get(t, nd.proc.base+"/metrics", "")
	if code != 200 {
		t.Fatalf("%s /metrics: %d", nd.id, code)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q", nd.id, line)
			}
			return f
		}
	}
	return 0
}

// TestClusterRelayedBridge: bridges on a node that does not own their account. Over TCP (no
// token until the login): control.query.init is answered provisionally, the login is relayed
// to the owner, which raises control.statechanged with the account's mode, and the requests
// have the owner's effect (status_changed on the owner's event stream) and its refusals; over a WebSocket with a
// URL token the same through another node. Both nodes count their relayed connections. When the
// owner drains, the relayed WebSocket is closed with a code the bridge reconnects on.
func TestClusterRelayedBridge(t *testing.T) {
	c := startTestClusterArgs(t, 3, func(int) []string { return []string{"--bridge-addr", "127.0.0.1:0"} })
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	others := c.others(owner)
	admin := c.mint("--account", "acme", "--role", "admin")
	for _, u := range []string{"bob", "alice"} {
		if code, _, b := rest(t, "PUT", others[0].proc.base+"/api/v1/users/"+u, admin, `{"name":"`+u+`"}`); code/100 != 2 {
			t.Fatalf("PUT user %s: %d %s", u, code, b)
		}
	}
	events := c.vox(owner, "acme", c.mint("--account", "acme", "--role", "integrator"), -1)
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	tcp := dialBridgeTCP(t, bridgeAddr(t, others[0]), reg)
	if pi := tcp.query("control.query.init", control); pi.str("mode") != "simple" || pi.str("session") != "" {
		t.Fatalf("provisional control.query.init through %s: %s", others[0].id, pi.raw)
	}
	m := tcp.mark()
	bob := login(t, tcp, "bob", c.mint("--account", "acme", "--role", "agent", "--user", "bob"))
	if sc := tcp.event(m, "control.statechanged", control); sc.str("mode") != "full" || sc.str("session") != bob.sid {
		t.Fatalf("control.statechanged after the relayed login: %s", sc.raw)
	}
	bob.request("channel.request.notready", bob.channel, map[string]any{"reason": "lunch"})
	expectStatus(t, events, "bob", "dnd")
	// the owner's own refusal: bob has no phone there
	bob.refused("channel.request.ready", bob.channel, map[string]any{}, "no healthy phone")

	ws := dialBridgeWS(t, others[1].proc.base, c.mint("--account", "acme", "--role", "agent", "--user", "alice"), reg)
	alice := login(t, ws, "alice", "")
	alice.request("channel.request.notready", alice.channel, map[string]any{"reason": "lunch"})
	expectStatus(t, events, "alice", "dnd")
	if n := metricValue(t, others[0], `cti_relayed_connections{kind="bridge_tcp"}`); n != 1 {
		t.Fatalf("%s relays %v bridge TCP connections, want 1", others[0].id, n)
	}
	if n := metricValue(t, others[1], `cti_relayed_connections{kind="bridge_ws"}`); n != 1 {
		t.Fatalf("%s relays %v bridge WebSockets, want 1", others[1].id, n)
	}
	tcp.close()
	waitMetric(t, others[0], `cti_relayed_connections{kind="bridge_tcp"}`, 0)

	// The owner drains (SIGTERM): the relayed WebSocket closes with the owner's going-away code.
	if err := owner.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := ws.waitClosed()
	if code != websocket.StatusGoingAway && code != 1012 {
		t.Fatalf("the relayed bridge WebSocket closed with %d when the owner drained, want 1001 or 1012", code)
	}
	t.Logf("the owner %s drained: the relayed bridge WebSocket closed with %d", owner.id, code)
}

// expectStatus waits for status_changed of user with status on cl.
func expectStatus(t *testing.T, cl *voxClient, user, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f := cl.next(time.Until(deadline))
		var d struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		}
		if f.Event == "status_changed" && json.Unmarshal(f.Data, &d) == nil && d.UserID == user && d.Status == status {
			return
		}
	}
}

// waitMetric waits until sample on nd is want.
func waitMetric(t *testing.T, nd *clusterNode, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, nd, sample) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %v, want %v", nd.id, sample, metricValue(t, nd, sample), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bridgeAddr is the address nd's bridge TCP listener bound (its log line).
func bridgeAddr(t *testing.T, nd *clusterNode) string {
	t.Helper()
	for _, line := range strings.Split(nd.stderr.String(), "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "bridge listening" {
			return l.Addr
		}
	}
	t.Fatalf("%s logged no bridge address", nd.id)
	return ""
}

// TestClusterRelayLatency measures what the relay adds to a /rtc command's round trip: an
// agent's phone on the owner and another through a non-owner send the same command (hold of
// an unknown call: through auth, the core and back as an error frame), alternately, 300 times
// each after a warm-up, paced under the frame budget; p50 and p99 of each. A figure, not a
// check: it runs with CTI_CLUSTER_BENCH=1 only (go test ./integration -run
// TestClusterRelayLatency -v).
func TestClusterRelayLatency(t *testing.T) {
	if os.Getenv("CTI_CLUSTER_BENCH") == "" {
		t.Skip("a measurement: set CTI_CLUSTER_BENCH=1")
	}
	c := startTestCluster(t, 3)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	admin := c.mint("--account", "acme", "--role", "admin")
	phones := map[*clusterNode]*sig{}
	for i, nd := range []*clusterNode{owner, c.others(owner)[0]} {
		user := []string{"bob", "alice"}[i]
		if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/users/"+user, admin, `{"name":"`+user+`"}`); code/100 != 2 {
			t.Fatalf("PUT user: %d %s", code, b)
		}
		ph, _, err := (&rtcServer{URL: nd.proc.base}).dial(t, c.mint("--account", "acme", "--role", "agent", "--user", user), "")
		if err != nil {
			t.Fatal(err)
		}
		ph.expect("welcome", nil)
		phones[nd] = ph
	}
	var direct, relayed []time.Duration
	for i := range 700 {
		nd := owner
		if i%2 == 1 {
			nd = c.others(owner)[0]
		}
		ph, id := phones[nd], fmt.Sprintf("q%d", i)
		start := time.Now()
		ph.send(map[string]any{"type": "command", "request_id": id, "command": "hold", "call_id": "nosuchcall"})
		ph.expect("error", func(m map[string]any) bool { return m["request_id"] == id })
		d := time.Since(start)
		time.Sleep(60 * time.Millisecond) // under 20 frames per second per connection
		if i < 100 {
			continue
		}
		if nd == owner {
			direct = append(direct, d)
		} else {
			relayed = append(relayed, d)
		}
	}
	q := func(ds []time.Duration, p int) time.Duration { slices.Sort(ds); return ds[len(ds)*p/100] }
	t.Logf("/rtc command on the owner: p50 %s p99 %s; relayed through a non-owner: p50 %s p99 %s; p50 added %s, p99 added %s",
		q(direct, 50), q(direct, 99), q(relayed, 50), q(relayed, 99), q(relayed, 50)-q(direct, 50), q(relayed, 99)-q(direct, 99))
}
