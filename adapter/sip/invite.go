package sip

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// inCall is one inbound call the edge answered (or is answering).
type inCall struct {
	e      *Edge
	callID string // SIP Call-ID
	acct   string
	trunk  string
	leg    *peer.RTPLeg
	dlg    *sipgo.DialogServerSession
	coreID string // the core's call id, once started
	// relayTo is the owner's SIP address when another node owns the account (relay.go); such a
	// call is only relayed, source being the carrier's address.
	relayTo, source string

	endOnce sync.Once
}

func (e *Edge) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if !e.relayInDialog(req, tx) {
			e.reInvite(req, tx)
		}
		return
	}
	if !e.serving.enter() {
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable: shutting down")
		return
	}
	defer e.serving.leave()
	respond(tx, req, sip.StatusTrying, "Trying")
	c, code, reason, hdrs := e.admit(req)
	switch {
	case c != nil && c.relayTo != "": // another node owns the account (relay.go)
		e.relayInvite(req, tx, c.acct, c.relayTo, c.source)
	case c == nil:
		respond(tx, req, code, reason, hdrs...)
	default:
		e.answer(req, tx, c)
	}
}

// admit runs every inbound check in the contract's order; a nil call comes with the refusal. In
// a cluster, an INVITE of an account another node owns comes back as a call to relay there
// (relayTo), checked up to the trunk's source address (the owner challenges and counts it).
func (e *Edge) admit(req *sip.Request) (*inCall, int, string, []sip.Header) {
	srcIP, relayedIn, err := e.source(req)
	if err != nil {
		return nil, sip.StatusBadRequest, "Bad Request: " + RelayedForHeader, nil
	}
	if !e.limit.allow(srcIP) {
		e.log.Warn("sip: INVITE rate limited", "source", srcIP)
		return nil, sip.StatusServiceUnavailable, "Rate Limited", []sip.Header{e.retryAfter()}
	}
	if req.CallID() == nil || req.From() == nil || req.To() == nil {
		return nil, sip.StatusBadRequest, "Bad Request", nil
	}
	tr, err := e.lookup(req)
	if err != nil {
		return nil, sip.StatusNotFound, "Not Found", nil
	}
	if !hostMatches(tr.Host, srcIP) {
		e.log.Warn("sip: INVITE from an unknown source", "source", srcIP, "account", tr.Account)
		return nil, sip.StatusForbidden, "Forbidden", nil
	}
	if owner, code := e.relayTarget(tr.Account, relayedIn); code != 0 {
		return nil, code, "Service Unavailable", []sip.Header{e.retryAfter()}
	} else if owner != "" {
		return &inCall{acct: tr.Account, relayTo: owner, source: srcIP}, 0, "", nil
	}
	if tr.Username != "" {
		if code, h := e.checkDigest(req, tr); code != 0 {
			return nil, code, "Unauthorized", h
		}
	}
	c := &inCall{e: e, callID: req.CallID().Value(), acct: tr.Account, trunk: tr.Name}
	if !e.reserve(c, tr) {
		return nil, sip.StatusServiceUnavailable, "Service Unavailable", []sip.Header{e.retryAfter()}
	}
	leg, err := e.cfg.Engine.NewRTPLeg(peer.RTPOptions{ID: "sip-" + c.callID, Codecs: tr.Codecs,
		BindIP: e.bindIP(), AdvertiseIP: e.localIPFor(srcIP)})
	if err != nil {
		e.release(c)
		e.log.Error("sip: RTP leg", "err", err)
		return nil, sip.StatusServiceUnavailable, "No Media Port", []sip.Header{e.retryAfter()}
	}
	c.leg = leg
	leg.SetSIP(c.callID, 0)
	return c, 0, "", nil
}

