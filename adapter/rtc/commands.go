// Agent commands over /rtc.

package rtc

import (
	"encoding/json"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// command runs an agent command and answers with a result or an error carrying request_id.
func (c *conn) command(data []byte) {
	if c.claims.Role == auth.RoleSupervisor {
		c.supervisorCommand(data) // supervisor.go
		return
	}
	var m struct {
		RequestID string            `json:"request_id"`
		Command   string            `json:"command"`
		CallID    string            `json:"call_id"`
		ChatID    string            `json:"chat_id"`
		Arg       string            `json:"arg"`
		Reason    string            `json:"reason"`
		Variables map[string]string `json:"variables"`
	}
	_ = json.Unmarshal(data, &m)
	if ok, wait := c.edge.Budget.Take(c.claims.Account, 1); !ok {
		c.fail(m.RequestID, "rate_limited", "the account is over its share of the server; "+conns.RetryIn(wait), nil)
		return
	}
	a := core.ActorFrom(c.claims, c.via)
	uid := c.sess.UserID
	var result any
	var err error
	switch m.Command {
	case "ready":
		result, err = c.edge.Core.SetStatus(c.ctx, a, uid, agent.Ready, "")
	case "notready":
		result, err = c.edge.Core.SetStatus(c.ctx, a, uid, agent.DND, m.Reason)
	case "online":
		result, err = c.edge.Core.SetStatus(c.ctx, a, uid, agent.Online, "")
	case "dial":
		result, err = c.edge.Core.MakeCall(c.ctx, a, uid, m.Arg, m.Variables)
	case "logout":
		err = c.edge.Core.Logout(c.ctx, a, uid)
		result = map[string]any{"user_id": uid}
	case "take_ownership":
		err = c.edge.Core.TakeOwnership(c.ctx, c.sess)
		result = map[string]any{"session_id": c.sess.ID}
	case "snapshot":
		c.snapshot(c.edge.Hub.Head(c.claims.Account))
		result = map[string]any{}
	case "consult", "consult_transfer", "consult_conference", "consult_cancel":
		c.consultCommand(a, m.RequestID, m.Command, m.CallID, m.Arg, m.Variables) // consult.go
		return
	case "start_recording", "stop_recording", "pause_recording", "resume_recording":
		result, err = c.recordingCommand(a, m.CallID, m.Command) // recording.go
	case "chat_accept", "chat_reject", "chat_end", "chat_complete":
		result, err = c.chatCommand(m.Command, m.ChatID) // chat.go
	case "setdata":
		if m.CallID == "" {
			c.fail(m.RequestID, "invalid_message", "setdata needs call_id", []schemas.FieldError{{Field: "call_id", Message: "is required"}})
			return
		}
		result, err = c.edge.Core.SetVariables(c.ctx, a, m.CallID, m.Variables)
	default:
		if m.CallID == "" {
			c.fail(m.RequestID, "invalid_message", m.Command+" needs call_id", []schemas.FieldError{{Field: "call_id", Message: "is required"}})
			return
		}
		result, err = c.edge.Core.Control(c.ctx, a, m.CallID, call.Op(m.Command), m.Arg)
	}
	if err != nil {
		code, msg := Code(err)
		c.fail(m.RequestID, code, msg, nil)
		return
	}
	c.send(map[string]any{"type": "result", "request_id": m.RequestID, "data": result})
}
