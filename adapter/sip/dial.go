package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/media"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/webrtc/peer"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

var _ media.Dialer = (*Edge)(nil)

// Dial is the core's media.Dialer: an outbound call from acct's first trunk (by name) to phone,
// From its from_number. The INVITE goes out when start runs; 183 with SDP is early media, 200
// answers, a final refusal fails with its status, the ring timeout with 408 (after CANCEL).
// Closing the leg cancels an unanswered call and hangs up an answered one.
func (e *Edge) Dial(ctx context.Context, acct, phone string, ev media.DialEvents) (media.Leg, func(), error) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	trunks, err := e.cfg.Trunks.Trunks(lctx, acct)
	cancel()
	if err != nil || len(trunks) == 0 {
		return nil, nil, media.ErrNoRoute
	}
	tr := trunks[0]
	host, port := tr.Host, 5060
	if h, p, err := net.SplitHostPort(tr.Host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	leg, err := e.cfg.Engine.NewRTPLeg(peer.RTPOptions{Codecs: tr.Codecs, BindIP: e.bindIP(), AdvertiseIP: e.localIPFor(host)})
	if err != nil {
		return nil, nil, err
	}
	offer, err := leg.Offer()
	if err != nil {
		_ = leg.Close()
		return nil, nil, err
	}
	o := &outCall{e: e, tr: tr, leg: leg, ev: ev, offer: offer, callID: sip.GenerateTagN(32),
		to: sip.Uri{User: phone, Host: host, Port: port}}
	leg.SetSIP(o.callID, 0)
	if tr.Transport == "tcp" {
		params := sip.NewParams()
		params.Add("transport", "tcp")
		o.to.UriParams = params
	}
	return leg, func() {
		if !e.serving.enter() {
			o.failed(sip.StatusServiceUnavailable, "shutting down")
			_ = leg.Close()
			return
		}
		go o.run()
	}, nil
}

// outCall is one outbound call in progress; run owns it.
type outCall struct {
	e      *Edge
	tr     store.Trunk
	leg    *peer.RTPLeg
	ev     media.DialEvents
	offer  string
	callID string // the dialog's Call-ID, chosen here so the call is known before the INVITE
	to     sip.Uri
}

func (o *outCall) run() {
	defer o.e.serving.leave()
	// Counted like inbound calls (Calls, max_calls, MaxCalls) from the INVITE on, and found by
	// its Call-ID for the far end's in-dialog requests (re-INVITE, UPDATE, INFO).
	c := &inCall{e: o.e, callID: o.callID, acct: o.tr.Account, trunk: o.tr.Name, leg: o.leg}
	if !o.e.reserve(c, o.tr) {
		o.failed(sip.StatusServiceUnavailable, "trunk at capacity")
		_ = o.leg.Close()
		return
	}
	defer o.e.release(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the core closing the leg cancels (or, once answered, ends) the call
		select {
		case <-o.leg.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sess, err := o.invite(ctx)
	if err != nil {
		o.fail(ctx, err)
		return
	}
	defer sess.Close()
	if err := o.leg.AcceptAnswer(string(sess.InviteResponse.Body())); err != nil {
		_ = sess.Ack(ctx)
		_ = o.bye(sess)
		o.failed(488, "no usable SDP in the answer")
		return
	}
	if err := sess.Ack(ctx); err != nil {
		o.failed(500, "ACK failed")
		return
	}
	o.leg.SetSIP("", sip.StatusOK)
	if o.ev.Answered != nil {
		o.ev.Answered()
	}
	select {
	case <-ctx.Done(): // the core hung up
		_ = o.bye(sess)
	case <-sess.Context().Done(): // the far end hung up
		if o.ev.Ended != nil {
			o.ev.Ended()
		}
		_ = o.leg.Close()
	}
}

// invite sends the INVITE and waits for the answer, within the ring timeout.
func (o *outCall) invite(ctx context.Context) (*sipgo.DialogClientSession, error) {
	rctx, cancel := context.WithTimeout(ctx, o.e.cfg.RingTimeout)
	defer cancel()
	tag := sip.NewParams()
	tag.Add("tag", sip.GenerateTagN(16))
	from := &sip.FromHeader{Address: sip.Uri{User: o.tr.FromNumber, Host: o.e.localIPFor(o.to.Host).String(), Port: o.e.port},
		Params: tag}
	callID := sip.CallIDHeader(o.callID)
	sess, err := o.e.dc.Invite(rctx, o.to, []byte(o.offer), from, &callID, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	err = sess.WaitAnswer(rctx, sipgo.AnswerOptions{Username: o.tr.Username, Password: o.tr.Password,
		OnResponse: o.provisional})
	if err != nil {
		sess.Close()
		if ctx.Err() == nil && rctx.Err() != nil {
			return nil, errRingTimeout
		}
		return nil, err
	}
	return sess, nil
}

var errRingTimeout = errors.New("ring timeout")

// provisional reports a 1xx: with SDP (183, or a 180 that carries it) the far end's early media
// plays; a 180 without SDP is ringing (the core plays its ringback tone).
func (o *outCall) provisional(res *sip.Response) error {
	switch {
	case res.StatusCode <= 100 || res.StatusCode >= 200:
	case len(res.Body()) > 0:
		if o.leg.AcceptAnswer(string(res.Body())) == nil && o.ev.EarlyMedia != nil {
			o.ev.EarlyMedia()
		}
	case res.StatusCode == sip.StatusRinging && o.ev.Ringing != nil:
		o.ev.Ringing()
	}
	return nil
}

// fail reports why the call did not connect (nothing when the core cancelled it).
func (o *outCall) fail(ctx context.Context, err error) {
	var dr *sipgo.ErrDialogResponse
	var drv sipgo.ErrDialogResponse
	switch {
	case ctx.Err() != nil: // cancelled by the core (agent hang-up): CANCEL was sent, 487 expected
	case errors.Is(err, errRingTimeout):
		o.failed(408, "no answer")
	case errors.As(err, &dr) && dr.Res != nil:
		o.failed(dr.Res.StatusCode, dr.Res.Reason)
	case errors.As(err, &drv) && drv.Res != nil:
		o.failed(drv.Res.StatusCode, drv.Res.Reason)
	default:
		o.e.log.Info("sip: outbound INVITE failed", "err", err)
		o.failed(503, "trunk unreachable")
	}
	_ = o.leg.Close()
}

func (o *outCall) failed(code int, reason string) {
	o.leg.SetSIP("", code)
	if o.ev.Failed != nil {
		o.ev.Failed(code, reason)
	}
}

func (o *outCall) bye(sess *sipgo.DialogClientSession) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sess.Bye(ctx)
}
