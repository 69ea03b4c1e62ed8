package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/recovery"
	"github.com/cti-adapter/cti-adapter/adapter/store"
)

// Hub is the local hub as the node drives it.
type Hub interface {
	Deliverer
	SyncSeq(account string, last int64)
	Head(account string) int64
	EnqueueBatch(b *hub.Batch) (*hub.Pending, error)
}

// Core is the local core as the node drives it.
type Core interface {
	Forget(account string)
}

// Run runs the node until ctx ends: the feed, the watches of the owners and members buckets, and
// every Tick the membership heartbeat (with the advertised addresses, addrs.go), the renewal of
// the leases it holds and the claim of accounts without a live owner (a dead owner's leases expire LeaseTTL after its last renewal). Accounts are
// claimed by their preferred node among the live members but the leaders' node (highest
// rendezvous hash; leaders.go) after two ticks without a live owner (and not in the first two
// ticks, so that a starting cluster spreads its accounts), by any node after six.
func (n *Node) Run(ctx context.Context, h Hub, c Core) {
	n.started = time.Now()
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		if err := n.Feed.Run(ctx, h); err != nil {
			n.lg.Error("event feed stopped", "err", err)
		}
	}()
	go n.watchOwners(ctx)
	go n.watchMembers(ctx)
	go n.placeLeaders(ctx)
	t := time.NewTicker(Tick)
	defer t.Stop()
	for {
		n.tick(ctx, h, c)
		select {
		case <-ctx.Done():
			<-feedDone
			return
		case <-t.C:
		}
	}
}

func (n *Node) tick(ctx context.Context, h Hub, c Core) {
	if n.draining.Load() || ctx.Err() != nil {
		return
	}
	if _, err := n.members.Put(ctx, n.ID, n.heartbeat()); err != nil {
		n.lg.Warn("membership heartbeat", "err", err)
	}
	members, err := n.liveMembers(ctx)
	if err != nil {
		n.lg.Warn("membership", "err", err)
		return
	}
	n.mu.Lock()
	n.memberIDs = members
	n.mu.Unlock()
	n.renewAll(ctx, c)
	accts, err := n.store.Accounts(ctx)
	if err != nil {
		n.lg.Warn("accounts", "err", err)
		return
	}
	n.refreshOwners(ctx, accts, members)
	prefer := candidates(members, n.LeadersNode())
	for _, a := range accts {
		if n.shouldClaim(a.Name, members, prefer) {
			n.claim(ctx, a.Name, h, c)
		}
	}
}

// shouldClaim counts the ticks acct has been without a live owner and says whether this node
// claims it now: at once if it is acct's preferred node among prefer (the members but the
// leaders' node, leaders.go), after six ticks in any case.
func (n *Node) shouldClaim(acct string, members, prefer []string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.owned[acct]; ok {
		return false
	}
	o := n.ownerOf[acct]
	// A lease naming this node that it does not hold is one whose takeover failed and whose
	// release did not reach the bucket (it expired first: no watch event), not a live owner.
	if o != "" && o != n.ID && slices.Contains(members, o) {
		n.unowned[acct] = 0
		return false
	}
	n.unowned[acct]++
	settled := time.Since(n.started) >= 2*Tick // the membership has been read by every node
	// Two ticks without a live owner: a live owner whose heartbeat and lease expired together
	// (the buckets had no Raft leader for a while) heartbeats again within one tick and renews.
	// An owner whose process is up (its NATS server is routed: leaders_peers.go) but whose
	// heartbeat expired is waiting for the members bucket's election: it gets routedGrace.
	need := 2
	if o != "" && n.srv != nil && n.peerUp(o) {
		need = routedGrace
	}
	return (settled && n.unowned[acct] >= need && preferred(acct, prefer) == n.ID) || n.unowned[acct] >= max(6, need)
}

// routedGrace is how many ticks an account whose owner's process is up (routed) but not a
// member waits before another node claims it: longer than a Raft election (4-9 s).
const routedGrace = int(2 * LeaseTTL / Tick)

// preferred is acct's node of highest rendezvous hash among members.
func preferred(acct string, members []string) string {
	best, bestH := "", uint64(0)
	for _, m := range members {
		f := fnv.New64a()
		f.Write([]byte(acct + "\x00" + m))
		if h := f.Sum64(); best == "" || h > bestH {
			best, bestH = m, h
		}
	}
	return best
}

