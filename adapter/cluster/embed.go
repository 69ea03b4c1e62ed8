package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbedOptions configure the NATS server a node runs in its own process (--nats-embed).
type EmbedOptions struct {
	Name          string       // server name: the node id (unique in the cluster)
	Dir           string       // JetStream storage (inside the node's data dir)
	ClientListen  string       // host:port for NATS clients ("": a random loopback port; the node connects in-process)
	ClusterListen string       // host:port of the route listener ("" with no routes: a single server)
	Routes        []string     // nats-route://host:port (or host:port) of the other servers
	Log           *slog.Logger // the server's warnings and errors (nil: none)
}

// ClusterName is the name every embedded server of one cluster shares.
const ClusterName = "cti"

// StartEmbedded starts a NATS server with JetStream (WaitReady waits until it accepts clients).
// With routes it joins them as a cluster (JetStream needs a quorum of them to be up before
// streams can be used; OpenLog waits for that).
func StartEmbedded(o EmbedOptions) (*server.Server, error) {
	opts := &server.Options{
		ServerName: o.Name,
		JetStream:  true,
		StoreDir:   filepath.Join(o.Dir, "jetstream"),
		NoSigs:     true,
	}
	if o.ClientListen == "" {
		// A client port on loopback all the same: the server starts its routes only after its
		// client accept loop (DontListen would leave a clustered server without routes).
		opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	} else {
		h, p, err := splitHostPort(o.ClientListen)
		if err != nil {
			return nil, fmt.Errorf("nats listen %q: %w", o.ClientListen, err)
		}
		opts.Host, opts.Port = h, p
	}
	if len(o.Routes) > 0 || o.ClusterListen != "" {
		if o.ClusterListen == "" {
			return nil, errors.New("--nats-cluster needs --nats-cluster-listen (the address this node's routes listen on)")
		}
		h, p, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("nats cluster listen %q: %w", o.ClusterListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: ClusterName, Host: h, Port: p}
		for _, r := range o.Routes {
			u, err := routeURL(r)
			if err != nil {
				return nil, err
			}
			if u.Host == o.ClusterListen {
				continue // the same list may be given to every node
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if o.Log != nil {
		s.SetLoggerV2(natsLog{o.Log}, false, false, false)
	}
	go s.Start()
	return s, nil
}

// WaitReady waits until s accepts clients. A clustered server completes its start only once
// it has met its routes, so start every server of a cluster before waiting for any.
func WaitReady(s *server.Server, d time.Duration) error {
	if !s.ReadyForConnections(d) {
		return fmt.Errorf("nats server %s: not ready after %s (are the --nats-cluster routes up?)", s.Name(), d)
	}
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	h, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0-65535", ps)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, p, nil
}

// routeURL accepts nats-route://host:port or host:port.
func routeURL(r string) (*url.URL, error) {
	r = strings.TrimSpace(r)
	if !strings.Contains(r, "://") {
		r = "nats-route://" + r
	}
	u, err := url.Parse(r)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("nats route %q is not host:port or nats-route://host:port", r)
	}
	return u, nil
}

// natsLog passes the NATS server's warnings and errors to slog (notices are routine chatter).
type natsLog struct{ l *slog.Logger }

func (n natsLog) Noticef(string, ...any)   {}
func (n natsLog) Debugf(string, ...any)    {}
func (n natsLog) Tracef(string, ...any)    {}
func (n natsLog) Warnf(f string, a ...any) { n.l.Warn(fmt.Sprintf(f, a...), "component", "nats") }
func (n natsLog) Errorf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	if strings.Contains(msg, "Error trying to connect to route") && !strings.Contains(msg, "(attempt 1)") {
		return // retried every second while a peer is down: the first attempt says it
	}
	n.l.Error(msg, "component", "nats")
}
func (n natsLog) Fatalf(f string, a ...any) { n.l.Error(fmt.Sprintf(f, a...), "component", "nats") }
