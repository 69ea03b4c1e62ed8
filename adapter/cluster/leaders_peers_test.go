package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// TestRequestLivePeerGone: a forwarded request whose owner's server leaves the cluster while the
// owner holds it (it never answers) ends with errPeerGone, an ErrUnavailable, not at the
// context's end; while the owner is routed, its answer comes back as it is.
func TestRequestLivePeerGone(t *testing.T) {
	servers := startCluster(t, 3) // server names n1, n2, n3: the node ids
	n := &Node{ID: "n1", srv: servers[0], nc: connect(t, servers[0])}
	owner := connect(t, servers[1])
	held := make(chan struct{}, 1)
	if _, err := owner.Subscribe(CmdSubject+"n2", func(m *nats.Msg) {
		if string(m.Data) == "hold" {
			held <- struct{}{} // the owner is killed before it answers
			return
		}
		_ = m.Respond([]byte("ok " + string(m.Data)))
	}); err != nil {
		t.Fatal(err)
	}
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitFor(t, "n1 routed to n2", func() bool { return n.peerUp("n2") })
	var last error
	waitFor(t, "an answer from n2 (its interest reaching n1)", func() bool {
		msg, err := n.requestLive(ctx, CmdSubject+"n2", []byte("ping"))
		if err == nil && string(msg.Data) != "ok ping" {
			t.Fatalf("request to a live owner answered %q", msg.Data)
		}
		last = err
		return err == nil || !errors.Is(err, nats.ErrNoResponders)
	})
	if last != nil {
		t.Fatalf("request to a live owner: %v", last)
	}
	if n.peerUp("nobody") {
		t.Fatal("a server that is not in the cluster counts as routed")
	}
	done := make(chan error, 1)
	go func() {
		_, err := n.requestLive(ctx, CmdSubject+"n2", []byte("hold"))
		done <- err
	}()
	<-held
	shutdown(servers[1])
	err := <-done
	if !errors.Is(err, errPeerGone) || !errors.Is(err, core.ErrUnavailable) || ctx.Err() != nil {
		t.Fatalf("request held by an owner whose server left: %v (ctx %v)", err, ctx.Err())
	}
}
