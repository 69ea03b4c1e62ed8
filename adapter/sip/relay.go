package sip

// Relayed SIP (several nodes, docs/cluster.md "Relayed SIP"): an INVITE from a trunk reaching a
// node that does not own the trunk's account is proxied to the owner's SIP listener by a
// transaction-stateful proxy (RFC 3261 section 16). The relaying node checks what it can
// itself (rate limit, number, trunk source address), adds its Via and a Record-Route (so that it
// stays in the signalling path: the carrier only knows the address it sent the INVITE to), names
// the carrier's address in X-CTI-Relayed-For (relay_trust.go), and relays the owner's
// provisional and final responses back; CANCEL is forwarded. In-dialog requests of either side
// (ACK, BYE, re-INVITE, UPDATE, INFO) are forwarded by their Call-ID (relay_dialog.go). The
// owner answers with its own SDP (its RTP address), so media flows between the carrier and the
// owner, never through the relaying node. The digest challenge of a trunk with credentials is
// the owner's (its nonces): the relay passes the 401 and the carrier's second INVITE.

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Cluster is what the edge needs of the cluster it runs in (adapter/cluster through the server);
// nil on a single node, where nothing is relayed.
type Cluster interface {
	// Owns reports whether this node owns acct.
	Owns(acct string) bool
	// OwnerSIP is the advertised SIP address (host:port) of acct's owner: "" while the account
	// has no owner, or its owner advertises no SIP address.
	OwnerSIP(acct string) string
	// MemberSIP reports whether ip is the advertised SIP host of a live member of the cluster.
	MemberSIP(ip string) bool
}

// relayParam marks this node's Record-Route entry (and the Route entries made of it).
const relayParam = "cti-relay"

// ownerSilence is how long a relayed request waits for the owner's first response before the
// relay answers 503 (the owner sends 100 Trying to an INVITE at once).
const ownerSilence = 4 * time.Second

// cancelWait bounds the wait for the owner's final response once a CANCEL is forwarded (the
// carrier has its 487 already; RFC 3261 9.1 allows a proxy to give up on the transaction).
const cancelWait = 8 * time.Second

// relayed is one dialog this node relays (by Call-ID, guarded by Edge.mu).
type relayed struct {
	callID    string
	acct      string
	owner     string // the owner's SIP address
	callerTag string // the From tag of the carrier's INVITE: requests with it go to the owner
	invite    *sip.Request
	answer    *sip.Response // the owner's 2xx, once the dialog is up
	ownerCSeq uint32        // the highest CSeq of the owner's requests to the carrier
}

// relayTarget decides whether the INVITE of acct, admitted so far, goes to another node: it
// returns the owner's address, or a refusal when the account cannot be served now (no owner
// known; or an INVITE already relayed to this node, which is never relayed again: no loops).
func (e *Edge) relayTarget(acct string, relayedIn bool) (owner string, code int) {
	cl := e.cfg.Cluster
	if cl == nil || cl.Owns(acct) {
		return "", 0
	}
	if relayedIn {
		e.log.Warn("sip: relayed INVITE for an account this node does not own", "account", acct)
		return "", sip.StatusServiceUnavailable
	}
	if owner = cl.OwnerSIP(acct); owner == "" {
		return "", sip.StatusServiceUnavailable
	}
	return owner, 0
}

