package integration

// Load figures for the CTI WebSocket (docs/vox.md "Performance"). Heavy, so gated: set
// CTI_VOX_LOAD=1 (and not -short) to run them, e.g.
//
//	CTI_VOX_LOAD=1 go test ./integration -run 'TestVoxLoad|TestVoxIdleMemory|TestVoxRESTMakeCall' -v
//
// Everything is on loopback and stops by itself.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
)

func loadGate(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getenv("CTI_VOX_LOAD") == "" {
		t.Skip("set CTI_VOX_LOAD=1 to run the CTI WebSocket load figures")
	}
}

// loadClient is a minimal reader: it records the delay of every event (publish time in
// variables.t) and counts them.
type loadClient struct {
	ws      *websocket.Conn
	lat     []time.Duration // read after done
	recvAt  []int64         // unix nanos at which event i arrived; read after done
	n       atomic.Int64    // events counted
	markers atomic.Int64    // subscription markers seen (not counted)
	done    chan struct{}
}

var (
	tMarker   = []byte(`"t":"`)
	iMarker   = []byte(`"i":"`)
	subMarker = []byte(`"i":"-1"`)
)

func (c *loadClient) run() {
	defer close(c.done)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now()
		if bytes.Contains(b, subMarker) {
			c.markers.Add(1)
			continue
		}
		i := bytes.Index(b, tMarker)
		if i < 0 {
			continue
		}
		rest := b[i+len(tMarker):]
		j := bytes.IndexByte(rest, '"')
		ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		if err != nil {
			continue
		}
		c.n.Add(1)
		c.lat = append(c.lat, now.Sub(time.Unix(0, ns)))
		if k := bytes.Index(b, iMarker); k >= 0 {
			rest := b[k+len(iMarker):]
			if i, err := strconv.Atoi(string(rest[:bytes.IndexByte(rest, '"')])); err == nil && i >= 0 && i < len(c.recvAt) {
				c.recvAt[i] = now.UnixNano()
			}
		}
	}
}

// openIdle dials and sends connected; the connection then only receives.
func openIdle(ctx context.Context, s *voxServer, url string) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.client})
	if err != nil {
		return nil, err
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	sid, _ := f.field("sender_id").(string)
	msg := fmt.Sprintf(`{"event":"connected","sender_id":%q}`, sid)
	return ws, ws.Write(ctx, websocket.MessageText, []byte(msg))
}

