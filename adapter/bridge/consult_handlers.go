package bridge

import (
	"encoding/json"
	"errors"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/modes"
)

// The interaction-level consult requests (docs/consult.md): start a consult conversation, then
// complete it as a transfer or a conference (acting on both conversations), or cancel it. They
// are not in seed 002, which names the consult conversation but not how it starts or ends;
// they follow Pega's consultationCall / transferComplete / conferenceComplete.

// addConsultSpecs registers the consult requests (from handlers.go's init, after specs exists).
func addConsultSpecs(_, rq func(kind, func(*conn, *req)) *spec) {
	specs["interaction.request.consult"] = rq(kInteraction, (*conn).interactionConsult)
	specs["interaction.request.transfercomplete"] = rq(kInteraction, completeConsult(core.ConsultTransfer))
	specs["interaction.request.conferencecomplete"] = rq(kInteraction, completeConsult(core.ConsultConference))
	specs["interaction.request.consultcancel"] = rq(kInteraction, completeConsult(core.ConsultCancel))
}

type consultBody struct {
	Destination string            `json:"destination"`
	Variables   map[string]string `json:"variables"`
}

// interactionConsult holds the interaction's call and dials the consult call; the response names
// the consult conversation, which exists when the response arrives.
func (c *conn) interactionConsult(r *req) {
	var body consultBody
	_ = json.Unmarshal(r.Body, &body)
	ctx, cancel := c.cmdCtx()
	defer cancel()
	v, err := c.b.Core.Consult(ctx, c.actor, "", r.ia.callID, body.Destination, body.Variables)
	if err != nil {
		c.reply(r.inbound, errorText(r.Name, err), nil)
		return
	}
	c.sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := r.ia.consult
	if cv == nil || cv.callID != v.CallID { // not rendered (the session ended meanwhile)
		c.enqueueLocked(encodeResponse(r.Header, r.Name+" failed: the consult call "+v.CallID+" is not on this interaction", nil))
		return
	}
	c.enqueueLocked(encodeResponse(r.Header, "", map[string]string{"conversation": cv.target, "conversation-id": cv.callID}))
}

// completeConsult ends the interaction's consult as how. A refusal other than the mode's (or
// no consult at all) also raises conversation.transfer.failed / .conference.failed on the
// consult conversation.
func completeConsult(how core.ConsultEnd) func(*conn, *req) {
	return func(c *conn, r *req) {
		ctx, cancel := c.cmdCtx()
		defer cancel()
		_, err := c.b.Core.CompleteConsult(ctx, c.actor, "", r.ia.callID, how)
		c.sync()
		if err == nil {
			c.reply(r.inbound, "", nil)
			return
		}
		var fe *modes.ForbiddenError
		if ev := map[core.ConsultEnd]string{core.ConsultTransfer: "conversation.transfer.failed",
			core.ConsultConference: "conversation.conference.failed"}[how]; ev != "" && !errors.As(err, &fe) {
			c.mu.Lock()
			if cv := r.ia.consult; cv != nil && cv.state != Released {
				c.emitLocked(&cv.dest, ev, map[string]string{"reason": err.Error()})
			}
			c.mu.Unlock()
		}
		c.reply(r.inbound, errorText(r.Name, err), nil)
	}
}
