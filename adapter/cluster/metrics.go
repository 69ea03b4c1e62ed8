package cluster

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are the cluster's additions to /metrics.
type nodeMetrics struct {
	forwarded *prometheus.CounterVec // cti_forwarded_commands_total{kind}
	relay     relayMetrics           // relay.go
}

func newNodeMetrics(reg *prometheus.Registry, n *Node) nodeMetrics {
	m := nodeMetrics{forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cti_forwarded_commands_total",
		Help: "Commands this node forwarded to the account's owner node, by kind (rest, command).",
	}, []string{"kind"}), relay: newRelayMetrics(reg)}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.forwarded,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cti_owned_accounts", Help: "Accounts whose core runs on this node (leases held).",
		}, func() float64 { return float64(len(n.Owned())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cti_stream_lag", Help: "Messages of the event stream this node's feed has not delivered yet.",
		}, n.lag),
	)
	reg.MustRegister(n.leaderGauges()...)
	return m
}

// lag is how many stream messages the feed is behind (0 if unknown).
func (n *Node) lag() float64 {
	if n.Log == nil || n.Feed == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := n.Log.stream.Info(ctx)
	if err != nil {
		return 0
	}
	d := n.Feed.Delivered()
	if info.State.LastSeq <= d {
		return 0
	}
	return float64(info.State.LastSeq - d)
}
