package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// A command forwarded to an owner that is killed while it runs the command gets no answer, and
// NATS does not say so: the forwarding node would wait ForwardTimeout (10 s) for it. With an
// embedded server the forwarding node knows at once that the owner's process is gone: its NATS
// server's route to the owner's server closes (the kernel closes the dead process's sockets).
// So while a forwarded command waits, the node looks every PeerCheck whether the owner's server
// is still routed, and answers ErrUnavailable (503, retry) as soon as it is not. Without an
// embedded server (external NATS) the wait is ForwardTimeout as before.

// PeerCheck is how often a waiting forward looks whether the owner's NATS server is still routed.
const PeerCheck = 100 * time.Millisecond

// errPeerGone: the owner's server left the cluster while its answer was awaited.
var errPeerGone = errors.New("the owner node's NATS server left the cluster")

// peerView caches the names of the servers this node's embedded server has routes to.
type peerView struct {
	mu    sync.Mutex
	at    time.Time
	names map[string]bool
}

// peerUp says whether this node's embedded server has a route to the server of node id (true
// without an embedded server: nothing is known).
func (n *Node) peerUp(id string) bool {
	if n.srv == nil || id == n.ID {
		return true
	}
	v := &n.peers
	v.mu.Lock()
	defer v.mu.Unlock()
	if time.Since(v.at) >= PeerCheck/2 || v.names == nil {
		rz, err := n.srv.Routez(nil)
		if err != nil {
			return true
		}
		v.names = make(map[string]bool, len(rz.Routes))
		for _, r := range rz.Routes {
			v.names[r.RemoteName] = true
		}
		v.at = time.Now()
	}
	return v.names[id]
}

// requestLive sends a forwarded request to subj (CmdSubject or RESTSubject + the owner's id)
// and waits for the answer until ctx ends or the owner's server is no longer routed.
func (n *Node) requestLive(ctx context.Context, subj string, body []byte) (*nats.Msg, error) {
	if n.srv == nil {
		return n.nc.RequestWithContext(ctx, subj, body)
	}
	peer := strings.TrimPrefix(strings.TrimPrefix(subj, CmdSubject), RESTSubject)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(PeerCheck)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if !n.peerUp(peer) {
					cancel(errPeerGone)
					return
				}
			}
		}
	}()
	msg, err := n.nc.RequestWithContext(rctx, subj, body)
	if err != nil && errors.Is(context.Cause(rctx), errPeerGone) {
		return nil, fmt.Errorf("%w: %w", errPeerGone, core.ErrUnavailable)
	}
	return msg, err
}
