package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/command"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// Commands are forwarded to the account's owner node by NATS request/reply on the owner's
// subject (CmdSubject + node id): the owner runs them on its core and answers the result, or the
// error's kind and text, which the forwarding node turns back into an error of the same kind
// (core.RemoteError), so that every edge answers as the owner's edge would.
const (
	CmdSubject  = "cti.cmd."
	RESTSubject = "cti.rest."
	// ForwardTimeout bounds a forwarded command (the owner's own work included).
	ForwardTimeout = 10 * time.Second
)

type cmdRequest struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
	Actor   core.Actor      `json:"actor"`
}

type cmdReply struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Kind    core.ErrorKind  `json:"kind,omitempty"`
	Message string          `json:"message,omitempty"`
}

// Runner is the command.Runner of a node: commands of accounts it owns run on its core, the
// others are forwarded to their owner.
func (n *Node) Runner(c *core.Core) command.Runner { return runner{n: n, core: c} }

type runner struct {
	n    *Node
	core *core.Core
}

func (r runner) RunCommand(ctx context.Context, cmd command.Command, a core.Actor) (any, error) {
	owner, err := r.n.route(a.Account)
	if err != nil {
		return nil, err
	}
	if owner == r.n.ID {
		return cmd.Run(ctx, r.core, a)
	}
	payload, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(cmdRequest{Name: cmd.Name(), Payload: payload, Actor: a})
	msg, err := r.n.request(ctx, a.Account, CmdSubject+owner, body)
	if err != nil {
		return nil, err
	}
	r.n.metrics.forwarded.WithLabelValues("command").Inc()
	var rep cmdReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return nil, fmt.Errorf("cluster: reply of node %s: %w", owner, err)
	}
	if rep.Kind == core.KindInternal {
		return nil, fmt.Errorf("cluster: node %s: %s", owner, rep.Message)
	}
	if rep.Kind != "" {
		return nil, &core.RemoteError{Kind: rep.Kind, Message: rep.Message}
	}
	return rep.Result, nil
}

// route is where acct's commands run: this node, another node, or ErrUnavailable while the
// account has no owner or this node cannot reach NATS.
func (n *Node) route(acct string) (string, error) {
	if why := n.Unhealthy(); why != "" && !n.Owns(acct) {
		return "", fmt.Errorf("%s: %w", why, core.ErrUnavailable)
	}
	owner := n.OwnerOf(acct)
	if owner == "" {
		return "", fmt.Errorf("account %q has no serving node right now (one is taking it over): %w", acct, core.ErrUnavailable)
	}
	return owner, nil
}

// request sends a forwarded command of acct; a node that does not answer makes it
// ErrUnavailable, and the account's owner is read again from the bucket for the next command
// (the watch may not have told this node of a takeover yet).
func (n *Node) request(ctx context.Context, acct, subj string, body []byte) (*nats.Msg, error) {
	rctx, cancel := context.WithTimeout(ctx, ForwardTimeout)
	defer cancel()
	msg, err := n.requestLive(rctx, subj, body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n.refreshOwner(ctx, acct)
		return nil, fmt.Errorf("the account's node does not answer (%v): %w", err, core.ErrUnavailable)
	}
	return msg, nil
}

// refreshOwner reads acct's owner from the owners bucket.
func (n *Node) refreshOwner(ctx context.Context, acct string) {
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	e, err := n.owners.Get(gctx, acct)
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case err == nil:
		n.ownerOf[acct] = string(e.Value())
	case errors.Is(err, jetstream.ErrKeyNotFound):
		delete(n.ownerOf, acct)
	}
}

// serveCommands answers the commands other nodes forward to this one, until ctx ends.
func (n *Node) serveCommands(ctx context.Context, c *core.Core) (*nats.Subscription, error) {
	return n.nc.Subscribe(CmdSubject+n.ID, func(m *nats.Msg) {
		go n.answerCommand(ctx, c, m)
	})
}

func (n *Node) answerCommand(ctx context.Context, c *core.Core, m *nats.Msg) {
	var req cmdRequest
	rep := cmdReply{}
	cmd := command.New("")
	err := json.Unmarshal(m.Data, &req)
	if err == nil {
		if cmd = command.New(req.Name); cmd == nil {
			err = fmt.Errorf("unknown command %q", req.Name)
		} else {
			err = json.Unmarshal(req.Payload, cmd)
		}
	}
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, ForwardTimeout)
		var res any
		res, err = cmd.Run(rctx, c, req.Actor)
		cancel()
		if err == nil {
			rep.Result, err = json.Marshal(res)
		}
	}
	if err != nil {
		rep.Kind, rep.Message = core.Kind(err), err.Error()
		if rep.Kind == core.KindInternal {
			n.lg.Error("forwarded command failed", "command", req.Name, "account", req.Actor.Account, "err", err)
			rep.Message = "internal error"
		}
	}
	b, _ := json.Marshal(rep)
	if err := m.Respond(b); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		n.lg.Warn("answer forwarded command", "err", err)
	}
}

// Serve answers the commands and REST requests other nodes forward to this one, until ctx ends:
// commands run on c, REST requests on handler (the whole HTTP surface).
func (n *Node) Serve(ctx context.Context, c *core.Core, handler http.Handler) error {
	cs, err := n.serveCommands(ctx, c)
	if err != nil {
		return err
	}
	rs, err := n.serveREST(ctx, handler)
	if err != nil {
		_ = cs.Unsubscribe()
		return err
	}
	go func() {
		<-ctx.Done()
		_ = cs.Unsubscribe()
		_ = rs.Unsubscribe()
	}()
	return nil
}