// relayInvite proxies an initial INVITE to the owner at owner and relays its responses until the
// final one. src is the carrier's address, named to the owner.
func (e *Edge) relayInvite(req *sip.Request, tx sip.ServerTransaction, acct, owner, src string) {
	fwd := req.Clone()
	if err := sipgo.ClientRequestDecreaseMaxForward(e.cli, fwd); err != nil {
		respond(tx, req, sip.StatusTooManyHops, "Too Many Hops")
		return
	}
	for fwd.RemoveHeader(RelayedForHeader) {
	}
	fwd.AppendHeader(sip.NewHeader(RelayedForHeader, src))
	fwd.PrependHeader(e.recordRoute(fwd, src))
	e.aim(fwd, owner)
	r := &relayed{callID: req.CallID().Value(), acct: acct, owner: owner, callerTag: tagOf(req.From().Params),
		invite: req, ownerCSeq: req.CSeq().SeqNo}
	if !e.addRelay(r) {
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable", e.retryAfter())
		return
	}
	var cancelled sync.Once // the carrier's CANCEL, watched before anything is sent
	cancels := make(chan struct{})
	onCancel := func(*sip.Request) { cancelled.Do(func() { close(cancels) }) }
	if !tx.OnCancel(onCancel) { // cancelled (or ended) already
		onCancel(nil)
	}
	select {
	case <-cancels: // sipgo answered the CANCEL (200) and the INVITE (487): nothing to forward
		e.dropRelay(r)
		return
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx2, err := e.cli.TransactionRequest(ctx, fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		e.dropRelay(r)
		e.log.Warn("sip: relay to the owner", "owner", owner, "err", err)
		respond(tx, req, sip.StatusServiceUnavailable, "Owner Unreachable", e.retryAfter())
		return
	}
	e.log.Info("sip: INVITE relayed to the account's owner", "owner", owner, "source", src, "transport", fwd.Transport())
	final := e.pumpInvite(tx, req, fwd, ctx2, cancels)
	if final == nil || final.IsSuccess() {
		// Nothing more to wait for; a 2xx retransmitted from now on is a stray response, forwarded
		// statelessly (onStrayResponse). After a non-2xx the transaction ends by itself, having
		// acknowledged the owner's retransmissions of it.
		ctx2.Terminate()
	}
	if final == nil || !final.IsSuccess() {
		e.dropRelay(r)
		return
	}
	e.mu.Lock()
	r.answer = final
	e.mu.Unlock()
}

// pumpInvite relays the owner's responses to the carrier until the final one (returned; nil when
// none came). A CANCEL of the carrier is forwarded once the owner has answered provisionally; a
// 2xx that arrives after the carrier cancelled is acknowledged and hung up here.
func (e *Edge) pumpInvite(tx sip.ServerTransaction, req, fwd *sip.Request, ctx sip.ClientTransaction, cancels <-chan struct{}) *sip.Response {
	silence := time.NewTimer(ownerSilence)
	defer silence.Stop()
	heard, cancelSent := false, false
	var giveUp <-chan time.Time // once the CANCEL is forwarded: the owner's final response is awaited cancelWait
	for {
		if cancelSent && giveUp == nil {
			giveUp = time.After(cancelWait)
		}
		select {
		case res, ok := <-ctx.Responses():
			if !ok {
				return nil
			}
			heard = true
			silence.Stop()
			if cancels == nil && !cancelSent {
				e.forwardCancel(fwd)
				cancelSent = true
			}
			if !res.IsProvisional() {
				if cancels == nil && res.IsSuccess() {
					e.ackAndBye(fwd, res)
					return nil
				}
				e.relayResponse(tx, req, res)
				return res
			}
			if res.StatusCode != sip.StatusTrying && cancels != nil {
				e.relayResponse(tx, req, res)
			}
		case <-cancels:
			cancels = nil // the carrier's CANCEL: sipgo answered it 200 and the INVITE 487
			if heard && !cancelSent {
				e.forwardCancel(fwd)
				cancelSent = true
			}
		case <-giveUp:
			e.log.Info("sip: no final response from the owner to a cancelled relayed INVITE", "owner", fwd.Destination())
			return nil
		case <-silence.C:
			e.log.Warn("sip: the owner does not answer a relayed INVITE", "owner", fwd.Destination())
			respond(tx, req, sip.StatusServiceUnavailable, "Owner Unreachable", e.retryAfter())
			return nil
		case <-ctx.Done():
			if !heard {
				respond(tx, req, sip.StatusServiceUnavailable, "Owner Unreachable", e.retryAfter())
			}
			return nil
		}
	}
}

// relayResponse sends a response of the next hop on to the sender of req, without this node's
// Via, to where a response of this node's own to req would go.
func (e *Edge) relayResponse(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	out := res.Clone()
	out.RemoveHeader("Via")
	own := sip.NewResponseFromRequest(req, sip.StatusTrying, "Trying", nil)
	out.SetDestination(own.Destination())
	out.SetTransport(own.Transport())
	if err := tx.Respond(out); err != nil {
		e.log.Debug("sip: relayed response not sent", "status", res.StatusCode, "err", err)
	}
}

// forwardCancel sends the owner the CANCEL of the forwarded INVITE fwd (same Request-URI, top
// Via, Call-ID, From, To and CSeq number), without waiting for its answer.
func (e *Edge) forwardCancel(fwd *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, *fwd.Recipient.Clone())
	c.AppendHeader(sip.HeaderClone(fwd.Via()))
	for _, h := range []sip.Header{fwd.From(), fwd.To(), fwd.CallID()} {
		c.AppendHeader(sip.HeaderClone(h))
	}
	c.AppendHeader(&sip.CSeqHeader{SeqNo: fwd.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.SetTransport(fwd.Transport())
	c.SetDestination(fwd.Destination())
	c.Laddr = fwd.Laddr
	e.fireAndForget(c)
}

// ackAndBye ends at the owner a dialog its 2xx opened after the carrier had cancelled.
func (e *Edge) ackAndBye(fwd *sip.Request, res *sip.Response) {
	e.log.Info("sip: the owner answered a cancelled relayed INVITE: acknowledging and hanging up", "call_id", fwd.CallID().Value())
	ack := e.ownerRequest(sip.ACK, fwd, res, fwd.CSeq().SeqNo)
	_ = e.cli.WriteRequest(ack, keepHeaders)
	bye := e.ownerRequest(sip.BYE, fwd, res, fwd.CSeq().SeqNo+1)
	e.fireAndForget(bye)
}

// ownerRequest builds an in-dialog request of this node (as the dialog's caller) to the owner.
func (e *Edge) ownerRequest(m sip.RequestMethod, fwd *sip.Request, res *sip.Response, cseq uint32) *sip.Request {
	target := *fwd.Recipient.Clone()
	if ct := res.Contact(); ct != nil {
		target = *ct.Address.Clone()
	}
	r := sip.NewRequest(m, target)
	via := fwd.Via().Clone()
	via.Params.Remove("branch")
	via.Params.Add("branch", sip.GenerateBranch())
	r.AppendHeader(via)
	for _, h := range []sip.Header{fwd.From(), res.To(), fwd.CallID()} {
		r.AppendHeader(sip.HeaderClone(h))
	}
	r.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: m})
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.SetTransport(fwd.Transport())
	r.SetDestination(fwd.Destination())
	r.Laddr = fwd.Laddr
	return r
}

