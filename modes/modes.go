// Package modes holds the three telephony modes of Pega OpenCTI behind one Mode interface: what a
// CRM desktop may do on an account. The core asks the account's mode once per desktop command;
// phones and integrators are not limited by it.
package modes

import (
	"fmt"
	"slices"
)

// Op is an operation a desktop may ask for.
type Op string

// The desktop operations, by group.
const (
	// Always: session and screen-pop.
	Login   Op = "login"
	Logout  Op = "logout"
	SetData Op = "setdata"
	// Agent state.
	Ready    Op = "ready"
	NotReady Op = "notready"
	// Call control.
	Dial        Op = "dial"
	Answer      Op = "answer"
	Reject      Op = "reject"
	HangUp      Op = "hangup"
	Hold        Op = "hold"
	Retrieve    Op = "retrieve"
	Mute        Op = "mute"
	Unmute      Op = "unmute"
	DTMF        Op = "senddtmf"
	Transfer    Op = "transfer"
	Conference  Op = "conference"
	RemoveParty Op = "removeparty"
	// Consult calls: start, complete as transfer or conference, cancel (docs/consult.md).
	Consult Op = "consult"
	// Video calls (docs/video.md): the agent's camera, and its screen sharing.
	Video       Op = "video"
	ScreenShare Op = "screenshare"
	// Call recording on demand: start, stop, pause, resume (docs/recording.md).
	Record Op = "record"
	// Chat (docs/chat.md): accept or reject an offered chat; send messages, typing and delivery
	// acknowledgements; end a chat or its after-chat work.
	ChatAccept Op = "chat_accept"
	ChatSend   Op = "chat_send"
	ChatEnd    Op = "chat_end"
)

// AllOps lists every operation, in a stable order (capabilities are published in this order).
var AllOps = []Op{Login, Logout, SetData, Ready, NotReady, Dial, Answer, Reject, HangUp, Hold, Retrieve, Mute, Unmute, DTMF, Transfer, Conference, RemoveParty, Consult,
	Video, ScreenShare, Record, ChatAccept, ChatSend, ChatEnd}

// Mode decides what a desktop may do.
type Mode interface {
	// Name is the mode's setting value: simple, agent-state or full.
	Name() string
	// Allows reports whether a desktop may perform op.
	Allows(op Op) bool
}

// Capabilities lists the operations m allows, for publishing to desktops at login.
func Capabilities(m Mode) []string {
	var out []string
	for _, op := range AllOps {
		if m.Allows(op) {
			out = append(out, string(op))
		}
	}
	return out
}

// ForbiddenError is the refusal of an operation the mode does not allow.
type ForbiddenError struct {
	Op   Op
	Mode string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("%s is not available in %s mode", e.Op, e.Mode)
}

// Check returns a *ForbiddenError when m does not allow op.
func Check(m Mode, op Op) error {
	if m.Allows(op) {
		return nil
	}
	return &ForbiddenError{Op: op, Mode: m.Name()}
}

var base = []Op{Login, Logout, SetData}

// Simple: incoming-call notifications and screen pop only; agent state and calls are handled on
// the agent's phone.
type Simple struct{}

func (Simple) Name() string      { return "simple" }
func (Simple) Allows(op Op) bool { return slices.Contains(base, op) }

// AgentState: simple plus ready / not ready (with reason codes) from the desktop.
type AgentState struct{}

func (AgentState) Name() string      { return "agent-state" }
func (AgentState) Allows(op Op) bool { return Simple{}.Allows(op) || op == Ready || op == NotReady }

// Full: every operation, click-to-dial included.
type Full struct{}

func (Full) Name() string      { return "full" }
func (Full) Allows(op Op) bool { return slices.Contains(AllOps, op) }

// ByName returns the mode for a setting value.
func ByName(name string) (Mode, error) {
	switch name {
	case "simple":
		return Simple{}, nil
	case "agent-state":
		return AgentState{}, nil
	case "full":
		return Full{}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", name)
}
