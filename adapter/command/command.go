// Package command holds the integrator commands of PROTOCOLS.md section 2 (make_call,
// set_variables, logout) as the CTI WebSocket decodes them from a frame and the REST twins from
// a request, and how each one runs against the core, so that both edges share one code path and
// one result shape.
package command

import (
	"context"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// Command names. Each one's payload is validated against
// schemas/commands/<name>.json.
const (
	CmdMakeCall     = "make_call"
	CmdSetVariables = "set_variables"
	CmdLogout       = "logout"
)

// Command is one integrator command, decoded from a WebSocket frame's data or from a REST
// request. Both edges run it through Run, so that they share one code path into the core and one
// result shape.
type Command interface {
	// Name is the command's protocol name (make_call, set_variables, logout).
	Name() string
	// Run performs the command for actor and returns its command_result data (the REST body).
	Run(ctx context.Context, c *core.Core, actor core.Actor) (any, error)
}

// MakeCall has the user's phone dial phone. Result: CallCreated.
type MakeCall struct {
	UserID    string            `json:"user_id"`
	Phone     string            `json:"phone"`
	Variables map[string]string `json:"variables,omitempty"`
}

// SetVariables merges variables into a call's set (an empty value removes a key). Result:
// CallVariables.
type SetVariables struct {
	CallID    string            `json:"call_id"`
	Variables map[string]string `json:"variables"`
}

// Logout ends every session of the user. Result: LoggedOut.
type Logout struct {
	UserID string `json:"user_id"`
}

// CallCreated is the result of make_call.
type CallCreated struct {
	CallID string `json:"call_id"`
}

// CallVariables is the result of set_variables: the call's whole variable set after the update.
type CallVariables struct {
	CallID    string            `json:"call_id"`
	Variables map[string]string `json:"variables"`
}

// LoggedOut is the result of logout.
type LoggedOut struct {
	UserID string `json:"user_id"`
}

func (MakeCall) Name() string     { return CmdMakeCall }
func (SetVariables) Name() string { return CmdSetVariables }
func (Logout) Name() string       { return CmdLogout }

// Run places the call.
func (m MakeCall) Run(ctx context.Context, c *core.Core, a core.Actor) (any, error) {
	v, err := c.MakeCall(ctx, a, m.UserID, m.Phone, m.Variables)
	if err != nil {
		return nil, err
	}
	return CallCreated{CallID: v.CallID}, nil
}

// Run merges the variables.
func (s SetVariables) Run(ctx context.Context, c *core.Core, a core.Actor) (any, error) {
	v, err := c.SetVariables(ctx, a, s.CallID, s.Variables)
	if err != nil {
		return nil, err
	}
	vars := v.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	return CallVariables{CallID: v.CallID, Variables: vars}, nil
}

// Run logs the user out.
func (l Logout) Run(ctx context.Context, c *core.Core, a core.Actor) (any, error) {
	if err := c.Logout(ctx, a, l.UserID); err != nil {
		return nil, err
	}
	return LoggedOut{UserID: l.UserID}, nil
}

// New returns an empty command of the given name, or nil for an unknown name.
func New(name string) Command {
	switch name {
	case CmdMakeCall:
		return &MakeCall{}
	case CmdSetVariables:
		return &SetVariables{}
	case CmdLogout:
		return &Logout{}
	}
	return nil
}

// Runner runs a command where the account's core runs: Local on a single node; in a cluster
// (adapter/cluster) on the account's owner node, forwarded there if it is another node, with the
// same result and the same error kinds.
type Runner interface {
	RunCommand(ctx context.Context, cmd Command, a core.Actor) (any, error)
}

// Local runs commands on this process's core.
type Local struct{ Core *core.Core }

// RunCommand runs cmd on the local core.
func (l Local) RunCommand(ctx context.Context, cmd Command, a core.Actor) (any, error) {
	return cmd.Run(ctx, l.Core, a)
}
