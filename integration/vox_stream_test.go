package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/vox"
)

// publish appends a data_updated event carrying a marker and the publish time.
func (s *voxServer) publish(t testing.TB, acct string, i int, pad int) int64 {
	t.Helper()
	vars := map[string]string{"acct": acct, "i": strconv.Itoa(i), "t": strconv.FormatInt(time.Now().UnixNano(), 10)}
	if pad > 0 {
		vars["pad"] = strings.Repeat("p", pad)
	}
	ev, err := s.Hub.Publish(context.Background(), acct, "data_updated", map[string]any{"call_id": "c-load", "variables": vars})
	if err != nil {
		t.Error(err)
		return 0
	}
	return ev.Seq
}

// sync makes sure the connection's subscription is in place (frames are handled in order).
func (c *voxClient) sync() {
	c.t.Helper()
	c.command("logout", "sync", map[string]any{"user_id": "ghost-user"})
	for {
		f := c.next(10 * time.Second)
		if f.RequestID != nil && *f.RequestID == "sync" {
			return
		}
	}
}

// TestVoxTenantIsolation: two accounts under concurrent load (hub events and real core activity
// in both at once); every connection receives exactly its own account's events, in seq order,
// and nothing of the other.
func TestVoxTenantIsolation(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	accts := []string{"acme", "globex"}
	clients := map[string][]*voxClient{}
	for _, a := range accts {
		tok, jti := s.mint(t, a, auth.RoleIntegrator, "crm")
		for i := 0; i < 3; i++ {
			c := s.connect(t, a, jti, tok, -1)
			c.sync()
			clients[a] = append(clients[a], c)
		}
	}
	start := map[string]int64{}
	for _, a := range accts {
		start[a] = s.Hub.Head(a)
	}
	const perAccount = 500
	var wg sync.WaitGroup
	for _, a := range accts {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < perAccount; i += 4 {
					s.publish(t, a, i, 0)
				}
			}()
		}
		wg.Add(1)
		go func() { // real core activity at the same time
			defer wg.Done()
			ctx := context.Background()
			bob := core.Actor{Account: a, Role: auth.RoleAgent, UserID: "bob", Via: core.ViaDesktop}
			for i := 0; i < 20; i++ {
				if _, err := s.Core.Login(ctx, bob, core.KindDesktop); err != nil {
					t.Error(err)
					return
				}
				if err := s.Core.Logout(ctx, core.Actor{Account: a, Role: auth.RoleIntegrator, Via: core.ViaIntegrator}, "bob"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, a := range accts {
		head := s.Hub.Head(a)
		if head-start[a] != perAccount+40 {
			t.Fatalf("%s: %d events, want %d", a, head-start[a], perAccount+40)
		}
		for _, c := range clients[a] {
			seq := start[a]
			for seq < head {
				f := c.next(10 * time.Second)
				if f.Seq != seq+1 {
					t.Fatalf("%s client: seq %d after %d (%s)", a, f.Seq, seq, f)
				}
				seq = f.Seq
				switch f.Event {
				case "data_updated":
					if v := f.field("variables").(map[string]any); v["acct"] != a {
						t.Fatalf("%s client got %s", a, f)
					}
				case "status_changed":
				default:
					t.Fatalf("%s client got %s", a, f)
				}
			}
		}
	}
}

// TestVoxResumeRandomDisconnects: a client that disconnects at random points (clean closes and
// dropped sockets) and resumes with the last seq it processed receives every event exactly once,
// in order, while events keep coming.
func TestVoxResumeRandomDisconnects(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			s.publish(t, "acme", i, 0)
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // let disconnects land mid-stream
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	var got []int64
	last := int64(0)
	reconnects := 0
	for last < total {
		c := s.connect(t, "acme", jti, tok, last) // resume_from 0 the first time: everything retained
		n := 1 + rng.IntN(300)
		for i := 0; i < n && last < total; i++ {
			f := c.next(10 * time.Second)
			if f.Event == "resync_required" {
				t.Fatalf("resync_required while resuming from %d", last)
			}
			got = append(got, f.Seq)
			last = f.Seq
		}
		if rng.IntN(2) == 0 {
			c.close()
		} else {
			_ = c.ws.CloseNow()
			<-c.done
		}
		reconnects++
	}
	<-done
	if len(got) != total {
		t.Fatalf("received %d events, want %d", len(got), total)
	}
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: lost or duplicated", i, seq)
		}
	}
	t.Logf("%d events over %d connections, none lost or duplicated", total, reconnects)
}

