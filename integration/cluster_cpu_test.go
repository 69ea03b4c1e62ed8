package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestClusterCPUPerDelivery measures the server CPU per delivery (docs/cluster.md "Speed"): 1,000
// CTI WebSocket subscribers on each node of a 3-node cluster against 1,000 on a single node
// (SQLite, the default), the same events (an agent's status toggled by its phone on the owner)
// delivered to every subscriber. The servers are processes of their own; this test process is
// the load generator (its subscribers only count frames), so each server's CPU (user+system
// from /proc/<pid>/stat) over the run, divided by the deliveries its subscribers got, is the
// server's cost of one delivery, less what the node spends idle over as long (measured just
// before). A figure, not a check: CTI_CLUSTER_BENCH=1 only (go test ./integration -run
// TestClusterCPUPerDelivery -v); CTI_CLUSTER_CPU_ONE=1 puts the cluster's subscribers on one
// non-owner only (a machine less loaded by the load generator); CTI_CLUSTER_CPU_MAX_RATIO=1.3
// (the target) fails a node whose net figure exceeds that many times the single node's.
func TestClusterCPUPerDelivery(t *testing.T) {
	if os.Getenv("CTI_CLUSTER_BENCH") == "" {
		t.Skip("a measurement: set CTI_CLUSTER_BENCH=1")
	}
	const subs, events = 1000, 600
	single := startSingleNode(t)
	singleRes := measureDeliveries(t, []*clusterNode{single.node}, single.node, single.admin, single.integ, single.phone, subs, events)

	c := startTestCluster(t, 3)
	t.Cleanup(c.logOnFailure)
	c.addAccount("acme")
	owner := c.owner("acme", 3, 30*time.Second)
	measured := c.nodes
	if os.Getenv("CTI_CLUSTER_CPU_ONE") != "" { // subscribers on one non-owner only: the machine less loaded
		measured = c.others(owner)[:1]
	}
	res := measureDeliveries(t, measured, owner, c.mint("--account", "acme", "--role", "admin"),
		c.mint("--account", "acme", "--role", "integrator"),
		func(uid string) string { return c.mint("--account", "acme", "--role", "agent", "--user", uid) }, subs, events)
	base := singleRes[0]
	t.Logf("single node: %d deliveries in %s, server CPU %s (idle share %s), %.0f ns/delivery net, %.0f gross",
		base.deliveries, base.took.Round(time.Millisecond), base.cpu, base.idle.Round(time.Millisecond), base.perDelivery(), base.gross())
	for i, r := range res {
		role := "non-owner"
		if measured[i] == owner {
			role = "owner"
		}
		t.Logf("%s (%s): %d deliveries in %s, server CPU %s (idle share %s), %.0f ns/delivery net (%.2fx the single node), %.0f gross (%.2fx)",
			measured[i].id, role, r.deliveries, r.took.Round(time.Millisecond), r.cpu, r.idle.Round(time.Millisecond),
			r.perDelivery(), r.perDelivery()/base.perDelivery(), r.gross(), r.gross()/base.gross())
		if max, _ := strconv.ParseFloat(os.Getenv("CTI_CLUSTER_CPU_MAX_RATIO"), 64); max > 0 && r.perDelivery() > max*base.perDelivery() {
			t.Errorf("%s: %.2fx the single node's CPU per delivery, over %.2fx", measured[i].id, r.perDelivery()/base.perDelivery(), max)
		}
	}
}

type cpuResult struct {
	deliveries int64
	cpu        time.Duration // over the run
	idle       time.Duration // what the node spent idle over as long (measured before the run)
	took       time.Duration // the run
}

// perDelivery is the CPU of the run less the idle part, per delivery (ns).
func (r cpuResult) perDelivery() float64 {
	return float64((r.cpu - r.idle).Nanoseconds()) / float64(r.deliveries)
}

// gross is the CPU of the run per delivery, idle included (ns).
func (r cpuResult) gross() float64 { return float64(r.cpu.Nanoseconds()) / float64(r.deliveries) }