// keepHeaders is a client option that sends a request as built (its Via included).
func keepHeaders(*sipgo.Client, *sip.Request) error { return nil }

// fireAndForget sends a request this node originates in a goroutine that waits (8 s at most)
// for its final answer; Run waits for it.
func (e *Edge) fireAndForget(req *sip.Request) {
	if !e.serving.enter() {
		e.log.Info("sip: relay request not sent: shutting down", "method", req.Method)
		return
	}
	go func() {
		defer e.serving.leave()
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		if _, err := e.cli.Do(ctx, req, keepHeaders); err != nil {
			e.log.Info("sip: relay request unanswered", "method", req.Method, "err", err)
		}
	}()
}

// recordRoute is this node's Record-Route for a relayed dialog: the address the carrier at src
// reached, marked as this node's.
func (e *Edge) recordRoute(req *sip.Request, src string) sip.Header {
	return &sip.RecordRouteHeader{Address: sip.Uri{Host: e.localIPFor(src).String(), Port: e.port,
		UriParams: sip.HeaderParams{{K: "transport", V: strings.ToLower(req.Transport())}, {K: "lr", V: ""}, {K: relayParam, V: ""}}}}
}

// aim sends req to dest from this node's SIP listener (so that its source is the advertised
// address the owner trusts).
func (e *Edge) aim(req *sip.Request, dest string) {
	req.SetDestination(dest)
	req.Laddr = sip.Addr{IP: e.bindIP()}
	if strings.EqualFold(req.Transport(), "udp") && req.Laddr.IP != nil {
		req.Laddr.Port = e.port
	}
}

func tagOf(p sip.HeaderParams) string {
	v, _ := p.Get("tag")
	return v
}

func (e *Edge) addRelay(r *relayed) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.relays[r.callID]; dup || len(e.relays) >= e.cfg.MaxCalls {
		return false
	}
	e.relays[r.callID] = r
	return true
}

func (e *Edge) dropRelay(r *relayed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.relays[r.callID] == r {
		delete(e.relays, r.callID)
	}
}

// relayOf is the relayed dialog of an in-dialog request (nil when it is not one).
func (e *Edge) relayOf(req *sip.Request) *relayed { return e.relayOfID(req.CallID()) }

func (e *Edge) relayOfID(id *sip.CallIDHeader) *relayed {
	if id == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.relays[id.Value()]
}

// Relayed returns the number of dialogs this node relays to other nodes.
func (e *Edge) Relayed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.relays)
}