// TestVoxResyncRequired: resume_from older than retention or ahead of the log gets
// resync_required with oldest_seq, then live events; resume_from 0 replays what is retained.
func TestVoxResyncRequired(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	for i := 1; i <= 3; i++ {
		s.publish(t, "acme", i, 0)
	}
	cut := time.Now().Truncate(time.Millisecond).Add(time.Millisecond)
	for time.Now().Before(cut) { // the next events must carry a later millisecond
		time.Sleep(100 * time.Microsecond)
	}
	for i := 4; i <= 6; i++ {
		s.publish(t, "acme", i, 0)
	}
	if n, err := s.Store.PruneEvents(context.Background(), cut); err != nil || n != 3 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	expectSeqs := func(c *voxClient, seqs ...int64) {
		t.Helper()
		for _, want := range seqs {
			if f := c.next(10 * time.Second); f.Seq != want {
				t.Fatalf("got %s, want seq %d", f, want)
			}
		}
	}
	expectResync := func(c *voxClient) {
		t.Helper()
		f := c.next(10 * time.Second)
		if err := s.reg.Validate("vox/resync_required", f.raw); err != nil || f.Event != "resync_required" || f.field("oldest_seq") != 4.0 {
			t.Fatalf("want resync_required oldest_seq 4, got %s (%v)", f, err)
		}
	}
	old := s.connect(t, "acme", jti, tok, 1) // events 2, 3 are gone
	expectResync(old)
	ahead := s.connect(t, "acme", jti, tok, 100)
	expectResync(ahead)
	all := s.connect(t, "acme", jti, tok, 0)
	expectSeqs(all, 4, 5, 6)
	edge := s.connect(t, "acme", jti, tok, 3) // exactly at the retention edge: a full replay
	expectSeqs(edge, 4, 5, 6)
	for _, c := range []*voxClient{old, ahead, all, edge} {
		c.sync()
	}
	s.publish(t, "acme", 7, 0)
	for _, c := range []*voxClient{old, ahead, all, edge} {
		expectSeqs(c, 7)
	}
}

// dropped reads the hub's dropped-subscriber counter (cti_subscribers_dropped_total).
func (s *voxServer) dropped(t testing.TB) int {
	t.Helper()
	var m dto.Metric
	if err := s.Metrics.SubscribersDropped.Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetCounter().GetValue())
}

