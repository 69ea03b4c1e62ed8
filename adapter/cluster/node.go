package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Buckets of the ownership leases and the membership (JetStream KV, docs/cluster.md).
const (
	OwnersBucket  = "cti_owners"
	MembersBucket = "cti_members"
)

// Lease timing: a lease lives LeaseTTL after its last renewal, renewed every Tick. A dead
// owner's accounts are free LeaseTTL after its last renewal and taken at the next tick of
// another node: under 10 s (PROTOCOLS.md section 10).
const (
	LeaseTTL = 4 * time.Second
	Tick     = 500 * time.Millisecond
)

// Node is this process as one node of a cluster: its NATS connection (and embedded server),
// the event log and feed, the leases it holds and the command service.
type Node struct {
	ID   string
	Log  *Log
	Feed *Feed

	nc      *nats.Conn
	srv     *server.Server // the embedded server, if any
	owners  jetstream.KeyValue
	members jetstream.KeyValue
	store   store.Backend
	lg      *slog.Logger
	metrics nodeMetrics

	mu            sync.Mutex        // guards owned, ownerOf, memberIDs, unowned, memberEntries
	owned         map[string]uint64 // accounts this node holds -> lease revision
	ownerOf       map[string]string // last known owner of every account (watch of the owners bucket)
	memberIDs     []string
	unowned       map[string]int    // ticks an account has been seen without an owner
	memberEntries map[string]member // the members' entries: addresses, relay secrets (addrs.go)
	addrs         atomic.Pointer[Addrs]
	relaySecret   string // this process's (relay.go)

	started  time.Time    // when Run started (set before the loop)
	lost     atomic.Value // string: why this node lost NATS ("" while connected)
	draining atomic.Bool

	membersSt jetstream.Stream // the members bucket's stream, read by direct get (lease.go)
	peers     peerView         // the servers this node's embedded server routes to (leaders_peers.go)
}

// Options configure a node.
type Options struct {
	Config  config.Cluster
	DataDir string
	Store   store.Backend // accounts and call records (shared by the nodes)
	Log     *slog.Logger
	Metrics *prometheus.Registry // may be nil
}

// Start connects the node (starting its embedded NATS server first, if configured), opens the
// event log and the buckets, and prepares the feed. It waits for JetStream until ctx ends.
func Start(ctx context.Context, o Options) (*Node, error) {
	c := o.Config
	if c.NodeID == "" {
		return nil, errors.New("cluster: a node id is needed (--node-id)")
	}
	n := &Node{ID: c.NodeID, store: o.Store, lg: o.Log.With("component", "cluster", "node", c.NodeID),
		owned: map[string]uint64{}, ownerOf: map[string]string{}, unowned: map[string]int{},
		memberEntries: map[string]member{}, relaySecret: newRelaySecret()}
	n.lost.Store("")
	n.metrics = newNodeMetrics(o.Metrics, n)
	replicas := c.Replicas
	connOpts := []nats.Option{nats.Name("cti-adapter " + c.NodeID), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.setLost(err) }),
		nats.ReconnectHandler(func(*nats.Conn) { n.setLost(nil) }),
	}
	var err error
	if c.Embed {
		routes := c.RouteList()
		if n.srv, err = StartEmbedded(EmbedOptions{Name: c.NodeID, Dir: filepath.Join(o.DataDir, "nats"),
			ClientListen: c.Listen, ClusterListen: c.ClusterListen, Routes: routes, Log: o.Log}); err != nil {
			return nil, err
		}
		if replicas == 0 {
			replicas = min(3, max(1, len(routes)))
		}
		if err := WaitReady(n.srv, time.Minute); err != nil {
			n.srv.Shutdown()
			return nil, err
		}
	}
	if replicas == 0 {
		replicas = 3
	}
	if c.NATS != "" {
		n.nc, err = nats.Connect(joinURLs(c.URLs()), connOpts...)
	} else {
		n.nc, err = nats.Connect("", append(connOpts, nats.InProcessServer(n.srv))...)
	}
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	if err := n.open(ctx, replicas, o.Store); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context, replicas int, st store.Backend) error {
	var err error
	if n.Log, err = OpenLog(ctx, n.nc, st, LogOptions{Replicas: replicas, Node: n.ID, Log: n.lg}); err != nil {
		return err
	}
	// A new R3 stream answers "not found", or nothing, until its group has a leader.
	if err := await(ctx, n.lg, "event stream", func(actx context.Context) (err error) {
		n.Feed, err = NewFeed(actx, n.Log, n.lg)
		return err
	}); err != nil {
		return err
	}
	kvs := map[string]*jetstream.KeyValue{OwnersBucket: &n.owners, MembersBucket: &n.members}
	for name, kv := range kvs {
		if err := await(ctx, n.lg, "bucket "+name, func(actx context.Context) (err error) {
			*kv, err = n.Log.js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{
				Bucket: name, TTL: LeaseTTL, History: 1, Replicas: replicas, Storage: jetstream.FileStorage})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

func joinURLs(urls []string) string {
	out := ""
	for i, u := range urls {
		if i > 0 {
			out += ","
		}
		out += u
	}
	return out
}

func (n *Node) setLost(err error) {
	if err == nil {
		n.lg.Warn("NATS connection back: accepting new connections again")
		n.lost.Store("")
		return
	}
	n.lg.Error("lost NATS: refusing new connections until it is back", "err", err)
	n.lost.Store("this node lost its NATS connection: " + err.Error())
}

// Unhealthy says why this node must not accept new connections ("" when it may).
func (n *Node) Unhealthy() string {
	if s, _ := n.lost.Load().(string); s != "" {
		return s
	}
	if !n.nc.IsConnected() {
		return "this node is not connected to NATS"
	}
	if n.draining.Load() {
		return "this node is draining"
	}
	return ""
}

// Close drops the NATS connection and stops the embedded server.
func (n *Node) Close() {
	if n.Log != nil {
		n.Log.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// Owns reports whether this node holds acct's lease (core.Options.Owns).
func (n *Node) Owns(acct string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.owned[acct]
	return ok
}

// Owned are the accounts this node holds.
func (n *Node) Owned() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.owned))
	for a := range n.owned {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Members are the nodes seen alive at the last tick.
func (n *Node) Members() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.memberIDs...)
}

// OwnerOf is acct's owner as far as this node knows ("" while it has none).
func (n *Node) OwnerOf(acct string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.owned[acct]; ok {
		return n.ID
	}
	return n.ownerOf[acct]
}
