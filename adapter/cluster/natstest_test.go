package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// startCluster runs n embedded NATS servers with JetStream routed to each other on loopback
// ports (a real JetStream cluster) until the test ends.
func startCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(p))
	}
	servers := make([]*server.Server, n)
	for i := range n {
		s, err := StartEmbedded(EmbedOptions{
			Name: fmt.Sprintf("n%d", i+1), Dir: t.TempDir(),
			ClusterListen: routes[i], Routes: routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
		t.Cleanup(s.Shutdown)
	}
	for _, s := range servers {
		if err := WaitReady(s, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

func connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(s), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "cti.db"), discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// node is one hub on the cluster log, with its feed running, as a server runs it.
type node struct {
	log  *Log
	hub  *hub.Hub
	feed *Feed
}

func startNode(t testing.TB, s *server.Server, name string, replicas int) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, err := OpenLog(ctx, connect(t, s), openStore(t), LogOptions{Replicas: replicas, Node: name, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFeed(ctx, l, discard)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(ctx, l, hub.Options{Log: discard, QueueSize: 1 << 15}) // readers never dropped on a busy CI machine
	if err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go h.Run(run)
	go func() { defer close(done); _ = f.Run(run, h) }()
	<-f.Ready()
	t.Cleanup(func() { stop(); <-h.Done(); <-done; l.Close() })
	return &node{log: l, hub: h, feed: f}
}
