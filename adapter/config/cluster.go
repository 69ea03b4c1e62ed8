package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Cluster is how a node joins a cluster (PROTOCOLS.md section 10, docs/cluster.md). With neither
// NATS nor Embed the node is the single-node default.
type Cluster struct {
	NATS          string // comma-separated NATS URLs of the cluster (--nats)
	Embed         bool   // run a NATS server with JetStream in this process (--nats-embed)
	Listen        string // client listen address of the embedded server ("": a random loopback port)
	ClusterListen string // route listen address of the embedded server
	Routes        string // comma-separated routes to the other embedded servers (--nats-cluster)
	NodeID        string // this node's id (default: the host name)
	Replicas      int    // replicas of the event stream and the KV buckets (0: 3, or fewer servers)
	Advertise     string // host the other nodes reach this node's listeners by (default: from the listen addresses)
}

// Enabled reports whether the node is part of a cluster.
func (c Cluster) Enabled() bool { return c.NATS != "" || c.Embed }

// URLs are the NATS URLs to connect to.
func (c Cluster) URLs() []string { return splitList(c.NATS) }

// RouteList are the routes of the embedded server.
func (c Cluster) RouteList() []string { return splitList(c.Routes) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// bindCluster registers the cluster flags (every subcommand takes them; only serve uses them).
func (b *binder) bindCluster(c *Cluster) {
	b.str(&c.NATS, "nats", "CTI_NATS", "NATS URLs (comma-separated) of the cluster: events in JetStream, account ownership, command forwarding (empty: single node)")
	b.boolean(&c.Embed, "nats-embed", "CTI_NATS_EMBED", "run a NATS server with JetStream inside this process (storage in <data-dir>/nats); with --nats-cluster three nodes form a cluster with no other process")
	b.str(&c.Listen, "nats-listen", "CTI_NATS_LISTEN", "client listen address of the embedded NATS server (empty: a random loopback port)")
	b.str(&c.ClusterListen, "nats-cluster-listen", "CTI_NATS_CLUSTER_LISTEN", "route listen address of the embedded NATS server, host:port (with --nats-cluster)")
	b.str(&c.Routes, "nats-cluster", "CTI_NATS_CLUSTER", "routes (host:port, comma-separated) to the other nodes' embedded NATS servers; this node's own address may be listed")
	b.str(&c.NodeID, "node-id", "CTI_NODE_ID", "this node's id in the cluster, unique (default: the host name)")
	b.str(&c.Advertise, "advertise", "CTI_ADVERTISE", "host (name or IP) the other nodes reach this node's HTTP, bridge TCP and SIP listeners by, for relayed signalling (default: the listen address's host, or the host name when it listens on every interface)")
	b.integer(&c.Replicas, "nats-replicas", "CTI_NATS_REPLICAS", "replicas of the event stream and the lease buckets (0: 3, or the number of embedded servers if fewer)")
}

// validate checks the cluster settings.
func (c Cluster) validate(postgres string) error {
	var errs []error
	if c.Routes != "" && !c.Embed {
		errs = append(errs, errors.New("--nats-cluster needs --nats-embed"))
	}
	if c.Routes != "" && c.ClusterListen == "" {
		errs = append(errs, errors.New("--nats-cluster needs --nats-cluster-listen"))
	}
	if strings.ContainsAny(c.Advertise, ":/ ") && net.ParseIP(c.Advertise) == nil {
		errs = append(errs, fmt.Errorf("--advertise %q must be a host name or an IP address, without a port", c.Advertise))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--nats-replicas %d is not 0-5", c.Replicas))
	}
	if c.Enabled() && postgres == "" && len(c.RouteList()) > 0 {
		errs = append(errs, errors.New("a cluster of several nodes needs --postgres: accounts, tokens and call records must be shared"))
	}
	return errors.Join(errs...)
}