// singleNode is one cti-adapter process on SQLite with the account acme and its tokens.
type singleNode struct {
	node         *clusterNode
	admin, integ string
	phone        func(uid string) string // an agent's token, once the agent exists
}

func startSingleNode(t *testing.T) singleNode {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(bin, append(args, "--data-dir", dir)...)
		cmd.Env = clusterEnv()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	run("account", "add", "acme")
	s := singleNode{admin: run("token", "--account", "acme", "--role", "admin"),
		integ: run("token", "--account", "acme", "--role", "integrator"),
		phone: func(uid string) string { return run("token", "--account", "acme", "--role", "agent", "--user", uid) }}
	s.node = &clusterNode{id: "single", dir: dir,
		args: []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--no-demo", "--rtc-loopback"}}
	c := &testCluster{t: t}
	if err := c.launch(s.node); err != nil {
		t.Fatal(err)
	}
	return s
}

// measureDeliveries connects subs subscribers to each node, toggles agent1's status events
// times through its phone on owner, and returns each node's server CPU and deliveries.
func measureDeliveries(t *testing.T, nodes []*clusterNode, owner *clusterNode, admin, integ string, phoneTok func(uid string) string, subs, events int) []cpuResult {
	t.Helper()
	if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/settings", admin, fmt.Sprintf(`{"max_connections":%d}`, 4*subs)); code != 200 {
		t.Fatalf("PUT settings: %d %s", code, b)
	}
	counts := make([]*atomic.Int64, len(nodes))
	for i, nd := range nodes {
		counts[i] = subscribeMany(t, nd.proc.base, integ, subs)
	}
	toggle := agentToggles(t, owner, admin, phoneTok)
	// Warm-up: every subscriber has an event (its subscription is in place).
	for i := 0; ; i++ {
		toggle(i)
		if waitAll(counts, int64(subs), 2*time.Second) || i > 50 {
			break
		}
	}
	// The CPU of idle subscribers over the time the events take (leases, heartbeats, pings),
	// measured before, is subtracted: what is left is the cost of the deliveries.
	waitQuiet(counts)
	const idleFor = 3 * time.Second
	idle := make([]time.Duration, len(nodes))
	for i, nd := range nodes {
		idle[i] = procCPU(t, nd.proc.cmd.Process.Pid)
	}
	time.Sleep(idleFor) // a measurement window
	for i, nd := range nodes {
		idle[i] = procCPU(t, nd.proc.cmd.Process.Pid) - idle[i]
	}
	before := make([]int64, len(nodes))
	cpu0 := make([]time.Duration, len(nodes))
	for i, nd := range nodes {
		before[i], cpu0[i] = counts[i].Load(), procCPU(t, nd.proc.cmd.Process.Pid)
	}
	began := time.Now()
	start := 100 // distinct request ids after the warm-up
	pace := eventPace()
	defer pace.Stop()
	for i := range events {
		<-pace.C
		toggle(start + i)
	}
	want := make([]int64, len(nodes))
	for i := range nodes {
		want[i] = before[i] + int64(events*subs)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := range nodes {
		for counts[i].Load() < want[i] && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	took := time.Since(began)
	out := make([]cpuResult, len(nodes))
	for i, nd := range nodes {
		out[i] = cpuResult{deliveries: counts[i].Load() - before[i], cpu: procCPU(t, nd.proc.cmd.Process.Pid) - cpu0[i],
			idle: time.Duration(float64(idle[i]) * float64(took) / float64(idleFor)), took: took}
		if out[i].deliveries != int64(events*subs) {
			t.Fatalf("%s: %d of %d deliveries", nd.id, out[i].deliveries, events*subs)
		}
	}
	return out
}

// eventPace paces the measured events: CTI_CLUSTER_CPU_RATE events per second (default 25). On
// this machine's 2 cores, three servers writing to and a load generator reading from 3,000
// sockets at the phones' full rate (~130 events/s, 400,000 deliveries/s) starve for CPU, and a
// starved process's CPU per delivery is not its cost; at 25/s every process keeps up.
func eventPace() *time.Ticker {
	rate, err := strconv.ParseFloat(os.Getenv("CTI_CLUSTER_CPU_RATE"), 64)
	if err != nil || rate <= 0 {
		rate = 25
	}
	return time.NewTicker(time.Duration(float64(time.Second) / rate))
}

// cpuAgents is how many agents' phones toggle their status: /rtc allows 20 frames per second
// per connection, so each phone sends one command per 60 ms at most.
const cpuAgents = 8

// agentToggles connects the phones of cpuAgents agents to owner and returns a func that makes
// event i: agent i%cpuAgents's status toggled (ready / notready), paced under the frame limit.
func agentToggles(t *testing.T, owner *clusterNode, admin string, phoneTok func(uid string) string) func(i int) {
	t.Helper()
	phones := make([]*sig, cpuAgents)
	last := make([]time.Time, cpuAgents)
	for k := range phones {
		uid := "agent" + strconv.Itoa(k+1)
		if code, _, b := rest(t, "PUT", owner.proc.base+"/api/v1/users/"+uid, admin, `{"name":"Agent","queues":["support"]}`); code/100 != 2 {
			t.Fatalf("PUT user: %d %s", code, b)
		}
		p, _, err := (&rtcServer{URL: owner.proc.base}).dial(t, phoneTok(uid), "")
		if err != nil {
			t.Fatal(err)
		}
		p.expect("welcome", nil)
		p.expect("snapshot", nil)
		p.negotiate(map[string]any{"mic": true})
		p.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
		phones[k] = p
	}
	return func(i int) {
		k := i % cpuAgents
		cmd := "ready"
		if (i/cpuAgents)%2 == 1 {
			cmd = "notready"
		}
		if wait := 60*time.Millisecond - time.Since(last[k]); wait > 0 {
			time.Sleep(wait) // pacing under the /rtc frame limit, not synchronisation
		}
		last[k] = time.Now()
		phones[k].result("s"+strconv.Itoa(i), cmd, nil)
	}
}

// waitAll waits (ceiling d) until every counter has at least n.
func waitAll(counts []*atomic.Int64, n int64, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		ok := true
		for _, c := range counts {
			ok = ok && c.Load() >= n
		}
		if ok {
			return true
		}
	}
	return false
}

// waitQuiet waits until no counter moved for 300 ms (the warm-up's events are all in).
func waitQuiet(counts []*atomic.Int64) {
	sum := func() (s int64) {
		for _, c := range counts {
			s += c.Load()
		}
		return
	}
	for last := int64(-1); ; {
		s := sum()
		if s == last {
			return
		}
		last = s
		time.Sleep(300 * time.Millisecond)
	}
}

// subscribeMany opens n CTI WebSocket subscribers of acme on base with the integrator token;
// each counts the frames it reads after its connected handshake.
func subscribeMany(t *testing.T, base, token string, n int) *atomic.Int64 {
	t.Helper()
	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(base, "http") + "/acme-" + md5Hex(jti(t, token)) + "?access_token=" + token
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	var got atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, n)
	for range n {
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			t.Fatalf("subscriber %d of %s: %v", len(conns), base, err)
		}
		_, acc, err := ws.Read(ctx) // connection_accepted
		var f frame
		if err != nil || json.Unmarshal(acc, &f) != nil {
			t.Fatalf("connection_accepted: %v %s", err, acc)
		}
		sender, _ := f.field("sender_id").(string)
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"connected","sender_id":"`+sender+`"}`)); err != nil {
			t.Fatal(err)
		}
		ws.SetReadLimit(1 << 20)
		conns = append(conns, ws)
		wg.Go(func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
				got.Add(1)
			}
		})
	}
	t.Cleanup(func() {
		for _, ws := range conns {
			_ = ws.CloseNow()
		}
		wg.Wait()
		client.CloseIdleConnections()
	})
	return &got
}

// procCPU is process pid's user+system CPU time (/proc/<pid>/stat, clock ticks of 10 ms).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
