package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/webrtc/rtctest"
)

// Relayed SIP (docs/cluster.md "Relayed SIP"): three cti-adapter processes, each with its SIP
// listener on a loopback address of its own (127.0.0.2-4) and an RTP range of its own; the
// carrier (sipp) is 127.0.0.1, the trunk's host.

var clusterSIPIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

type sipCluster struct {
	*testCluster
	sip   []string // node i's SIP address
	admin string
	uas   int // the port of the carrier's UAS (outbound calls)
}

func startSIPCluster(t *testing.T) *sipCluster {
	t.Helper()
	needSipp(t)
	sc := &sipCluster{uas: freePort(t)}
	for _, ip := range clusterSIPIPs {
		sc.sip = append(sc.sip, net.JoinHostPort(ip, strconv.Itoa(freePort(t))))
	}
	sc.testCluster = startTestClusterArgs(t, 3, func(i int) []string {
		return []string{"--sip-addr", sc.sip[i], "--sip-rtp-ports", fmt.Sprintf("%d-%d", 36000+1000*i, 36099+1000*i)}
	})
	t.Cleanup(sc.logOnFailure)
	t.Cleanup(func() {
		for _, nd := range sc.nodes {
			if t.Failed() && nd.stderr != nil {
				for _, line := range strings.Split(nd.stderr.String(), "\n") {
					if strings.Contains(line, `"component":"sip"`) {
						t.Logf("%s: %.400s", nd.id, line)
					}
				}
			}
		}
	})
	for _, a := range sc.sip {
		waitSIPUp(t, a)
	}
	sc.addAccount("acme")
	sc.admin = sc.mint("--account", "acme", "--role", "admin")
	return sc
}

func (sc *sipCluster) index(nd *clusterNode) int { return slices.Index(sc.nodes, nd) }

// setUp puts agent1 (queue support) and the carrier's trunk through node via (forwarded to the
// owner) and connects agent1's phone to the owner, ready.
func (sc *sipCluster) setUp(owner, via *clusterNode) *sig {
	t := sc.t
	for path, body := range map[string]string{
		"/api/v1/users/agent1":   `{"name":"Agent One","queues":["support"]}`,
		"/api/v1/trunks/carrier": `{"host":"127.0.0.1:` + strconv.Itoa(sc.uas) + `","transport":"udp","numbers":["+15550100"],"from_number":"+15550100","codecs":["PCMU"],"max_calls":10}`,
	} {
		if code, node, b := rest(t, "PUT", via.proc.base+path, sc.admin, body); code/100 != 2 || node != owner.id {
			t.Fatalf("PUT %s through %s: %d %q %s", path, via.id, code, node, b)
		}
	}
	phone, _, err := (&rtcServer{URL: owner.proc.base}).dial(t, sc.mint("--account", "acme", "--role", "agent", "--user", "agent1"), "")
	if err != nil {
		t.Fatal(err)
	}
	phone.expect("welcome", nil)
	phone.negotiate(map[string]any{"mic": true})
	phone.expect("snapshot", func(m map[string]any) bool { return m["owner"] == true })
	phone.result("r1", "ready", nil)
	return phone
}

// TestClusterSIPRelay: an INVITE reaching node B for an account owned by node A is relayed to A:
// the agent's phone on A answers; the 200 carries B's Record-Route and A's SDP (A's address, a
// port of A's RTP range, sipp checks both), and the agent hears its tone echoed by sipp (media
// between the carrier and A); sipp's BYE (routed by B) ends the call at A with a record and one
// call_disconnected. A CANCEL right after B's 100 Trying ends it cleanly (487, nothing left
// open). Relayed-for headers from non-members are not trusted, a member's malformed one is 400,
// an INVITE relayed to a node that does not own the account is 503 (never relayed again), and
// none of them changes anything. make_call through a non-owner dials from the owner. Last, the
// owner of a relayed call is killed: the relay hangs up the carrier.
func TestClusterSIPRelay(t *testing.T) {
	sc := startSIPCluster(t)
	owner := sc.owner("acme", 3, 30*time.Second)
	relay := sc.others(owner)[0]
	phone := sc.setUp(owner, relay)
	// One after the other on the same cluster, in the test itself (the phone's helpers fail t).
	sc.relayedCall(t, owner, relay, phone)
	sc.relayedCancel(t, owner, relay, "u1")
	sc.relayedCancel(t, owner, relay, "t1") // over TCP: the relay's hop to the owner too
	sc.badRelayedInput(t, owner, relay)
	sc.outbound(t, owner, relay, phone)
	if n := sc.openCancelled(t, owner); n != 0 {
		t.Fatalf("%d records of the cancelled calls open at the end", n)
	}
	sc.ownerLost(t, owner, relay) // last: kills the owner
}

