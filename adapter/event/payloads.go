package event

// The payloads (data) of the events the core emits, one struct per schema in schemas/events:
// the json tags are the schema's fields, so renaming a field breaks the build of every emitter.
// Fields are in alphabetical order, which keeps the wire bytes those of the maps they replaced.
// consult_of, on the events of a consult call, is the id of its primary call (docs/consult.md).

// StatusChangedData is status_changed.
type StatusChangedData struct {
	Previous string `json:"previous"`
	Reason   string `json:"reason"`
	Status   string `json:"status"`
	UserID   string `json:"user_id"`
}

// IncomingCallData is incoming_call: without user_id when the call arrives, with it each time
// it alerts an agent.
type IncomingCallData struct {
	CallID      string            `json:"call_id"`
	ConsultOf   string            `json:"consult_of,omitempty"`
	DisplayName string            `json:"display_name"`
	Media       string            `json:"media"`
	Phone       string            `json:"phone"`
	Queue       string            `json:"queue"`
	Source      string            `json:"source"`
	UserID      string            `json:"user_id,omitempty"`
	Variables   map[string]string `json:"variables"`
}

// OutgoingCallData is outgoing_call.
type OutgoingCallData struct {
	CallID    string            `json:"call_id"`
	ConsultOf string            `json:"consult_of,omitempty"`
	Phone     string            `json:"phone"`
	UserID    string            `json:"user_id"`
	Variables map[string]string `json:"variables"`
}

// CallConnectedData is call_connected.
type CallConnectedData struct {
	CallID    string `json:"call_id"`
	ConsultOf string `json:"consult_of,omitempty"`
	Phone     string `json:"phone"`
	UserID    string `json:"user_id"`
}

// CallFailedData is call_failed (user_id "" for a call that failed in its queue).
type CallFailedData struct {
	CallID    string `json:"call_id"`
	Code      int    `json:"code"`
	ConsultOf string `json:"consult_of,omitempty"`
	Phone     string `json:"phone"`
	Reason    string `json:"reason"`
	UserID    string `json:"user_id"`
}

// CallDisconnectedData is call_disconnected.
type CallDisconnectedData struct {
	CallID     string `json:"call_id"`
	ConsultOf  string `json:"consult_of,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	EndedBy    string `json:"ended_by"`
	Phone      string `json:"phone"`
	UserID     string `json:"user_id"`
}

// DataUpdatedData is data_updated: the call's whole variable set.
type DataUpdatedData struct {
	CallID      string            `json:"call_id"`
	Variables   map[string]string `json:"variables"`
	Disposition *Disposition      `json:"disposition,omitempty"` // when a disposition was set
}

// Disposition is how an agent classified a call (core/disposition.go).
type Disposition struct {
	Code   string `json:"code,omitempty"`
	Label  string `json:"label,omitempty"`
	Notes  string `json:"notes,omitempty"`
	UserID string `json:"user_id,omitempty"`
	At     string `json:"at"`
}

// CallPartyData is call_held, call_retrieved, call_muted and call_unmuted: the call and the
// agent who acted (or, with HeldBy "remote", the call's agent when the far end of a SIP leg
// held or resumed the call itself).
type CallPartyData struct {
	CallID string `json:"call_id"`
	UserID string `json:"user_id"`
	HeldBy string `json:"held_by,omitempty"`
}

// PartyData is party_added and party_removed.
type PartyData struct {
	CallID  string `json:"call_id"`
	PartyID string `json:"party_id"`
	Phone   string `json:"phone"`
	UserID  string `json:"user_id"`
}

// CallTransferredData is call_transferred: to is the destination as given; a consult transfer
// also names the party that took the call, to_user_id (an agent) or phone (a number).
type CallTransferredData struct {
	CallID     string            `json:"call_id"`
	FromUserID string            `json:"from_user_id"`
	Phone      string            `json:"phone,omitempty"`
	To         string            `json:"to"`
	ToUserID   string            `json:"to_user_id,omitempty"`
	Variables  map[string]string `json:"variables"`
}

// DTMFSentData is dtmf_sent.
type DTMFSentData struct {
	CallID string `json:"call_id"`
	Digits string `json:"digits"`
	UserID string `json:"user_id"`
}

// MediaOwnerChangedData is media_owner_changed (session_id "" when no phone owns the media).
type MediaOwnerChangedData struct {
	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`
}
