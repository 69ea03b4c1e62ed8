package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// forgetting is the core as the node drives it, recording what it dropped (a fake of the
// node's own Core interface; the real core is in the process tests).
type forgetting struct {
	mu     sync.Mutex
	forgot []string
}

func (f *forgetting) Forget(acct string) {
	f.mu.Lock()
	f.forgot = append(f.forgot, acct)
	f.mu.Unlock()
}

// runNode starts a Node with its embedded server routed to routes, on st, and runs it with a
// real hub until the test ends. It may run in a goroutine of its own (it reports, never stops
// the test).
func runNode(t *testing.T, id, listen string, routes []string, st store.Backend) (*Node, *hub.Hub, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n, err := Start(ctx, Options{Config: config.Cluster{Embed: true, NodeID: id, ClusterListen: listen,
		Routes: joinURLs(routes)}, DataDir: t.TempDir(), Store: st, Log: logOnFailure(t, id)})
	if err != nil {
		return nil, nil, fmt.Errorf("node %s: %w", id, err)
	}
	h, err := hub.New(ctx, n.Log, hub.Options{Log: discard})
	if err != nil {
		n.Close()
		return nil, nil, fmt.Errorf("node %s: hub: %w", id, err)
	}
	run, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.Run(run) })
	wg.Go(func() { n.Run(run, h, &forgetting{}) })
	t.Cleanup(func() { stop(); wg.Wait(); n.Close() })
	return n, h, nil
}

// waitFor polls cond every 20 ms up to a generous ceiling.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three nodes in one process (each with its embedded server, one shared store): one of them
// claims the account; when it drains, another takes it over and continues the account's seq;
// when a node loses NATS it refuses requests with 503 and says why.
func TestNodesDrainAndLostNATS(t *testing.T) {
	st := openStore(t)
	if _, err := st.CreateAccount(context.Background(), "acme", nil); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(p))
	}
	type started struct {
		n *Node
		h *hub.Hub
	}
	nodes := make([]started, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			n, h, err := runNode(t, "n"+strconv.Itoa(i+1), routes[i], routes, st)
			nodes[i], errs[i] = started{n, h}, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, x := range nodes {
		x.n.Advertise(Addrs{HTTP: "127.0.0.1:" + strconv.Itoa(8000+i), BridgeTCP: "127.0.0.1:" + strconv.Itoa(9000+i)})
	}
	for _, x := range nodes {
		for j, y := range nodes {
			waitFor(t, x.n.ID+" to read the addresses of "+y.n.ID, func() bool {
				a, ok := x.n.Addr(y.n.ID)
				return ok && a.HTTP == "127.0.0.1:"+strconv.Itoa(8000+j) && a.BridgeTCP == "127.0.0.1:"+strconv.Itoa(9000+j) && a.SIP == ""
			})
		}
	}
	owner := func() int {
		found := -1
		for i, x := range nodes {
			if x.n.Owns("acme") {
				if found >= 0 {
					return -2 // two owners: never
				}
				found = i
			}
		}
		return found
	}
	waitFor(t, "an owner of acme", func() bool { return owner() >= 0 })
	first := owner()
	ev, err := nodes[first].h.Publish(context.Background(), "acme", "data_updated", map[string]any{"by": first})
	if err != nil || ev.Seq < 1 {
		t.Fatalf("owner publish: %d %v", ev.Seq, err)
	}

	nodes[first].n.Drain(context.Background(), &forgetting{})
	waitFor(t, "another owner after the drain", func() bool { o := owner(); return o >= 0 && o != first })
	waitFor(t, "the drained node's entry to be gone", func() bool {
		_, ok := nodes[(first+1)%3].n.Addr(nodes[first].n.ID)
		return !ok
	})
	if o := owner(); o == -2 {
		t.Fatal("two owners")
	}
	next := owner()
	// A request forwarded to the drained node (its forwarder had not seen the handover) is not
	// served there; the new owner serves it.
	forwarded := func(x started) int {
		rec := httptest.NewRecorder()
		x.n.REST(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
			func(*http.Request) string { return "acme" },
			func(w http.ResponseWriter, _ *http.Request, detail string) {
				http.Error(w, detail, http.StatusServiceUnavailable)
			}).
			ServeHTTP(rec, httptest.NewRequest("PUT", "/api/v1/settings", nil).WithContext(context.WithValue(context.Background(), forwardedKey{}, true)))
		return rec.Code
	}
	if code := forwarded(nodes[first]); code != http.StatusServiceUnavailable {
		t.Fatalf("a request forwarded to the node that lost the account: %d, want 503", code)
	}
	if code := forwarded(nodes[next]); code != http.StatusNoContent {
		t.Fatalf("a request forwarded to the owner: %d, want it served", code)
	}
	ev2, err := nodes[next].h.Publish(context.Background(), "acme", "data_updated", map[string]any{"by": next})
	if err != nil || ev2.Seq != ev.Seq+1 {
		t.Fatalf("new owner appends seq %d (%v), want %d", ev2.Seq, err, ev.Seq+1)
	}

	// The new owner loses NATS: it refuses requests, saying why.
	lost := nodes[next].n
	if why := lost.Unhealthy(); why != "" {
		t.Fatalf("healthy node says %q", why)
	}
	shutdown(lost.srv)
	waitFor(t, "the node to notice", func() bool { return lost.Unhealthy() != "" })
	rec := httptest.NewRecorder()
	lost.REST(http.NotFoundHandler(), func(*http.Request) string { return "other" },
		func(w http.ResponseWriter, _ *http.Request, detail string) {
			http.Error(w, detail, http.StatusServiceUnavailable)
		}).
		ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/settings", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Body.Len() == 0 {
		t.Fatalf("a request on the node without NATS: %d %q", rec.Code, rec.Body.String())
	}
}

func shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

func TestAdvertiseAddr(t *testing.T) {
	for _, c := range []struct{ host, bound, want string }{
		{"", "127.0.0.1:8080", "127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "box:8080"},
		{"", "[::]:8080", "box:8080"},
		{"", ":5060", "box:5060"},
		{"10.0.0.7", "0.0.0.0:8080", "10.0.0.7:8080"},
		{"node-a.internal", "127.0.0.1:7000", "node-a.internal:7000"},
		{"fd00::1", ":8080", "[fd00::1]:8080"},
		{"", "", ""},
	} {
		if got := AdvertiseAddr(c.host, c.bound, "box"); got != c.want {
			t.Errorf("AdvertiseAddr(%q, %q) = %q, want %q", c.host, c.bound, got, c.want)
		}
	}
	if a := parseMember([]byte("1733100000000")); a != (member{}) {
		t.Errorf("an older node's bare timestamp entry reads as %+v", a)
	}
	if a := parseMember([]byte(`{"at":1,"http":"h:1","sip":"s:2","relay":"x"}`)); a != (member{At: 1, Addrs: Addrs{HTTP: "h:1", SIP: "s:2"}, Relay: "x"}) {
		t.Errorf("entry reads as %+v", a)
	}
}

// logOnFailure is a logger of node id whose warnings and errors the test prints if it fails.
func logOnFailure(t *testing.T, id string) *slog.Logger {
	w := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of node %s:\n%s", id, w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// lockedBuffer is a bytes.Buffer safe for the goroutines of a node.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
