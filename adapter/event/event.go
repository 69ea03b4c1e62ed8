// Package event defines the account events the core emits: their names, their payloads and the
// envelope that carries them through the durable log, the hub and every protocol edge.
package event

import (
	"encoding/json"
	"strconv"
	"time"
)

// Event is one entry of an account's durable event log. Seq is assigned by the hub when the event
// is appended: per account it starts at 1 and grows by exactly one per event, across restarts.
type Event struct {
	Account string          `json:"-"`
	Seq     int64           `json:"seq"`
	Time    time.Time       `json:"ts"`
	Name    string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	// Frame caches the wire form; see Wire. Never stored.
	Frame []byte `json:"-"`
}

// Event names of PROTOCOLS.md section 2. Every name has a schema in schemas/events.
const (
	IncomingCall     = "incoming_call"
	OutgoingCall     = "outgoing_call"
	CallConnected    = "call_connected"
	CallFailed       = "call_failed"
	CallDisconnected = "call_disconnected"
	DataUpdated      = "data_updated"
	StatusChanged    = "status_changed"
)

// SettingsChanged is emitted when an admin changes the account's settings (mode included), so
// that connected desktops learn their new capabilities at once.
const SettingsChanged = "settings_changed"

// TimeFormat is the wire form of ts: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Wire returns the event's wire form `{"event":..,"seq":..,"ts":..,"data":..}`, shared by the
// CTI WebSocket and the REST event log. The hub fills Frame once per event so that fan-out to many
// subscribers encodes nothing.
func (e *Event) Wire() []byte {
	if e.Frame != nil {
		return e.Frame
	}
	return AppendWire(make([]byte, 0, 64+len(e.Data)), e)
}

// AppendWire appends e's wire form to dst.
func AppendWire(dst []byte, e *Event) []byte {
	dst = append(dst, `{"event":`...)
	dst = appendString(dst, e.Name)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"ts":"`...)
	dst = e.Time.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","data":`...)
	if len(e.Data) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, e.Data...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string; event names are plain identifiers, so escaping is
// delegated to encoding/json only when needed.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// MarshalJSON encodes the wire form.
func (e Event) MarshalJSON() ([]byte, error) { return e.Wire(), nil }

// Full-mode call control events and the media-owner change of the multi-session model.
const (
	CallHeld          = "call_held"
	CallRetrieved     = "call_retrieved"
	CallMuted         = "call_muted"
	CallUnmuted       = "call_unmuted"
	PartyAdded        = "party_added"
	PartyRemoved      = "party_removed"
	CallTransferred   = "call_transferred"
	DTMFSent          = "dtmf_sent"
	MediaOwnerChanged = "media_owner_changed"
)