// claim creates acct's lease (it fails while another node's lease lives) and takes it over.
func (n *Node) claim(ctx context.Context, acct string, h Hub, c Core) {
	rev, err := n.owners.Create(ctx, acct, []byte(n.ID))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			n.lg.Warn("claim", "account", acct, "err", err)
		}
		return
	}
	start := time.Now()
	if err := n.takeover(ctx, acct, h, c); err != nil {
		n.lg.Error("take over failed; lease released", "account", acct, "err", err)
		_ = n.owners.Delete(ctx, acct, jetstream.LastRevision(rev))
		return
	}
	n.mu.Lock()
	n.owned[acct] = rev
	n.unowned[acct] = 0
	n.mu.Unlock()
	n.lg.Info("account taken over", "account", acct, "in", time.Since(start).String())
}

// takeover makes this node ready to own acct: the local hub has every event of the log and
// numbers after the last, the core starts afresh, and what the previous owner left open (calls
// whose media was there, agents not offline) is closed with reason node_lost.
func (n *Node) takeover(ctx context.Context, acct string, h Hub, c Core) error {
	t, err := n.Log.Refresh(ctx, acct)
	if err != nil {
		return err
	}
	for head := h.Head(acct); head < t.seq; head = h.Head(acct) {
		evs, err := n.Log.Events(ctx, acct, head, int(t.seq-head))
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		if a, _, gap := h.Deliver(evs); gap {
			return errors.New("cluster: gap in the log of " + a)
		}
	}
	h.SyncSeq(acct, t.seq)
	c.Forget(acct)
	calls, err := n.store.OpenCalls(ctx)
	if err != nil {
		return err
	}
	rep, err := recovery.Account(ctx, h, acct, calls, n.Feed.Statuses(acct), time.Now(), recovery.NodeLost)
	if err != nil {
		return err
	}
	if rep.Calls > 0 || rep.Agents > 0 {
		n.lg.Warn("closed what the lost owner left open", "account", acct, "calls", rep.Calls, "agents", rep.Agents)
	}
	return nil
}

// release drops acct here (its lease is gone or handed over).
func (n *Node) release(acct string, c Core) {
	n.mu.Lock()
	delete(n.owned, acct)
	n.mu.Unlock()
	c.Forget(acct)
	n.Log.Forget(acct)
}

// watchOwners keeps ownerOf up to date from the owners bucket.
func (n *Node) watchOwners(ctx context.Context) {
	n.watchKV(ctx, n.owners, "owners", func(key string, value []byte, put bool) {
		if put {
			n.ownerOf[key] = string(value)
		} else {
			delete(n.ownerOf, key)
		}
	})
}

// watchKV applies every change of kv (put, or delete and expiry) under n.mu until ctx ends.
func (n *Node) watchKV(ctx context.Context, kv jetstream.KeyValue, name string, apply func(key string, value []byte, put bool)) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		n.lg.Error("watch "+name, "err", err)
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // the initial values are in
			}
			n.mu.Lock()
			apply(e.Key(), e.Value(), e.Operation() == jetstream.KeyValuePut)
			n.mu.Unlock()
		}
	}
}

// Drain hands this node's accounts over: it leaves the membership and deletes its leases, so
// that the other nodes claim them at their next tick. Call it after the core has shut down
// (calls ended, agents offline, all of it in the log).
func (n *Node) Drain(ctx context.Context, c Core) {
	n.draining.Store(true)
	_ = n.members.Delete(ctx, n.ID)
	n.mu.Lock()
	held := make(map[string]uint64, len(n.owned))
	for a, r := range n.owned {
		held[a] = r
	}
	n.mu.Unlock()
	for acct, rev := range held {
		if err := n.owners.Delete(ctx, acct, jetstream.LastRevision(rev)); err != nil {
			n.lg.Warn("hand over", "account", acct, "err", err)
		}
		n.release(acct, c)
	}
	if len(held) > 0 {
		n.lg.Info("accounts handed over", "count", len(held))
	}
}