// TestVoxLoad: 100 accounts x 10 integrator connections, 2,000 events/s in total published
// through the hub (20/s per account), for 10 s. Every connection must receive every event of its
// account; reports the publish-to-receive delay.
func TestVoxLoad(t *testing.T) {
	loadGate(t)
	const (
		accounts = 100
		perAcct  = 10
		rate     = 20 // events per second per account: 2,000/s in total
		duration = 10 * time.Second
	)
	queue, _ := strconv.Atoi(os.Getenv("CTI_VOX_QUEUE")) // subscriber queue (default: the server's default)
	s := newVoxServer(t, voxSetup{queue: queue})
	ctx := context.Background()
	clients := make([][]*loadClient, accounts)
	for a := 0; a < accounts; a++ {
		name := fmt.Sprintf("load%03d", a)
		if _, err := s.Accounts.Create(ctx, name, "full"); err != nil {
			t.Fatal(err)
		}
		tok, jti := s.mint(t, name, auth.RoleIntegrator, "crm")
		for i := 0; i < perAcct; i++ {
			ws, err := openIdle(ctx, s, s.roomURL(name, jti, tok))
			if err != nil {
				t.Fatal(err)
			}
			ws.SetReadLimit(1 << 20)
			c := &loadClient{ws: ws, done: make(chan struct{}), lat: make([]time.Duration, 0, rate*int(duration/time.Second)+16),
				recvAt: make([]int64, rate*int(duration/time.Second))}
			go c.run()
			clients[a] = append(clients[a], c)
		}
	}
	// Events published before a connection's subscription exists would be missed by a live-only
	// client: wait until every connection has received a marker event.
	waitSubscribed(t, s, clients)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	var published atomic.Int64
	var wg sync.WaitGroup
	commits := make([][]time.Duration, accounts) // Publish time: durable and fanned out
	doneAt := make([][]int64, accounts)          // when Publish of event i returned (fanned out)
	start := time.Now()
	for a := 0; a < accounts; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("load%03d", a)
			// Spread the accounts over the tick so that publishing is steady, not bursty.
			time.Sleep(time.Duration(a) * time.Second / rate / accounts)
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for i := 0; i < rate*int(duration/time.Second); i++ {
				<-tick.C
				t0 := time.Now()
				s.publish(t, name, i, 0)
				commits[a] = append(commits[a], time.Since(t0))
				doneAt[a] = append(doneAt[a], time.Now().UnixNano())
				published.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := rate * int(duration/time.Second)
	var all []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for _, cs := range clients {
		for _, c := range cs {
			for c.n.Load() < int64(want) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond) // waiting for in-flight deliveries to land
			}
		}
	}
	for _, cs := range clients {
		for _, c := range cs {
			c.ws.Close(websocket.StatusNormalClosure, "")
			<-c.done
			if n := c.n.Load(); n != int64(want) {
				t.Errorf("a client received %d of %d events", n, want)
			}
			all = append(all, c.lat...)
		}
	}
	runtime.ReadMemStats(&ms)
	t.Logf("%d connections, %d events published in %v (%.0f/s), %d deliveries", accounts*perAcct, published.Load(),
		elapsed.Round(time.Millisecond), float64(published.Load())/elapsed.Seconds(), len(all))
	t.Logf("publish -> receive delay: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v", percentile(all, .5), percentile(all, .9),
		percentile(all, .99), percentile(all, .999), percentile(all, 1))
	var edge []time.Duration
	for a, cs := range clients {
		for _, c := range cs {
			for i, at := range c.recvAt {
				if at != 0 && i < len(doneAt[a]) {
					edge = append(edge, max(0, time.Duration(at-doneAt[a][i])))
				}
			}
		}
	}
	t.Logf("fan-out -> receive (the WebSocket edge alone; 0 when it beat Publish's return): p50 %v  p99 %v  max %v",
		percentile(edge, .5), percentile(edge, .99), percentile(edge, 1))
	var commit []time.Duration
	for _, c := range commits {
		commit = append(commit, c...)
	}
	t.Logf("hub.Publish (append to the durable log + fan-out): p50 %v  p99 %v  max %v", percentile(commit, .5),
		percentile(commit, .99), percentile(commit, 1))
	t.Logf("heap during the run grew from %d to %d MiB", heapBefore>>20, ms.HeapAlloc>>20)
	if p99 := percentile(all, .99); p99 > 20*time.Millisecond {
		t.Errorf("p99 %v over the 20ms target", p99)
	}
}

// waitSubscribed publishes a marker event per account until every connection has received one
// (markers are not counted).
func waitSubscribed(t *testing.T, s *voxServer, clients [][]*loadClient) {
	t.Helper()
	for a, cs := range clients {
		name := fmt.Sprintf("load%03d", a)
		deadline := time.Now().Add(20 * time.Second)
		all := func() bool {
			for _, c := range cs {
				if c.markers.Load() == 0 {
					return false
				}
			}
			return true
		}
		for !all() {
			s.publish(t, name, -1, 0)
			// Poll a while before the next marker (markers must not flood small queues).
			for wait := time.Now().Add(50 * time.Millisecond); !all() && time.Now().Before(wait); {
				time.Sleep(time.Millisecond)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: connections not subscribed", name)
			}
		}
	}
}

