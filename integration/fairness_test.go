package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// TestFairTenants: the quiet account acme's event delay (hub publish, durable commit included,
// to its CTI WebSocket) is measured alone and while the account globex floods, in turn, with
// rate-limited vox frames, bridge requests, REST writes (settings updates, each an event) and
// large /events reads. Reports p50/p99 per flood kind against the baseline, the refusals each
// flood got, and fails when the quiet account lost an event. Opt-in (it is a load test):
//
//	CTI_FAIRNESS=1 go test ./integration -run TestFairTenants -v
func TestFairTenants(t *testing.T) {
	if testing.Short() || os.Getenv("CTI_FAIRNESS") == "" {
		t.Skip("set CTI_FAIRNESS=1 to run the fairness load test")
	}
	s := newVoxServer(t, voxSetup{})
	ln, err := s.Bridge.ListenTCP("127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = ln.Serve() }()
	t.Cleanup(func() { _ = ln.Close(); <-served })
	for i := 0; i < 3000; i++ { // history for the /events flood to read
		s.publish(t, "globex", i, 200)
	}
	qtok, qjti := s.mint(t, "acme", auth.RoleIntegrator, "quiet")
	quiet := s.connect(t, "acme", qjti, qtok, -1)
	quiet.sync()
	floods := []struct {
		name string
		run  func(ctx context.Context, refused *atomic.Int64)
	}{
		{"none (baseline)", nil},
		{"vox frames", func(ctx context.Context, r *atomic.Int64) { floodVox(ctx, t, s, r) }},
		{"bridge requests", func(ctx context.Context, r *atomic.Int64) { floodBridge(ctx, t, s, ln.Addr().String(), r) }},
		{"REST writes", func(ctx context.Context, r *atomic.Int64) {
			floodREST(ctx, s, s.mintAdmin(t, "globex"), "PUT", "/api/v1/settings", `{"wrap_up_seconds":5}`, r)
		}},
		{"/events reads", func(ctx context.Context, r *atomic.Int64) {
			floodREST(ctx, s, s.mintAdmin(t, "globex"), "GET", "/api/v1/events?since=0&limit=1000", "", r)
		}},
		{"none (again)", nil},
	}
	for _, f := range floods {
		ctx, stop := context.WithCancel(context.Background())
		var refused atomic.Int64
		var wg sync.WaitGroup
		if f.run != nil {
			wg.Add(1)
			go func() { defer wg.Done(); f.run(ctx, &refused) }()
			time.Sleep(500 * time.Millisecond) // let the flood reach its pace
		}
		lat := probe(t, s, quiet, 1500)
		stop()
		wg.Wait()
		t.Logf("flood %-16s quiet account's event delay p50 %7v p99 %7v max %7v; flood refusals %d",
			f.name, percentile(lat, .5).Round(time.Microsecond), percentile(lat, .99).Round(time.Microsecond),
			percentile(lat, 1).Round(time.Microsecond), refused.Load())
	}
}

// probe publishes n events on acme, one every 2 ms, and returns their delays as received.
func probe(t *testing.T, s *voxServer, c *voxClient, n int) []time.Duration {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var lat []time.Duration
	last := s.Hub.Head("acme")
	for i := 0; i < n; i++ {
		<-tick.C
		s.publish(t, "acme", i, 0)
	}
	for head := s.Hub.Head("acme"); last < head; {
		f := c.next(30 * time.Second)
		if f.Seq != last+1 {
			t.Fatalf("quiet account: seq %d after %d", f.Seq, last)
		}
		last = f.Seq
		lat = append(lat, latencyOf(f))
	}
	return lat
}

func (s *voxServer) mintAdmin(t testing.TB, acct string) string {
	tok, _ := s.mint(t, acct, auth.RoleAdmin, "ops")
	return tok
}

// floodVox: 4 connections send frames without pause; one closed for flooding reconnects.
func floodVox(ctx context.Context, t *testing.T, s *voxServer, refused *atomic.Int64) {
	tok, jti := s.mint(t, "globex", auth.RoleIntegrator, "flood")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ws, _, err := s.dialRaw(ctx, s.roomURL("globex", jti, tok), nil)
				if err != nil {
					return
				}
				go func() { // read and count the refusals
					for {
						_, b, err := ws.Read(context.Background())
						if err != nil {
							return
						}
						if strings.Contains(string(b), "rate_limited") {
							refused.Add(1)
						}
					}
				}()
				for ws.Write(ctx, websocket.MessageText, []byte(`{"event":"make_call","request_id":"f","data":{}}`)) == nil {
				}
				_ = ws.CloseNow()
			}
		}()
	}
	wg.Wait()
}

// floodBridge: 4 logged-in TCP bridges send requests without pause.
func floodBridge(ctx context.Context, t *testing.T, s *voxServer, addr string, refused *atomic.Int64) {
	var wg sync.WaitGroup
	for _, uid := range []string{"bob", "alice", "bob", "alice"} {
		tok, _ := s.mint(t, "globex", auth.RoleAgent, uid)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				stop := context.AfterFunc(ctx, func() { nc.Close() })
				go countBridgeRefusals(nc, refused)
				writeBridge(nc, `{"header":{"type":"cti.request","name":"control.request.login","target":"CTI.CONTROL","requestId":"l"},"body":{"token":"`+tok+`"}}`)
				for writeBridge(nc, `{"header":{"type":"cti.query","name":"control.query.init","target":"CTI.CONTROL","requestId":"q"}}`) == nil {
				}
				stop()
				nc.Close()
			}
		}()
	}
	wg.Wait()
}

func writeBridge(nc net.Conn, msg string) error {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	_, err := nc.Write(append(b, msg...))
	return err
}

func countBridgeRefusals(nc net.Conn, refused *atomic.Int64) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(nc, b); err != nil {
			return
		}
		if strings.Contains(string(b), "rate limited") {
			refused.Add(1)
		}
	}
}

// floodREST: 4 clients send the request without pause; 429s are counted.
func floodREST(ctx context.Context, s *voxServer, token, method, path, body string, refused *atomic.Int64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
				} else if res.StatusCode >= 300 {
					panic(fmt.Sprintf("%s %s: %d", method, path, res.StatusCode))
				}
			}
		}()
	}
	wg.Wait()
}
