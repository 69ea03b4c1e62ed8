package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Owner changes: a relayed dialog whose account is no longer owned by the node it was relayed
// to has lost its call there (the owner died or lost the account; the new owner ends the call,
// node_lost), and that node will never hang up the carrier. The relay checks its dialogs every
// ownerCheck, and hangs up the carrier's side of each orphan with a BYE of its own (as the
// dialog's callee: the owner's tag, a CSeq above the owner's) before forgetting it.

const ownerCheck = time.Second

// watchOwners runs the check until ctx ends (at once on a single node).
func (e *Edge) watchOwners(ctx context.Context) {
	if e.cfg.Cluster == nil {
		return
	}
	t := time.NewTicker(ownerCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.hangUpOrphans()
		}
	}
}

// hangUpOrphans sends the carrier a BYE for every established relayed dialog whose account's
// owner is not the node it was relayed to any more.
func (e *Edge) hangUpOrphans() {
	type up struct {
		r   *relayed
		bye *sip.Request
	}
	e.mu.Lock()
	var live []up
	for _, r := range e.relays {
		if r.answer != nil {
			live = append(live, up{r: r})
		}
	}
	for i := range live {
		live[i].bye = e.carrierBye(live[i].r) // r's fields change under e.mu only
	}
	e.mu.Unlock()
	for _, u := range live {
		if now := e.cfg.Cluster.OwnerSIP(u.r.acct); now == u.r.owner {
			continue
		}
		e.log.Info("sip: the owner of a relayed call is gone: hanging up the carrier", "account", u.r.acct,
			"was", u.r.owner)
		e.dropRelay(u.r)
		e.fireAndForget(u.bye)
	}
}

// carrierBye is the BYE that ends r's dialog at the carrier, sent to where its INVITE came
// from. Called with e.mu held.
func (e *Edge) carrierBye(r *relayed) *sip.Request {
	inv, ans := r.invite, r.answer
	target := *inv.Recipient.Clone()
	if ct := inv.Contact(); ct != nil {
		target = *ct.Address.Clone()
	}
	bye := sip.NewRequest(sip.BYE, target)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: inv.Transport()}
	via.Params.Add("branch", sip.GenerateBranch())
	bye.AppendHeader(via)
	from, to := ans.To().AsFrom(), inv.From().AsTo()
	bye.AppendHeader(&from)
	bye.AppendHeader(&to)
	bye.AppendHeader(sip.HeaderClone(inv.CallID()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: r.ownerCSeq + 1, MethodName: sip.BYE})
	mf := sip.MaxForwardsHeader(70)
	bye.AppendHeader(&mf)
	bye.SetTransport(inv.Transport())
	e.aim(bye, inv.Source())
	return bye
}

// noteOwnerCSeq keeps the highest CSeq of the owner's requests in r's dialog.
func (e *Edge) noteOwnerCSeq(r *relayed, req *sip.Request) {
	if tagOf(req.From().Params) == r.callerTag || req.CSeq() == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r.ownerCSeq = max(r.ownerCSeq, req.CSeq().SeqNo)
}