// lookup finds the trunk of the Request-URI user, else of the To user.
func (e *Edge) lookup(req *sip.Request) (store.Trunk, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, user := range []string{req.Recipient.User, req.To().Address.User} {
		if user == "" {
			continue
		}
		for _, n := range []string{user, "+" + strings.TrimPrefix(user, "+"), strings.TrimPrefix(user, "+")} {
			if tr, err := e.cfg.Trunks.TrunkByNumber(ctx, n); err == nil {
				return tr, nil
			}
		}
	}
	return store.Trunk{}, errors.New("no trunk")
}

// reserve counts the call against its trunk's max_calls and the edge's MaxCalls.
func (e *Edge) reserve(c *inCall, tr store.Trunk) bool {
	key := tr.Account + "/" + tr.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.calls[c.callID]; dup || len(e.calls) >= e.cfg.MaxCalls || (tr.MaxCalls > 0 && e.perTrk[key] >= tr.MaxCalls) {
		return false
	}
	e.calls[c.callID] = c
	e.perTrk[key]++
	return true
}

func (e *Edge) release(c *inCall) {
	key := c.acct + "/" + c.trunk
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls[c.callID] == c {
		delete(e.calls, c.callID)
		if e.perTrk[key]--; e.perTrk[key] <= 0 {
			delete(e.perTrk, key)
		}
	}
}

// answer negotiates the caller's SDP, starts the call in the core and answers 200 with SDP.
func (e *Edge) answer(req *sip.Request, tx sip.ServerTransaction, c *inCall) {
	ans, err := c.leg.Answer(string(req.Body()))
	if err != nil {
		c.end(false)
		if errors.Is(err, peer.ErrNoCommonCodec) {
			respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		} else {
			respond(tx, req, sip.StatusBadRequest, "Bad Request: SDP")
		}
		return
	}
	dlg, err := e.ds.ReadInvite(req, tx)
	if err != nil {
		c.end(false)
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	c.dlg = dlg
	from := req.From()
	name := strings.TrimSpace(strings.Trim(from.DisplayName, `"`))
	if name == "" { // a caller without a display name is shown by its number (not "web caller")
		name = from.Address.User
	}
	wc, err := e.cfg.Calls.StartWebCall(context.Background(), c.acct, core.WebCaller{
		DisplayName: name, Phone: from.Address.User, Source: "sip"}, c.leg)
	if err != nil {
		c.end(false)
		_ = dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil, e.retryAfter())
		return
	}
	c.coreID = wc.ID
	if dlg.Context().Err() != nil { // the caller cancelled while the core started the call
		e.log.Info("sip: INVITE cancelled before the answer", "call_id", c.coreID)
		c.hangUp(false)
		return
	}
	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, []byte(ans))
	sessionTimer(req, res)
	if err := dlg.WriteResponse(res); err != nil { // returns after the ACK (or its timeout)
		e.log.Info("sip: answer not acknowledged", "call_id", c.coreID, "err", err)
		c.hangUp(false)
		return
	}
	c.leg.SetSIP("", sip.StatusOK)
	if !e.serving.enter() { // the edge began to close while the call was answered
		c.hangUp(true)
		return
	}
	go c.watch(wc.Done())
}

// watch sends BYE when the core ends the call first; it exits when the call ends either way.
func (c *inCall) watch(coreDone <-chan struct{}) {
	defer c.e.serving.leave()
	select {
	case <-coreDone:
		c.e.log.Info("sip: call ended by the core", "call_id", c.coreID)
		c.end(true)
	case <-c.leg.Done():
		c.e.log.Info("sip: media leg ended", "call_id", c.coreID)
		c.hangUp(true)
	}
}

// hangUp ends the call in the core (far-end hang-up, lost media) and here.
func (c *inCall) hangUp(bye bool) {
	if c.coreID != "" {
		_ = c.e.cfg.Calls.CustomerHangUp(context.Background(), c.acct, c.coreID)
	}
	c.end(bye)
}

