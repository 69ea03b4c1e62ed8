package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/cti-adapter/cti-adapter/adapter/api"
	"github.com/cti-adapter/cti-adapter/adapter/bridge"
	"github.com/cti-adapter/cti-adapter/adapter/cluster"
	"github.com/cti-adapter/cti-adapter/adapter/command"
	"github.com/cti-adapter/cti-adapter/adapter/config"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
)

// A node of a cluster (--nats or --nats-embed, docs/cluster.md): the hub's log is the JetStream
// stream instead of the store's event table, the core runs only the accounts this node holds a
// lease on, REST requests and integrator commands of other accounts are forwarded to their
// owner, and a node without NATS refuses new connections. With neither flag none of it runs.

// openNode starts the cluster node when the config asks for one and returns the hub's log: the
// node's JetStream log, or the store on a single node.
func openNode(ctx context.Context, cfg config.Config, log *slog.Logger, base *Base, m *metrics.Metrics) (*cluster.Node, hub.Log, error) {
	if !cfg.Cluster.Enabled() {
		return nil, base.Store, nil
	}
	c := cfg.Cluster
	if c.NodeID == "" {
		c.NodeID, _ = os.Hostname()
	}
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute) // a fresh cluster waits for its quorum
	defer cancel()
	n, err := cluster.Start(wait, cluster.Options{Config: c, DataDir: cfg.DataDir, Store: base.Store,
		Log: log, Metrics: m.Registry})
	if err != nil {
		return nil, nil, err
	}
	log.Info("cluster node up", "node", n.ID, "embedded_nats", c.Embed)
	return n, n.Log, nil
}

// ownsOf is the core's ownership test (nil on a single node: every account).
func ownsOf(n *cluster.Node) func(string) bool {
	if n == nil {
		return nil
	}
	return n.Owns
}

// commands is where integrator commands run.
func (s *Server) commands() command.Runner {
	if s.Node == nil {
		return command.Local{Core: s.Core}
	}
	return s.Node.Runner(s.Core)
}

// restEdge wraps /api/v1 with forwarding to the account's owner.
func (s *Server) restEdge(h http.Handler) http.Handler {
	if s.Node == nil {
		return h
	}
	return s.Node.REST(h, s.tokenAccount, api.WriteUnavailable)
}

// tokenAccount is the account of a request's valid bearer token ("" without one).
func (s *Server) tokenAccount(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	c, err := s.Auth.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	return c.Account
}

// refuseUnhealthy answers 503 to every new connection and request while the node cannot serve
// (it lost NATS, or drains), saying why; probes and metrics still answer.
func (s *Server) refuseUnhealthy(next http.Handler) http.Handler {
	if s.Node == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		if why := s.Node.Unhealthy(); why != "" {
			api.WriteUnavailable(w, r, why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clusterReadyz answers {"status","node","members","accounts"} (PROTOCOLS.md section 10); 503
// while the node cannot serve.
func (s *Server) clusterReadyz(w http.ResponseWriter, r *http.Request) {
	body := struct {
		Status   string   `json:"status"`
		Node     string   `json:"node"`
		Members  []string `json:"members"`
		Accounts []string `json:"accounts"`
		Reason   string   `json:"reason,omitempty"`
	}{Status: "ready", Node: s.Node.ID, Members: s.Node.Members(), Accounts: s.Node.Owned()}
	if body.Members == nil {
		body.Members = []string{}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if why := s.Node.Unhealthy(); why != "" {
		body.Status, body.Reason = "unavailable", why
	} else if err := s.Store.Ping(ctx); err != nil {
		body.Status, body.Reason = "unavailable", "store unreachable"
	}
	w.Header().Set("Content-Type", "application/json")
	if body.Status != "ready" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// runNode runs the node's loops and its command service until ctx ends.
func (s *Server) runNode(ctx context.Context) {
	if err := s.Node.Serve(ctx, s.Core, s.handler); err != nil {
		s.Log.Error("cluster command service", "err", err)
	}
	go cluster.ReloadSettings(ctx, s.Store, s.Accounts, cluster.SettingsReload, s.Log.With("component", "cluster"))
	s.Node.Run(ctx, cluster.FollowSettings(s.Hub, s.Accounts, s.Log.With("component", "cluster")), s.Core)
}

// advertise publishes this node's bound listeners in its membership entry (relayed signalling,
// docs/cluster.md): the HTTP address, the bridge TCP address (if it listens) and the SIP address
// (if SIP is on), each with the --advertise host.
func (s *Server) advertise(httpAddr net.Addr, bridgeLn *bridge.Listener) {
	if s.Node == nil {
		return
	}
	host, fallback := s.Config.Cluster.Advertise, hostname()
	a := cluster.Addrs{HTTP: cluster.AdvertiseAddr(host, httpAddr.String(), fallback),
		SIP: cluster.AdvertiseAddr(host, s.Config.SIPAddr, fallback)}
	if bridgeLn != nil {
		a.BridgeTCP = cluster.AdvertiseAddr(host, bridgeLn.Addr().String(), fallback)
	}
	s.Node.Advertise(a)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// relayWS wraps a WebSocket edge with the relay to the account's owner (adapter/cluster
// relay_ws.go); token is how the edge reads the handshake's token.
func (s *Server) relayWS(kind string, h http.Handler, token func(*http.Request) string) http.Handler {
	if s.Node == nil {
		return h
	}
	return s.Node.RelayWS(h, cluster.WSRelay{Kind: kind, Conns: s.Conns, Unavailable: api.WriteUnavailable,
		AccountOf: func(r *http.Request) string {
			tok := token(r)
			if tok == "" {
				return ""
			}
			c, err := s.Auth.Verify(r.Context(), tok)
			if err != nil {
				return ""
			}
			return c.Account
		}})
}

// bridgeRelay is the relay of bridge logins to the account's owner (adapter/cluster
// relay_login.go), for TCP and for WebSockets opened without a URL token.
func (s *Server) bridgeRelay() cluster.BridgeRelay {
	return cluster.BridgeRelay{Conns: s.Conns, FrameTimeout: 10 * time.Second, MaxFrame: bridge.MaxMessage,
		RequestID: bridge.RequestID,
		AccountOf: func(frame []byte) string {
			tok := bridge.LoginToken(frame)
			if tok == "" {
				return ""
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := s.Auth.Verify(ctx, tok)
			if err != nil {
				return ""
			}
			return c.Account
		}}
}

// wrapBridgeTCP is the bridge's WrapTCP; nil on a single node.
func (s *Server) wrapBridgeTCP() func(net.Conn) net.Conn {
	if s.Node == nil {
		return nil
	}
	o := s.bridgeRelay()
	return func(nc net.Conn) net.Conn { return s.Node.WrapBridgeTCP(nc, o) }
}

// wrapBridgeWS is the bridge's WrapWS; nil on a single node.
func (s *Server) wrapBridgeWS() func(*websocket.Conn, *http.Request) bridge.WS {
	if s.Node == nil {
		return nil
	}
	o := s.bridgeRelay()
	return func(ws *websocket.Conn, r *http.Request) bridge.WS { return s.Node.WrapBridgeWS(ws, r, o) }
}