// ownerLost: a relayed call is up when its owner is killed: the new owner ends it (node_lost) and
// the relay, seeing the account's owner change, hangs up the carrier (sipp exits 0 only after
// that BYE).
func (sc *sipCluster) ownerLost(t *testing.T, owner, relay *clusterNode) {
	nonce := fmt.Sprintf("lost-%d", time.Now().UnixNano())
	scen := renderScenario(t, "relay_owner_lost.xml", map[string]any{
		"OwnerIP": strings.ReplaceAll(clusterSIPIPs[sc.index(owner)], ".", `\.`), "PortRe": fmt.Sprintf("3%d0[0-9][0-9]", 6+sc.index(owner))})
	run := runSipp(t, []string{sc.sip[sc.index(relay)], "-sf", scen, "-s", "+15550100", "-p", strconv.Itoa(freePort(t)),
		"-cid_str", nonce + "-%u@%s"})
	var id string
	rtctest.Eventually(t, 20*time.Second, "the relayed call's record at the owner", func() bool {
		for _, r := range sc.records(t, owner) {
			if r.Phone == "+15550777" && r.EndedAt == nil {
				id = r.ID
				return true
			}
		}
		return false
	})
	owner.proc.kill()
	run.wait(t, 60*time.Second)
	survivors := sc.others(owner)
	sc.owner("acme", 2, 30*time.Second, survivors...)
	if rec := sc.endedRecord(t, survivors[0], id); rec.EndedBy != "system" || rec.EndReason != "node_lost" {
		t.Fatalf("record of the call whose owner died: %+v", rec)
	}
}

func (sc *sipCluster) relayedCall(t *testing.T, owner, relay *clusterNode, phone *sig) {
	nonce := fmt.Sprintf("relay-%d", time.Now().UnixNano())
	callID := nonce + "-1@127.0.0.1" // sipp's -cid_str below, call 1
	port := freePort(t)
	scen := renderScenario(t, "relay_call_bye.xml", map[string]any{
		"OwnerIP": strings.ReplaceAll(clusterSIPIPs[sc.index(owner)], ".", `\.`), "PortRe": fmt.Sprintf("3%d0[0-9][0-9]", 6+sc.index(owner))})
	run := runSipp(t, []string{sc.sip[sc.index(relay)], "-sf", scen, "-s", "+15550100", "-p", strconv.Itoa(port), "-rtp_echo", "-trace_msg",
		"-cid_str", nonce + "-%u@%s"})
	t.Cleanup(func() {
		if t.Failed() {
			msgs, _ := filepath.Glob(filepath.Join(run.dir, "*.log"))
			for _, m := range msgs {
				b, _ := os.ReadFile(m)
				t.Logf("sipp messages:\n%s", b)
			}
			t.Logf("sipp output:\n%s", run.out.String())
		}
	})
	ring := phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "incoming_call"
	})
	d := ring["event"].(map[string]any)["data"].(map[string]any)
	if d["source"] != "sip" || d["phone"] != "+15550777" || d["display_name"] != "Ada Lovelace" || d["queue"] != "support" {
		t.Fatalf("incoming_call %v", d)
	}
	coreID := d["call_id"].(string)
	phone.result("r2", "answer", map[string]any{"call_id": coreID})
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 1300)
	rtctest.Eventually(t, 20*time.Second, "the agent on the owner hears its tone echoed by the carrier",
		func() bool { return phone.media.Hears(1300) })
	cancel()
	wait()
	hangUpFromCarrier(t, run, port, callID)
	run.wait(t, 30*time.Second) // exits 0 only after the 200 to its BYE
	rec := sc.endedRecord(t, relay, coreID)
	if rec.Source != "sip" || rec.EndedBy != "remote" {
		t.Fatalf("record of the relayed call: %+v", rec)
	}
	if !slices.ContainsFunc(rec.Legs, func(l recLeg) bool { return l.Kind == "sip" && l.SIPCallID == callID && l.SIPStatus == 200 }) {
		t.Fatalf("record legs %+v: want the sip leg of %s with 200", rec.Legs, callID)
	}
	if n := sc.countEvents(t, owner, "call_disconnected", coreID); n != 1 {
		t.Fatalf("%d call_disconnected for the relayed call, want 1", n)
	}
}

