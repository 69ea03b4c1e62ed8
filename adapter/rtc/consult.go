// Consult commands over /rtc (docs/consult.md): the shim's consultationCall / transferInitiate,
// transferComplete, conferenceComplete and the cancel of a consult.

package rtc

import (
	"errors"

	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// consultEnds maps the completion commands to how the consult ends.
var consultEnds = map[string]core.ConsultEnd{
	"consult_transfer": core.ConsultTransfer, "consult_conference": core.ConsultConference, "consult_cancel": core.ConsultCancel,
}

// consultCommand runs a consult command for the connection's agent and answers it: consult
// answers the consult call, a completion the primary. A completion with no consult call is
// refused with the code no_consult.
func (c *conn) consultCommand(a core.Actor, requestID, cmd, callID, dest string, vars map[string]string) {
	if callID == "" || cmd == "consult" && dest == "" {
		field := map[bool]string{true: "call_id", false: "arg"}[callID == ""]
		c.fail(requestID, "invalid_message", cmd+" needs "+field, []schemas.FieldError{{Field: field, Message: "is required"}})
		return
	}
	var v core.CallView
	var err error
	if cmd == "consult" {
		v, err = c.edge.Core.Consult(c.ctx, a, c.sess.UserID, callID, dest, vars)
	} else {
		v, err = c.edge.Core.CompleteConsult(c.ctx, a, c.sess.UserID, callID, consultEnds[cmd])
	}
	switch {
	case errors.Is(err, core.ErrNoConsult):
		c.fail(requestID, "no_consult", err.Error(), nil)
	case err != nil:
		code, msg := Code(err)
		c.fail(requestID, code, msg, nil)
	default:
		c.send(map[string]any{"type": "result", "request_id": requestID, "data": v})
	}
}