// latencyOf returns how long after publication f arrived.
func latencyOf(f frame) time.Duration {
	v, _ := f.field("variables").(map[string]any)
	ns, _ := strconv.ParseInt(fmt.Sprint(v["t"]), 10, 64)
	return f.at.Sub(time.Unix(0, ns))
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestVoxStalledReader: a client that stops reading is dropped by the hub and closed with 4008
// (resume) while the others keep receiving with no added delay; it then resumes with nothing
// lost.
func TestVoxStalledReader(t *testing.T) {
	s := newVoxServer(t, voxSetup{queue: 256})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	var others []*voxClient
	for i := 0; i < 2; i++ {
		c := s.connect(t, "acme", jti, tok, -1)
		c.sync()
		others = append(others, c)
	}
	const pad = 16 << 10 // big events fill the stalled socket quickly
	published := 0
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	publish := func() {
		<-tick.C
		published++
		s.publish(t, "acme", published, pad)
	}
	// readAll reads every event up to the head on each reading client and returns the delays.
	var seq [2]int64
	readAll := func() []time.Duration {
		head := s.Hub.Head("acme")
		var lat []time.Duration
		for n, c := range others {
			for seq[n] < head {
				f := c.next(10 * time.Second)
				if seq[n] != 0 && f.Seq != seq[n]+1 {
					t.Fatalf("client %d: seq %d after %d", n, f.Seq, seq[n])
				}
				seq[n] = f.Seq
				lat = append(lat, latencyOf(f))
			}
		}
		return lat
	}
	// Baseline: the same stream with no stalled client.
	for i := 0; i < 500; i++ {
		publish()
	}
	base := readAll()

	stalled := s.dialVox(t, "acme", jti, tok)
	stalled.sendConnected(int64(published)) // from here on, whenever its subscription begins
	// Publish at a steady 1,000/s until the hub has dropped the stalled client, then 100 more.
	before := s.dropped(t)
	for s.dropped(t) == before {
		for i := 0; i < 10; i++ {
			publish()
		}
		if published > 20000 {
			t.Fatal("the stalled client was never dropped")
		}
	}
	for i := 0; i < 100; i++ {
		publish()
	}
	during := readAll()
	head := s.Hub.Head("acme")
	t.Logf("reading clients' delay (publish incl. durable commit -> receive), 16 KiB events at 1,000/s: "+
		"without a stalled peer p50 %v p99 %v max %v; with one (until it was dropped and after) p50 %v p99 %v max %v",
		percentile(base, .5), percentile(base, .99), percentile(base, 1),
		percentile(during, .5), percentile(during, .99), percentile(during, 1))
	// Now the stalled client reads: what it was sent, in order, then 4008.
	stalled.start()
	last := int64(500)
	for {
		select {
		case f := <-stalled.in:
			if f.Seq != last+1 {
				t.Fatalf("stalled client: seq %d after %d", f.Seq, last)
			}
			last = f.Seq
			continue
		case <-stalled.done:
		case <-time.After(15 * time.Second):
			t.Fatal("the stalled client was not closed")
		}
		break
	}
	for f := range drain(stalled.in) {
		if f.Seq != last+1 {
			t.Fatalf("stalled client: seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	if code := websocket.CloseStatus(stalled.closeErr); code != vox.CloseResume {
		t.Fatalf("stalled client closed with %v, want %d", stalled.closeErr, vox.CloseResume)
	}
	t.Logf("stalled client: received %d of %d events, then close 4008", last, head)
	resumed := s.connect(t, "acme", jti, tok, last)
	for last < head {
		f := resumed.next(10 * time.Second)
		if f.Seq != last+1 {
			t.Fatalf("resumed: seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
}

// drain yields what is left in ch without blocking.
func drain(ch chan frame) func(func(frame) bool) {
	return func(yield func(frame) bool) {
		for {
			select {
			case f := <-ch:
				if !yield(f) {
					return
				}
			default:
				return
			}
		}
	}
}

// TestVoxWriteStall: with a queue large enough not to overflow, a client whose socket stops
// taking data is disconnected after the write timeout (no close frame can reach it), without
// delaying the room, and resumes with nothing lost.
func TestVoxWriteStall(t *testing.T) {
	s := newVoxServer(t, voxSetup{queue: 1024, options: &vox.Options{WriteTimeout: 300 * time.Millisecond}})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	stalled := s.dialVox(t, "acme", jti, tok)
	stalled.sendConnected(0)
	other := s.connect(t, "acme", jti, tok, -1)
	other.sync()
	waitFor(t, 5*time.Second, "both connections", func() bool { return s.vox.Open("acme") == 2 })
	published := 0
	tick := time.NewTicker(time.Millisecond) // paced: the queue (1,024) must not overflow first
	defer tick.Stop()
	for s.vox.Open("acme") == 2 {
		<-tick.C
		published++
		s.publish(t, "acme", published, 16<<10)
		if published > 5000 {
			t.Fatal("the stalled connection was never closed")
		}
	}
	if d := s.dropped(t); d != 0 {
		t.Fatalf("the hub dropped %d subscribers: the write timeout should have acted first", d)
	}
	head := s.Hub.Head("acme")
	for seq := int64(0); seq < head; {
		f := other.next(10 * time.Second)
		if seq != 0 && f.Seq != seq+1 {
			t.Fatalf("seq %d after %d", f.Seq, seq)
		}
		seq = f.Seq
	}
	stalled.start()
	<-stalled.done
	var last int64
	for f := range drain(stalled.in) {
		if f.Seq != last+1 {
			t.Fatalf("stalled: seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	if code := websocket.CloseStatus(stalled.closeErr); code != -1 {
		t.Fatalf("a stalled socket got close code %d; it was expected to be cut", code)
	}
	had := last
	resumed := s.connect(t, "acme", jti, tok, last)
	for last < head {
		f := resumed.next(10 * time.Second)
		if f.Seq != last+1 {
			t.Fatalf("resumed: seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	t.Logf("write stall after %d events; the stalled client had %d, resumed the rest", head, had)
}

// TestVoxKeepalive: a peer that does not answer pings is closed with 4008 after two intervals;
// a reading peer (which answers them) stays.
func TestVoxKeepalive(t *testing.T) {
	s := newVoxServer(t, voxSetup{options: &vox.Options{PingInterval: time.Second}})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	silent := s.dialVox(t, "acme", jti, tok) // never reads: pings go unanswered
	alive := s.connect(t, "acme", jti, tok, -1)
	alive.sync()
	start := time.Now()
	waitFor(t, 60*time.Second, "the silent peer to be reaped", func() bool { return s.vox.Open("acme") == 1 })
	reaped := time.Since(start)
	silent.start()
	if code := silent.closeStatus(5 * time.Second); code != vox.CloseResume {
		t.Fatalf("silent peer closed with %v", silent.closeErr)
	}
	select {
	case <-alive.done:
		t.Fatalf("the answering peer was closed: %v", alive.closeErr)
	default:
	}
	alive.sync() // still served
	t.Logf("silent peer reaped %v after connecting (interval 1s, close handshake wait included)", reaped)
}

// TestVoxShutdownAndRevocation: a revoked token loses its connection within about a second with
// 4001; at shutdown every connection is closed with 1001.
func TestVoxShutdownAndRevocation(t *testing.T) {
	s := newVoxServer(t, voxSetup{})
	tok, jti := s.mint(t, "acme", auth.RoleIntegrator, "crm")
	tok2, jti2 := s.mint(t, "acme", auth.RoleIntegrator, "crm2")
	a := s.connect(t, "acme", jti, tok, -1)
	b := s.connect(t, "acme", jti2, tok2, -1)
	a.sync()
	b.sync()
	revokedAt := time.Now()
	if code, body := s.rest(t, "DELETE", "/api/v1/tokens/"+jti, s.adminToken(t), ""); code != 204 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	if code := a.closeStatus(5 * time.Second); code != vox.CloseTokenInvalid {
		t.Fatalf("revoked: %v", a.closeErr)
	}
	t.Logf("closed %v after revocation", time.Since(revokedAt).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Conns.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code := b.closeStatus(5 * time.Second); code != websocket.StatusGoingAway {
		t.Fatalf("shutdown: %v", b.closeErr)
	}
}

func (s *voxServer) adminToken(t testing.TB) string {
	tok, _ := s.mint(t, "acme", auth.RoleAdmin, "ops")
	return tok
}