// TestVoxIdleMemory: server heap per idle (connected, subscribed) connection, measured in this
// process while the 1,000 clients run in a child process.
func TestVoxIdleMemory(t *testing.T) {
	loadGate(t)
	for _, queue := range []int{256, 1024, 64} {
		t.Run(fmt.Sprintf("subscriber_queue_%d", queue), func(t *testing.T) {
			const n = 1000
			s := newVoxServer(t, voxSetup{queue: queue, options: &vox.Options{}})
			ctx := context.Background()
			if _, err := s.Accounts.Update(ctx, "acme", []byte(`{"max_connections":2000}`)); err != nil {
				t.Fatal(err)
			}
			tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
			url := s.roomURL("acme", jti, tok)
			// Warm up pools and caches with a few connections.
			for i := 0; i < 20; i++ {
				ws, err := openIdle(ctx, s, url)
				if err != nil {
					t.Fatal(err)
				}
				ws.Close(websocket.StatusNormalClosure, "")
			}
			waitFor(t, 10*time.Second, "warm-up connections to close", func() bool { return s.vox.Open("acme") == 0 })
			before := memNow()
			cmd := exec.Command(os.Args[0], "-test.run=^TestVoxMemHelper$")
			cmd.Env = append(os.Environ(), "VOX_MEM_URL="+url, fmt.Sprintf("VOX_MEM_N=%d", n))
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { stdin.Close(); cmd.Wait() }()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() && sc.Text() != "ready" {
			}
			if got := s.vox.Open("acme"); got != n {
				t.Fatalf("%d connections open, want %d", got, n)
			}
			after := memNow()
			if path := os.Getenv("VOX_MEM_PROFILE"); path != "" {
				runtime.MemProfileRate = 1
				if f, err := os.Create(path); err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			heap := float64(after.heap-before.heap) / n
			stack := float64(after.stack-before.stack) / n
			t.Logf("%d idle connections (subscriber queue %d): heap %.1f KiB/conn, goroutine stacks %.1f KiB/conn, total %.1f KiB/conn",
				n, queue, heap/1024, stack/1024, (heap+stack)/1024)
			stdin.Close()
			waitFor(t, 30*time.Second, "the clients to leave", func() bool { return s.vox.Open("acme") == 0 })
		})
	}
}

type memSample struct{ heap, stack uint64 }

func memNow() memSample {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stack: ms.StackInuse}
}

// TestVoxMemHelper is the client side of TestVoxIdleMemory, run in a child process.
func TestVoxMemHelper(t *testing.T) {
	url := os.Getenv("VOX_MEM_URL")
	if url == "" {
		t.Skip("helper process of TestVoxIdleMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("VOX_MEM_N"))
	s := &voxServer{client: &http.Client{Transport: &http.Transport{}}}
	ctx := context.Background()
	var conns []*websocket.Conn
	var readers sync.WaitGroup
	for i := 0; i < n; i++ {
		ws, err := openIdle(ctx, s, url)
		if err != nil {
			t.Fatal(err)
		}
		// A command answered after connected proves the subscription is in place.
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"command":"logout","sender_id":"x","request_id":"r","data":{"user_id":"u"}}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
		readers.Add(1)
		go func() { // answer pings, discard events
			defer readers.Done()
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		conns = append(conns, ws)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ws := range conns {
		ws.CloseNow()
	}
	readers.Wait()
}

// TestVoxRESTMakeCall: POST /api/v1/calls at 1,000 requests/s for 5 s on the offline-user path
// (token check, role, body limit, schema validation, command entry, user lookup in the store,
// 409 problem); reports the client-side latency.
func TestVoxRESTMakeCall(t *testing.T) {
	loadGate(t)
	s := newVoxServer(t, voxSetup{})
	tok, _ := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	body := `{"user_id":"bob","phone":"+15550100","variables":{"crm_id":"42"}}`
	do := func() (time.Duration, int) {
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/calls", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(start), res.StatusCode
	}
	for i := 0; i < 200; i++ { // warm up connections
		do()
	}
	const total = 5000
	lat := make([]time.Duration, total)
	codes := make([]int, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond))) // open loop, 1,000/s
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i], codes[i] = do()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, c := range codes {
		if c != 409 {
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	t.Logf("%d requests in %v (%.0f/s), all 409 conflict (bob offline): p50 %v p99 %v max %v", total, elapsed.Round(time.Millisecond),
		total/elapsed.Seconds(), percentile(lat, .5), percentile(lat, .99), percentile(lat, 1))
	if p99 := percentile(lat, .99); p99 > 5*time.Millisecond {
		t.Errorf("p99 %v over the 5ms target", p99)
	}
	// The same through the no-phone path (bob online): no store read.
	if _, err := s.Core.Login(context.Background(), core.Actor{Account: "acme", Role: auth.RoleAgent, UserID: "bob", Via: core.ViaDesktop}, core.KindDesktop); err != nil {
		t.Fatal(err)
	}
	var lat2 []time.Duration
	for i := 0; i < 1000; i++ {
		d, code := do()
		if code != 409 {
			t.Fatalf("status %d", code)
		}
		lat2 = append(lat2, d)
	}
	t.Logf("sequential, bob online without a phone: p50 %v p99 %v", percentile(lat2, .5), percentile(lat2, .99))
}