// hangUpFromCarrier sends sipp (run, at port) the OPTIONS on callID its scenario waits for
// before its BYE, again every 2 s until sipp exits (sipp answers it towards the relay, its
// remote host, so the answer cannot tell it arrived).
func hangUpFromCarrier(t *testing.T, run *sippRun, port int, callID string) {
	t.Helper()
	c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	msg := "OPTIONS sip:sipp@127.0.0.1:" + strconv.Itoa(port) + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la +
		";branch=z9hG4bK-hangup\r\nFrom: <sip:test@" + la + ">;tag=t1\r\nTo: <sip:sipp@127.0.0.1>\r\nCall-ID: " + callID +
		"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	for range 15 {
		_, _ = c.Write([]byte(msg))
		select {
		case <-run.done:
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (sc *sipCluster) relayedCancel(t *testing.T, owner, relay *clusterNode, transport string) {
	run := runSipp(t, []string{sc.sip[sc.index(relay)], "-sf", scenarioPath("relay_cancel.xml"), "-s", "+15550100",
		"-p", strconv.Itoa(freePort(t)), "-t", transport})
	run.wait(t, 30*time.Second) // 200 to the CANCEL, 487 to the INVITE
	// Whether the owner started the call depends on when the CANCEL came (before the relay
	// forwarded the INVITE: never; before the owner's answer: it ends it at once; after: the
	// relay acknowledges the owner's 200 and hangs up): no record of the caller stays open. The
	// test checks again, much later, at its end (openCancelled).
	rtctest.Eventually(t, 40*time.Second, "no open record of the cancelled caller at the owner", func() bool {
		return sc.openCancelled(t, owner) == 0
	})
}

// openCancelled counts the open records of the cancelling caller (+15550776).
func (sc *sipCluster) openCancelled(t *testing.T, nd *clusterNode) int {
	n := 0
	for _, r := range sc.records(t, nd) {
		if r.Phone == "+15550776" && r.EndedAt == nil {
			n++
		}
	}
	return n
}

func (sc *sipCluster) badRelayedInput(t *testing.T, owner, relay *clusterNode) {
	third := sc.others(owner)[1] // a member that is not the relay of these INVITEs
	refused := func() int {      // records of the refused caller (relay_refused.xml)
		n := 0
		for _, r := range sc.records(t, owner) {
			if r.Phone == "+15550998" {
				n++
			}
		}
		return n
	}
	before := refused()
	for _, c := range []struct {
		name, from string
		to         *clusterNode
		header     string
		code       int
	}{
		{"forged by a non-member", "127.0.0.5", owner, "X-CTI-Relayed-For: 127.0.0.1", 403},
		{"malformed from a member", clusterSIPIPs[sc.index(third)], owner, "X-CTI-Relayed-For: not-an-address", 400},
		{"two from a member", clusterSIPIPs[sc.index(third)], owner, "X-CTI-Relayed-For: 127.0.0.1\n      X-CTI-Relayed-For: 127.0.0.1", 400},
		{"relayed to a non-owner", clusterSIPIPs[sc.index(third)], relay, "X-CTI-Relayed-For: 127.0.0.1", 503},
	} {
		t.Run(c.name, func(t *testing.T) {
			scen := renderScenario(t, "relay_refused.xml", map[string]any{"Code": c.code, "Header": c.header, "RetryAfter": c.code == 503})
			runSipp(t, []string{sc.sip[sc.index(c.to)], "-sf", scen, "-s", "+15550100", "-i", c.from,
				"-p", strconv.Itoa(freePort(t))}).wait(t, 30*time.Second)
		})
	}
	if after := refused(); after != before {
		t.Fatalf("%d call records after the refused INVITEs, %d before", after, before)
	}
}

// outbound: make_call through a non-owner is forwarded to the owner, whose SIP edge dials the
// trunk (the carrier's UAS answers; audio both ways; the agent's hang-up reaches it).
func (sc *sipCluster) outbound(t *testing.T, owner, relay *clusterNode, phone *sig) {
	uas := runSipp(t, []string{"-sf", scenarioPath("uas_answer.xml"), "-p", strconv.Itoa(sc.uas), "-rtp_echo"})
	code, node, b := rest(t, "POST", relay.proc.base+"/api/v1/calls", sc.admin, `{"user_id":"agent1","phone":"+15550123"}`)
	var made struct {
		CallID string `json:"call_id"`
	}
	if code != 201 || node != owner.id || json.Unmarshal(b, &made) != nil {
		t.Fatalf("make_call through %s: %d %q %s", relay.id, code, node, b)
	}
	phone.expect("event", func(m map[string]any) bool {
		ev := m["event"].(map[string]any)
		return ev["event"] == "call_connected" && ev["data"].(map[string]any)["call_id"] == made.CallID
	})
	ctx, cancel := context.WithCancel(context.Background())
	wait := phone.media.Speak(ctx, 900)
	rtctest.Eventually(t, 20*time.Second, "the agent hears its tone back from the far end", func() bool { return phone.media.Hears(900) })
	cancel()
	wait()
	phone.result("h1", "hangup", map[string]any{"call_id": made.CallID})
	uas.wait(t, 30*time.Second)
	if rec := sc.endedRecord(t, relay, made.CallID); rec.Direction != "outbound" || rec.EndedBy != "agent" {
		t.Fatalf("outbound record %+v", rec)
	}
}

type recLeg struct {
	Kind      string `json:"kind"`
	SIPCallID string `json:"sip_call_id"`
	SIPStatus int    `json:"sip_status"`
}

type callRec struct {
	ID        string   `json:"call_id"`
	Source    string   `json:"source"`
	Phone     string   `json:"phone"`
	Direction string   `json:"direction"`
	EndedAt   *string  `json:"ended_at"`
	EndedBy   string   `json:"ended_by"`
	EndReason string   `json:"end_reason"`
	Legs      []recLeg `json:"legs"`
}

// endedRecord waits (20 s ceiling) until the call's record, read through nd, has ended.
func (sc *sipCluster) endedRecord(t *testing.T, nd *clusterNode, id string) callRec {
	t.Helper()
	var rec callRec
	rtctest.Eventually(t, 20*time.Second, "the call's record ended", func() bool {
		code, _, b := rest(t, "GET", nd.proc.base+"/api/v1/calls/"+id, sc.admin, "")
		return code == 200 && json.Unmarshal(b, &rec) == nil && rec.EndedAt != nil
	})
	return rec
}

func (sc *sipCluster) records(t *testing.T, nd *clusterNode) []callRec {
	t.Helper()
	code, _, b := rest(t, "GET", nd.proc.base+"/api/v1/calls?limit=100", sc.admin, "")
	var body struct{ Calls []callRec }
	if code != 200 || json.Unmarshal(b, &body) != nil {
		t.Fatalf("GET /api/v1/calls: %d %s", code, b)
	}
	return body.Calls
}

// countEvents counts the account's logged events named name of call id.
func (sc *sipCluster) countEvents(t *testing.T, nd *clusterNode, name, id string) int {
	t.Helper()
	code, _, b := rest(t, "GET", nd.proc.base+"/api/v1/events?since=0&limit=1000", sc.admin, "")
	var body struct {
		Events []struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
	}
	if code != 200 || json.Unmarshal(b, &body) != nil {
		t.Fatalf("GET /api/v1/events: %d %s", code, b)
	}
	n := 0
	for _, e := range body.Events {
		if e.Event == name && strings.Contains(string(e.Data), `"call_id":"`+id+`"`) {
			n++
		}
	}
	return n
}
