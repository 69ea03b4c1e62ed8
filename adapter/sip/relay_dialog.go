package sip

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// In-dialog requests of a relayed dialog (relay.go), from either side, are forwarded by their
// Call-ID: from the carrier (the From tag of its INVITE) to the owner, from the owner to the next
// Route entry or the carrier's Contact (the Request-URI). This node's own Route entry is removed
// first. A carrier that ignores Record-Route and sends everything to this node's address is
// served the same way. ACK is forwarded statelessly; the others in a transaction of their own,
// whose responses are relayed back. A final response to BYE ends the relayed dialog here.

// relayInDialog forwards req if it belongs to a relayed dialog; false when it does not.
func (e *Edge) relayInDialog(req *sip.Request, tx sip.ServerTransaction) bool {
	r := e.relayOf(req)
	if r == nil {
		return false
	}
	fwd := req.Clone()
	popOwnRoute(fwd)
	if err := sipgo.ClientRequestDecreaseMaxForward(e.cli, fwd); err != nil {
		if !req.IsAck() {
			respond(tx, req, sip.StatusTooManyHops, "Too Many Hops")
		}
		return true
	}
	e.aim(fwd, r.nextHop(fwd))
	e.noteOwnerCSeq(r, fwd)
	if req.IsAck() {
		if err := e.cli.WriteRequest(fwd, sipgo.ClientRequestAddVia); err != nil {
			e.log.Info("sip: relayed ACK not sent", "err", err)
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ctx2, err := e.cli.TransactionRequest(ctx, fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		respond(tx, req, sip.StatusServiceUnavailable, "Next Hop Unreachable", e.retryAfter())
		return true
	}
	defer ctx2.Terminate()
	final := e.pumpInDialog(tx, req, ctx2)
	if req.Method == sip.BYE && (final != nil || ctx2.Err() != nil) {
		e.dropRelay(r)
	}
	return true
}

// pumpInDialog relays the responses of a forwarded in-dialog request until the final one.
func (e *Edge) pumpInDialog(tx sip.ServerTransaction, req *sip.Request, ctx sip.ClientTransaction) *sip.Response {
	silence := time.NewTimer(ownerSilence)
	defer silence.Stop()
	for {
		select {
		case res, ok := <-ctx.Responses():
			if !ok {
				return nil
			}
			silence.Stop()
			if res.StatusCode == sip.StatusTrying {
				continue
			}
			e.relayResponse(tx, req, res)
			if !res.IsProvisional() {
				return res
			}
		case <-silence.C:
			respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
			return nil
		case <-ctx.Done():
			respond(tx, req, sip.StatusRequestTimeout, "Request Timeout")
			return nil
		}
	}
}

// nextHop is where a request of the dialog goes after this node: the next Route entry, else the
// owner (a request of the carrier) or the Request-URI (a request of the owner, to the carrier's
// Contact).
func (r *relayed) nextHop(req *sip.Request) string {
	if hs := req.GetHeaders("Route"); len(hs) > 0 {
		if u, ok := routeURI(hs[0].Value()); ok {
			return u.HostPort()
		}
	}
	if tagOf(req.From().Params) == r.callerTag {
		return r.owner
	}
	return req.Recipient.HostPort()
}

// popOwnRoute removes the top Route entry when it is this node's (marked cti-relay).
func popOwnRoute(req *sip.Request) {
	hs := req.GetHeaders("Route")
	if len(hs) == 0 {
		return
	}
	first, rest, many := strings.Cut(hs[0].Value(), ",")
	if u, ok := routeURI(first); !ok || !u.UriParams.Has(relayParam) {
		return
	}
	req.RemoveHeader("Route")
	if many && strings.TrimSpace(rest) != "" { // one header line of several entries
		req.PrependHeader(sip.NewHeader("Route", strings.TrimSpace(rest)))
	}
}

// routeURI parses the first URI of a Route value ("<sip:host:port;lr>, ...").
func routeURI(v string) (sip.Uri, bool) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil || u.Host == "" {
		return sip.Uri{}, false
	}
	return u, true
}

// onStrayResponse takes a response no transaction waits for. An owner's 2xx to a relayed INVITE
// retransmitted after the INVITE transaction ended (the carrier's ACK was lost or is late) is
// forwarded statelessly to the carrier, which acknowledges it again (RFC 3261 16.7); anything
// else (a late 100 Trying, a stray retransmission) is dropped.
func (e *Edge) onStrayResponse(res *sip.Response) {
	if res.IsSuccess() && res.CSeq() != nil && res.CSeq().MethodName == sip.INVITE && e.relayOfID(res.CallID()) != nil {
		out := res.Clone()
		out.RemoveHeader("Via")
		if via := out.Via(); via != nil {
			out.SetDestination(viaAddr(via))
			out.SetTransport(via.Transport)
			if err := e.ua.TransportLayer().WriteMsg(out); err == nil {
				return
			}
		}
	}
	e.log.Debug("sip: stray response dropped", "status", res.StatusCode)
}

// viaAddr is where a response to the sender of via goes (received and rport when present).
func viaAddr(via *sip.ViaHeader) string {
	host, port := via.Host, via.Port
	if v, ok := via.Params.Get("received"); ok && v != "" {
		host = v
	}
	if v, ok := via.Params.Get("rport"); ok && v != "" {
		if p, err := strconv.Atoi(v); err == nil {
			port = p
		}
	}
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
