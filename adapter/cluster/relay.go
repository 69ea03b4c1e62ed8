package cluster

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Relayed signalling (docs/cluster.md "Relayed signalling"): a WebSocket (/rtc, /bridge) or a
// bridge TCP connection that reaches a node which does not own its account is relayed, message
// by message, to the owner's HTTP listener (its advertised address, addrs.go), where the edge
// serves it as if the client were local. Only signalling passes through the relay: the owner's
// ICE candidates name the owner, so media flows straight to it.
//
// A relayed handshake carries RelayHeader ("<relaying node> <the owner's relay secret>") and
// RelayedForHeader (the client's address). The secret is random per process and published in
// the node's membership entry, so only a member can present it: a node serves a request that
// carries its secret locally, whatever it owns (a relay never relays again: no loops), with the
// client's address as the remote address (per-address caps count the client, not the relay);
// a request with a wrong secret is refused 403.

// Headers of a relayed handshake.
const (
	RelayHeader      = "CTI-Relay"
	RelayedForHeader = "CTI-Relayed-For"
)

// Tracker registers long-lived connections for the shutdown (conns.Tracker).
type Tracker interface {
	Add(protocol string) (release func(), ok bool)
	Closing() <-chan struct{}
}

// newRelaySecret is this process's relay secret.
func newRelaySecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// relaySecretOf is the relay secret a live member published ("" when unknown).
func (n *Node) relaySecretOf(node string) string {
	if node == n.ID {
		return n.relaySecret
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.memberEntries[node].Relay
}

// relayed reports whether r is a handshake relayed by a member (its secret is this node's) and,
// if so, makes the client's address r's remote address and drops the relay headers. ok is false
// when r carries a relay header with a wrong secret.
func (n *Node) relayed(r *http.Request) (relayed, ok bool) {
	v := r.Header.Get(RelayHeader)
	if v == "" {
		return false, true
	}
	_, secret, _ := strings.Cut(v, " ")
	if subtle.ConstantTimeCompare([]byte(secret), []byte(n.relaySecret)) != 1 {
		return true, false
	}
	if a := r.Header.Get(RelayedForHeader); a != "" {
		if _, _, err := net.SplitHostPort(a); err == nil {
			r.RemoteAddr = a
		}
	}
	r.Header.Del(RelayHeader)
	r.Header.Del(RelayedForHeader)
	return true, true
}

// refuse writes a problem+json refusal before an upgrade.
func refuse(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "https://cti-adapter.dev/problems/" + code,
		"title": http.StatusText(status), "status": status, "code": code, "detail": detail})
}

// relayMetrics are the relay's additions to /metrics.
type relayMetrics struct {
	open  *prometheus.GaugeVec   // cti_relayed_connections{kind}
	total *prometheus.CounterVec // cti_relayed_connections_total{kind}
}

func newRelayMetrics(reg *prometheus.Registry) relayMetrics {
	m := relayMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cti_relayed_connections",
			Help: "Connections this node relays to their account's owner node now, by kind (rtc, bridge_ws, bridge_tcp)."}, []string{"kind"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cti_relayed_connections_total",
			Help: "Connections this node relayed to their account's owner node, by kind (rtc, bridge_ws, bridge_tcp)."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.open, m.total)
	}
	return m
}

// track counts a relayed connection of kind until the returned func is called.
func (m relayMetrics) track(kind string) func() {
	m.total.WithLabelValues(kind).Inc()
	g := m.open.WithLabelValues(kind)
	g.Inc()
	return g.Dec
}

// relayTarget is where acct's connection goes: ("", nil) when this node serves it, else the
// owner and its advertised HTTP address, or ErrUnavailable-wrapped errors.
func (n *Node) relayTarget(acct string) (owner, addr string, err error) {
	if acct == "" || n.Owns(acct) {
		return "", "", nil
	}
	if owner, err = n.route(acct); err != nil {
		return "", "", err
	}
	if owner == n.ID {
		return "", "", nil
	}
	a, ok := n.Addr(owner)
	if !ok || a.HTTP == "" || n.relaySecretOf(owner) == "" {
		return "", "", errNoAddr(owner)
	}
	return owner, a.HTTP, nil
}

type errNoAddr string

func (e errNoAddr) Error() string {
	return "the account's node " + string(e) + " has not published its address yet; retry"
}
