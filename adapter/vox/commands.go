package vox

import "github.com/cti-adapter/cti-adapter/adapter/command"

// Command is an integrator command (adapter/command), decoded from a frame's data.
type Command = command.Command

// Command names (adapter/command).
const (
	CmdMakeCall     = command.CmdMakeCall
	CmdSetVariables = command.CmdSetVariables
	CmdLogout       = command.CmdLogout
)

// newCommand returns an empty command of the given name, or nil for an unknown name.
func newCommand(name string) Command { return command.New(name) }

// The commands and their results (adapter/command), by their vox names.
type (
	MakeCall      = command.MakeCall
	SetVariables  = command.SetVariables
	Logout        = command.Logout
	CallCreated   = command.CallCreated
	CallVariables = command.CallVariables
	LoggedOut     = command.LoggedOut
)
