package bridge_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// pipeClient is a bridge client on an in-memory pipe: the whole server path (framing, decode,
// envelope and body validation, routing, mode check in the core, core command with its durable
// event, event rendering, response) without a network.
type pipeClient struct {
	tb testing.TB
	nc net.Conn
	id int
}

func newPipeClient(tb testing.TB, w *world) *pipeClient {
	client, srv := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); w.b.ServeConn(srv) }()
	tb.Cleanup(func() { client.Close(); <-done })
	return &pipeClient{tb: tb, nc: client}
}

// call sends a message and reads until its response, returning it.
func (c *pipeClient) call(typ, name, target string, body any) reply {
	c.id++
	id := strconv.Itoa(c.id)
	m := map[string]any{"header": map[string]string{"type": typ, "name": name, "target": target, "requestId": id}}
	if body != nil {
		m["body"] = body
	}
	msg, _ := json.Marshal(m)
	if _, err := c.nc.Write(appendFrame(nil, msg)); err != nil {
		c.tb.Fatal(err)
	}
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
			c.tb.Fatal(err)
		}
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			c.tb.Fatal(err)
		}
		var r reply
		if err := json.Unmarshal(buf, &r); err != nil {
			c.tb.Fatal(err)
		}
		if r.Header.Type == "cti.response" && r.Header.RequestID == id {
			if r.Header.Result != "SUCCESS" {
				c.tb.Fatalf("%s: %s", name, buf)
			}
			return r
		}
	}
}

// BenchmarkRequest measures one bridge request end to end in process. notready alternates the
// reason so that every request changes the agent's status: the core appends status_changed to
// the durable log (SQLite commit) and the bridge renders channel.statechanged before the
// response. query is channel.query.init (a feed sync and a snapshot). p50 and p99 are reported
// from the per-request latencies.
func BenchmarkRequest(b *testing.B) {
	w := newWorld(b)
	c := newPipeClient(b, w)
	sid := c.call("cti.request", "control.request.login", "CTI.CONTROL", map[string]string{"token": w.token(b, "a1")}).Body["session"].(string)
	ch := sid + ".voice.phone"
	c.call("cti.query", "channel.query.init", ch, nil)
	actor := core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: "a1", Via: core.ViaDesktop}
	for _, bc := range []struct {
		name string
		run  func(i int)
	}{
		{"notready", func(i int) {
			c.call("cti.request", "channel.request.notready", ch, map[string]string{"reason": "r" + strconv.Itoa(i&1)})
		}},
		// the same reason every time: the core changes nothing (no durable event) and the bridge
		// still reports the state: the bridge's own path with a core command
		{"notready-unchanged", func(int) {
			c.call("cti.request", "channel.request.notready", ch, map[string]string{"reason": "same"})
		}},
		{"query", func(int) { c.call("cti.query", "channel.query.init", ch, nil) }},
		// the same status change straight into the core, for comparison: what the bridge adds
		// is notready minus core-setstatus
		{"core-setstatus", func(i int) {
			if _, err := w.srv.Core.SetStatus(context.Background(), actor, "a1", agent.DND, "r"+strconv.Itoa(i&1)); err != nil {
				b.Fatal(err)
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				bc.run(i)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
