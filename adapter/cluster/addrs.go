package cluster

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"time"
)

// Every node publishes, in its membership entry (the cti_members bucket, renewed each Tick), the
// addresses the other nodes reach it by: its HTTP listener (where /rtc and /bridge WebSockets
// are relayed), its bridge TCP listener and its SIP listener (docs/cluster.md "Relayed
// signalling"). An address is host:port; "" when the listener is off.

// Addrs are a node's advertised addresses.
type Addrs struct {
	HTTP      string `json:"http,omitempty"`
	BridgeTCP string `json:"bridge_tcp,omitempty"`
	SIP       string `json:"sip,omitempty"`
}

// member is a membership entry's value.
type member struct {
	At int64 `json:"at"` // unix ms of the heartbeat
	Addrs
	Relay string `json:"relay,omitempty"` // the node's relay secret (relay.go)
}

// Advertise sets the addresses this node publishes from its next heartbeat on (call it once
// the listeners are bound).
func (n *Node) Advertise(a Addrs) {
	n.addrs.Store(&a)
	n.lg.Info("advertised addresses", "http", a.HTTP, "bridge_tcp", a.BridgeTCP, "sip", a.SIP)
}

// Advertised are the addresses this node publishes.
func (n *Node) Advertised() Addrs {
	if a := n.addrs.Load(); a != nil {
		return *a
	}
	return Addrs{}
}

// Addr are the addresses a live member advertises (false: node is not a member, or its entry
// has not been read yet).
func (n *Node) Addr(node string) (Addrs, bool) {
	if node == n.ID {
		return n.Advertised(), true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m, ok := n.memberEntries[node]
	return m.Addrs, ok
}

// heartbeat is this node's membership entry now.
func (n *Node) heartbeat() []byte {
	b, _ := json.Marshal(member{At: time.Now().UnixMilli(), Addrs: n.Advertised(), Relay: n.relaySecret})
	return b
}

// parseMember reads an entry (an entry of an older node, a bare timestamp, has no addresses).
func parseMember(b []byte) member {
	var m member
	if json.Unmarshal(b, &m) != nil {
		return member{}
	}
	return m
}

// watchMembers keeps memberEntries up to date from the membership bucket.
func (n *Node) watchMembers(ctx context.Context) {
	n.watchKV(ctx, n.members, "members", func(key string, value []byte, put bool) {
		if put {
			n.memberEntries[key] = parseMember(value)
		} else {
			delete(n.memberEntries, key) // left, or its entry expired
		}
	})
}

// AdvertiseAddr is the address to advertise for a listener bound at bound: host (--advertise)
// with bound's port, or bound itself when host is "" and bound names a specific host, or
// fallback (the host name) with bound's port when bound is a wildcard. "" when bound is "".
func AdvertiseAddr(host, bound, fallback string) string {
	if bound == "" {
		return ""
	}
	h, p, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if host == "" {
		host = h
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			host = fallback
		}
	}
	if _, err := strconv.Atoi(p); err != nil {
		return bound
	}
	return net.JoinHostPort(host, p)
}
