package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Leader placement (docs/cluster.md "Raft leaders"). With embedded NATS servers, each node's
// process also runs one of the cluster's NATS servers, and NATS elects a Raft leader for the
// JetStream meta group and for each stream (the event stream, and the streams behind the owners
// and members buckets). Killing the process that holds a leader costs that group an election
// (4-9 s in nats-server 2.15, not configurable), during which it takes no writes: appends,
// lease renewals and claims wait. So the nodes keep all the leaders on one node, the leaders'
// node, and keep accounts off it: killing an owner then kills no leader, and its accounts are
// served again one lease (LeaseTTL) after its last renewal.
//
// The leaders' node is the node of the meta leader unless that node owns accounts (it won the
// election after the previous leaders' node died), else the first member (by id) that owns
// none, else the meta leader's node all the same. The leaders' node moves the stream leaders to
// itself (a stream leader step-down with a preferred server: a handover, no election timeout),
// and the account preference (preferred) leaves it out while another member is live. The meta
// leader itself is not moved (its step-down needs the system account, which the embedded
// server does not expose to the node): losing it delays only the creation of consumers, which
// a takeover does not need (membership and leases are read by direct get).
//
// With an external NATS (--nats, no --nats-embed) the NATS servers are not the nodes'
// processes: there is no leaders' node and no placement.

// placedStreams are the streams whose Raft leaders the leaders' node holds.
func placedStreams() []string {
	return []string{EventStream, "KV_" + OwnersBucket, "KV_" + MembersBucket}
}

// LeaderMoveEvery is how often the leaders' node checks where the stream leaders are.
const LeaderMoveEvery = time.Second

// metaLeader is the JetStream meta leader as this node's embedded server sees it ("" without
// an embedded server or while there is none).
func (n *Node) metaLeader() string {
	if n.srv == nil {
		return ""
	}
	info, err := n.srv.Jsz(&server.JSzOptions{})
	if err != nil || info == nil || info.Meta == nil {
		return ""
	}
	return info.Meta.Leader
}

// LeadersNode is the node that holds (or is to hold) the Raft leaders, "" when there is none
// (external NATS, or no meta leader yet).
func (n *Node) LeadersNode() string {
	meta := n.metaLeader()
	if meta == "" {
		return ""
	}
	n.mu.Lock()
	members := append([]string(nil), n.memberIDs...)
	owners := map[string]bool{}
	for _, o := range n.ownerOf {
		owners[o] = true
	}
	if len(n.owned) > 0 {
		owners[n.ID] = true
	}
	n.mu.Unlock()
	return leadersNode(meta, members, owners)
}

// leadersNode: meta unless it owns accounts, else the first member (sorted) owning none, else meta.
func leadersNode(meta string, members []string, owners map[string]bool) string {
	if !owners[meta] {
		return meta
	}
	for _, m := range members {
		if !owners[m] {
			return m
		}
	}
	return meta
}

// candidates are the members an account prefers: all of them but the leaders' node, unless it
// is the only one.
func candidates(members []string, leaders string) []string {
	if leaders == "" || !slices.Contains(members, leaders) || len(members) < 2 {
		return members
	}
	out := make([]string, 0, len(members)-1)
	for _, m := range members {
		if m != leaders {
			out = append(out, m)
		}
	}
	return out
}

// placeLeaders runs until ctx ends: while this node is the leaders' node, it moves the leader
// of every placed stream that is elsewhere to itself.
func (n *Node) placeLeaders(ctx context.Context) {
	if n.srv == nil {
		return
	}
	t := time.NewTicker(LeaderMoveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.draining.Load() || n.LeadersNode() != n.ID {
			continue
		}
		for _, s := range placedStreams() {
			n.moveLeader(ctx, s)
		}
	}
}

// moveLeader asks stream's leader, if it is not this node, to hand its leadership to this node.
func (n *Node) moveLeader(ctx context.Context, stream string) {
	if n.srv.JetStreamIsStreamLeader(n.srv.GlobalAccount().Name, stream) {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := n.Log.js.Stream(ictx, stream)
	if err != nil {
		return // no meta leader, or the stream is not there yet: the next round
	}
	info := st.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == n.ID {
		return
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": n.ID}})
	msg, err := n.nc.RequestWithContext(ictx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
	if err != nil {
		n.lg.Warn("leader placement", "stream", stream, "from", info.Cluster.Leader, "err", err)
		return
	}
	var res struct {
		Success bool                `json:"success"`
		Error   *jetstream.APIError `json:"error"`
	}
	if json.Unmarshal(msg.Data, &res) != nil || !res.Success {
		n.lg.Warn("leader placement refused", "stream", stream, "from", info.Cluster.Leader, "reply", string(msg.Data))
		return
	}
	n.lg.Info("stream leader moved to the leaders' node", "stream", stream, "from", info.Cluster.Leader)
}

// leaderGauges are cti_nats_leader{group}: 1 while this node's embedded server leads the group
// (the JetStream meta group, or a placed stream), as the NATS server itself reports it.
func (n *Node) leaderGauges() []prometheus.Collector {
	gauge := func(group string, leads func(*server.Server) bool) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "cti_nats_leader",
			Help:        "1 while this node's embedded NATS server is the Raft leader of the group (meta, or a stream).",
			ConstLabels: prometheus.Labels{"group": group},
		}, func() float64 {
			if n.srv == nil || !leads(n.srv) {
				return 0
			}
			return 1
		})
	}
	out := []prometheus.Collector{gauge("meta", (*server.Server).JetStreamIsLeader)}
	for _, s := range placedStreams() {
		out = append(out, gauge(s, func(srv *server.Server) bool {
			return srv.JetStreamIsStreamLeader(srv.GlobalAccount().Name, s)
		}))
	}
	return out
}
