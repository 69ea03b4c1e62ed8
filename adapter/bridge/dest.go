package bridge

import (
	"maps"
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/agent"
	"github.com/cti-adapter/cti-adapter/adapter/call"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// Ids of the one channel group and the one telephony channel of every session.
const (
	GroupID   = "voice"
	ChannelID = "phone"
	// PrimaryID is the conversation id of an interaction's call leg; a consult conversation's
	// id is its consult call's id (consult.go).
	PrimaryID = "primary"
)

// Conversation states (seed 002).
const (
	Ringing  = "RINGING"
	Dialing  = "DIALING"
	Talking  = "TALKING"
	Held     = "HELD"
	Released = "RELEASED"
)

// Interaction states.
const (
	Alerting  = "ALERTING"
	IDialing  = "DIALING"
	Active    = "ACTIVE"
	IReleased = "RELEASED"
)

// maxPending bounds the events a destination queues before its init query; more are dropped
// (a bridge that never initialises a destination does not read its events).
const maxPending = 256

// maxReleased bounds the released interactions a connection keeps for the bridge to complete;
// the oldest beyond it are forgotten.
const maxReleased = 16

// dest is what every destination has: its target and the queue-until-init rule.
type dest struct {
	target  string
	inited  bool
	base    []byte   // the init answer's body as it was when the destination appeared (before pending)
	pending [][]byte // events raised before the init query was answered, in order
}

// party is one other party of a conversation.
type party struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

// channelBody is the body of channel.query.init and channel.statechanged.
type channelBody struct {
	State  string `json:"state"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func channelOf(status, reason string) channelBody {
	st := "NOT_READY"
	switch agent.Status(status) {
	case agent.Ready:
		st = "READY"
	case agent.InCall:
		st = "BUSY"
	case agent.Offline:
		st = "LOGGED_OUT"
	}
	return channelBody{State: st, Status: status, Reason: reason}
}

// channel is the agent's telephony channel.
type channel struct {
	dest
	cur     channelBody
	changes int // channel.statechanged events raised so far
}

// conversation is one call leg of an interaction, seen from this agent.
type conversation struct {
	dest
	state   string
	muted   bool
	parties []party
	callID  string // a consult conversation: its consult call ("" for the primary: the interaction's)
	failed  string // a consult conversation: the consulted agent's refusal, a failure if it ends unanswered
}

type conversationBody struct {
	State   string  `json:"conversation-state"`
	Parties []party `json:"parties"`
	Muted   bool    `json:"muted"`
	Type    string  `json:"conversation-type"`
}

func (cv *conversation) body() conversationBody {
	ps := slices.Clone(cv.parties)
	if len(ps) == 0 { // seed 002: at least one party
		ps = []party{{Number: unknownField}}
	}
	typ := PrimaryID
	if cv.callID != "" {
		typ = ConsultType
	}
	return conversationBody{State: cv.state, Parties: ps, Muted: cv.muted, Type: typ}
}

func (cv *conversation) hasParty(number string) bool {
	return slices.ContainsFunc(cv.parties, func(p party) bool { return p.Number == number })
}

// interaction is one call of this agent.
type interaction struct {
	dest
	id        string // the call id, "-2", "-3"... appended when the call comes back after release
	callID    string
	state     string
	direction string
	media     string
	queue     string
	remote    party
	data      map[string]string
	conv      *conversation
	consult   *conversation // the consult conversation, nil when none (consult.go)
	consultOf string        // the interaction of a consult call: its primary call
	reason    string        // why it was released
	// dialing: failed reports that conversation.busy or .failed was raised; pendingFail is the
	// called agent's refusal, a failure if the call then ends unanswered
	failed      bool
	pendingFail string
}

type interactionBody struct {
	State         string            `json:"interaction-state"`
	Data          map[string]string `json:"interaction-data"`
	ID            string            `json:"interaction-id"`
	CallID        string            `json:"call-id"`
	Type          string            `json:"interaction-type"`
	Direction     string            `json:"direction"`
	Media         string            `json:"media"`
	Queue         string            `json:"queue"`
	RemoteNumber  string            `json:"remote-number"`
	RemoteName    string            `json:"remote-name"`
	Reason        string            `json:"reason,omitempty"`
	ConsultOf     string            `json:"consult-of,omitempty"`
	Conversations []string          `json:"conversations"`
}

func (in *interaction) body() interactionBody {
	b := interactionBody{State: in.state, Data: maps.Clone(in.data), ID: in.id, CallID: in.callID, Type: "telephony",
		Direction: in.direction, Media: in.media, Queue: in.queue, RemoteNumber: in.remote.Number,
		RemoteName: in.remote.Name, Reason: in.reason, ConsultOf: in.consultOf, Conversations: []string{}}
	if b.Data == nil {
		b.Data = map[string]string{}
	}
	if in.conv != nil {
		b.Conversations = append(b.Conversations, in.conv.target)
	}
	if in.consult != nil {
		b.Conversations = append(b.Conversations, in.consult.target)
	}
	return b
}

// convState derives this agent's conversation state from a call snapshot.
func convState(v core.CallView, uid string) string {
	switch {
	case v.State == string(call.Ended):
		return Released
	case v.Caller == uid && v.State != string(call.Connected) && v.State != string(call.Held):
		return Dialing
	case v.Caller != uid && !slices.Contains(v.Agents, uid):
		return Ringing // alerting this agent (a new call, a transfer or a conference invitation)
	case v.Held:
		return Held
	}
	return Talking
}

func interactionState(conv string) string {
	switch conv {
	case Ringing:
		return Alerting
	case Dialing:
		return IDialing
	case Released:
		return IReleased
	}
	return Active
}

func firstMedia(m []string) string {
	for _, k := range []string{"screen", "video"} {
		if slices.Contains(m, k) {
			return k
		}
	}
	return "audio"
}