// liveMembers are the keys of the members bucket (the nodes whose heartbeat has not expired),
// sorted. They are read by direct get, which any replica answers: no consumer, so no need of the
// JetStream meta leader (a node taking over may be waiting for its election, leaders.go).
func (n *Node) liveMembers(ctx context.Context) ([]string, error) {
	if n.membersSt == nil {
		st, err := n.Log.js.Stream(ctx, "KV_"+MembersBucket)
		if err != nil {
			return nil, err
		}
		n.membersSt = st
	}
	prefix := "$KV." + MembersBucket + "."
	var out []string
	for seq, i := uint64(1), 0; i < maxMembers; i++ {
		m, err := n.membersSt.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(prefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if m.Header.Get(kvOperation) == "" { // not a delete or purge marker (a drained node)
			out = append(out, strings.TrimPrefix(m.Subject, prefix))
		}
		seq = m.Sequence + 1
	}
	slices.Sort(out)
	return out, nil
}

// maxMembers bounds the membership read (keys and markers of left nodes).
const maxMembers = 1024

// kvOperation is the header JetStream KV puts on delete and purge markers.
const kvOperation = "KV-Operation"

// refreshOwners reads (by direct get) the lease of every account whose known owner is not a
// live member: the owners watch may lag (its consumer may have been on the dead node), and the
// node that claims, like the nodes that forward to the owner, must see the lease as it is.
func (n *Node) refreshOwners(ctx context.Context, accts []store.Account, members []string) {
	for _, a := range accts {
		n.mu.Lock()
		stale := n.ownerOf[a.Name]
		_, mine := n.owned[a.Name]
		n.mu.Unlock()
		if mine || stale == "" || slices.Contains(members, stale) {
			continue
		}
		e, err := n.owners.Get(ctx, a.Name)
		if err != nil {
			continue // none (stale stays the last known owner: shouldClaim's grace), or no answer
		}
		n.mu.Lock()
		if n.ownerOf[a.Name] == stale { // the watch has not moved on meanwhile
			n.ownerOf[a.Name] = string(e.Value())
		}
		n.mu.Unlock()
	}
}

// renewAll renews the leases this node holds. A renewal refused because the lease is gone
// (expired, or taken) is retried as a claim (renewLost); one that fails for another reason (no
// answer: the bucket's stream is electing a leader, or this node lost NATS) keeps the account:
// nobody else can take the lease while nobody can write it, and if somebody did, the next
// renewal says so and the log's guard has fenced this node's appends meanwhile.
func (n *Node) renewAll(ctx context.Context, c Core) {
	n.mu.Lock()
	held := make(map[string]uint64, len(n.owned))
	for a, r := range n.owned {
		held[a] = r
	}
	n.mu.Unlock()
	for acct, rev := range held {
		nrev, err := n.owners.Update(ctx, acct, []byte(n.ID), rev)
		if err != nil && isLeaseGone(err) {
			nrev, err = n.renewLost(ctx, acct)
			if err != nil {
				n.lg.Error("lease lost", "account", acct, "err", err)
				n.release(acct, c)
				continue
			}
		}
		if err != nil {
			n.lg.Warn("lease renewal failed; kept", "account", acct, "err", err)
			continue
		}
		n.mu.Lock()
		if _, ok := n.owned[acct]; ok {
			n.owned[acct] = nrev
		}
		n.mu.Unlock()
	}
}

// isLeaseGone: the bucket answered that the lease is not at the revision this node holds.
func isLeaseGone(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSeq(err) ||
		errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}

// renewLost takes acct's lease again after it expired under this node (its renewals were not
// answered for LeaseTTL: a Raft election of the bucket). It keeps the account only if nobody
// else holds the lease and nobody appended to the account's log since this node last did;
// a lease found with this node's id (a renewal applied whose answer was lost) is kept as is.
func (n *Node) renewLost(ctx context.Context, acct string) (uint64, error) {
	rev, err := n.owners.Create(ctx, acct, []byte(n.ID))
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := n.owners.Get(ctx, acct)
		if gerr != nil {
			return 0, err
		}
		if string(e.Value()) != n.ID {
			return 0, fmt.Errorf("cluster: lease of %q held by %s", acct, e.Value())
		}
		return e.Revision(), nil
	}
	if err != nil {
		return 0, err
	}
	n.Log.mu.Lock()
	known, ok := n.Log.tails[acct]
	n.Log.mu.Unlock()
	now, terr := n.Log.lastOf(ctx, acct)
	if terr != nil || (ok && now.streamSeq != known.streamSeq) {
		_ = n.owners.Delete(ctx, acct, jetstream.LastRevision(rev))
		return 0, fmt.Errorf("cluster: the log of %q moved while its lease had expired (%v)", acct, terr)
	}
	n.lg.Warn("lease expired under this node (no answer from the bucket) and taken again", "account", acct)
	return rev, nil
}