// end releases the call: BYE to the far end if asked and the dialog is up, leg closed.
func (c *inCall) end(bye bool) {
	c.endOnce.Do(func() {
		if bye && c.dlg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.dlg.Bye(ctx)
			cancel()
		}
		if c.dlg != nil {
			_ = c.dlg.Close()
		}
		_ = c.leg.Close()
		c.e.release(c)
	})
}

func (e *Edge) hangUpAll() {
	e.mu.Lock()
	calls := make([]*inCall, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	for _, c := range calls {
		if c.leg != nil {
			c.hangUp(true)
		}
	}
}

func (e *Edge) call(req *sip.Request) *inCall {
	if req.CallID() == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[req.CallID().Value()]
}

// onAck completes an answer: an ACK with SDP answers the offer of our 200 to an offerless
// re-INVITE (either direction's far end).
func (e *Edge) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if e.relayInDialog(req, tx) {
		return
	}
	if c := e.call(req); c != nil && len(req.Body()) > 0 {
		if err := c.leg.AcceptAnswer(string(req.Body())); err != nil {
			e.log.Info("sip: SDP in ACK not applied", "call_id", c.coreID, "err", err)
		}
	}
	_ = e.ds.ReadAck(req, tx)
}

// onBye ends the call: the far end hung up.
func (e *Edge) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if e.relayInDialog(req, tx) {
		return
	}
	if e.dc.ReadBye(req, tx) == nil { // an outbound call's far end hung up (dial.go)
		return
	}
	c := e.call(req)
	if c == nil || e.ds.ReadBye(req, tx) != nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.hangUp(false)
}

// reInvite answers an in-dialog INVITE of either direction's far end: a new offer (hold:
// sendonly/inactive; retrieve: sendrecv; a codec change) or a session refresh.
func (e *Edge) reInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := e.call(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ans, err := c.leg.Answer(string(req.Body()))
	switch {
	case len(req.Body()) == 0: // offerless re-INVITE: offer our current description
		ans, err = c.leg.Offer()
	case errors.Is(err, peer.ErrNoCommonCodec):
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	case err != nil:
		respond(tx, req, sip.StatusBadRequest, "Bad Request: SDP")
		return
	}
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Error")
		return
	}
	res := sip.NewSDPResponseFromRequest(req, []byte(ans))
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "cti", Host: e.localIPFor(sourceIP(req)).String(), Port: e.port}})
	sessionTimer(req, res)
	_ = tx.Respond(res)
}

// onUpdate answers UPDATE (RFC 3311), used for session refresh without a new offer.
func (e *Edge) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	if e.relayInDialog(req, tx) {
		return
	}
	if e.call(req) == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	sessionTimer(req, res)
	_ = tx.Respond(res)
}

// sessionTimer echoes a requested session refresh (RFC 4028): the interval asked for, the
// requester refreshes.
func sessionTimer(req *sip.Request, res *sip.Response) {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		return
	}
	v := h.Value()
	if !strings.Contains(v, "refresher=") {
		v += ";refresher=uac"
	}
	res.AppendHeader(sip.NewHeader("Session-Expires", v))
	res.AppendHeader(sip.NewHeader("Require", "timer"))
}

func sourceIP(req *sip.Request) string {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return host
}

// hostMatches reports whether ip is the trunk host's address (the port is not compared).
func hostMatches(host, ip string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == ip {
		return true
	}
	addrs, err := net.LookupHost(h)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a == ip {
			return true
		}
	}
	return false
}

func (e *Edge) bindIP() net.IP {
	ip := net.ParseIP(e.host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return ip
}

// localIPFor is the address to advertise in SDP to a far end at remote: the listen address,
// or, when listening on every interface, the one the OS routes to remote by.
func (e *Edge) localIPFor(remote string) net.IP {
	if ip := e.bindIP(); ip != nil {
		return ip
	}
	conn, err := net.Dial("udp4", net.JoinHostPort(remote, "9"))
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP
}
