// Presence for agents' directories: the other agents' status, live.

package rtc

import (
	"encoding/json"

	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// presenceFrame is schemas/rtc/server_presence: another agent of the account changed status
// (docs/rtc.md "Presence"). It carries what GET /api/v1/directory already shows an agent of
// each colleague (status, reason, since), so it tells an agent nothing new, only sooner.
type presenceFrame struct {
	Type   string `json:"type"` // "presence"
	UserID string `json:"user_id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	Since  string `json:"since"`
	Seq    int64  `json:"seq"`
}

// presence forwards another agent's status_changed to this agent as a presence frame. Only live
// events are forwarded: a connection catching up reloads the directory anyway (the page does on
// each CONNECTED), so replaying a day of status changes would be noise. It reports false when
// the connection is closing.
func (c *conn) presence(ev *event.Event, replaying bool) bool {
	if replaying || ev.Name != event.StatusChanged {
		return true
	}
	var d event.StatusChangedData
	if json.Unmarshal(ev.Data, &d) != nil || d.UserID == "" {
		return true
	}
	return c.send(presenceFrame{Type: "presence", UserID: d.UserID, Status: d.Status, Reason: d.Reason,
		Since: ev.Time.UTC().Format(event.TimeFormat), Seq: ev.Seq})
}

// queueEvents are the events of other agents' calls that can change a queue's waiting count:
// a call arriving (incoming_call without user_id), choosing its queue in the IVR (data_updated),
// answered (call_connected) or ending (call_failed, call_disconnected).
var queueEvents = map[string]bool{event.IncomingCall: true, event.DataUpdated: true, event.CallConnected: true,
	event.CallFailed: true, event.CallDisconnected: true}

// directoryChanged hints an agent that queue counts may have moved because of a call it is not
// on (schemas/rtc/server_directory_changed): the page reloads GET /api/v1/directory, coalesced.
// It says nothing of the call. Live events only, as presence. It reports false when the
// connection is closing.
func (c *conn) directoryChanged(ev *event.Event, userID string, replaying bool) bool {
	if replaying || !queueEvents[ev.Name] || ev.Name == event.IncomingCall && userID != "" {
		return true
	}
	return c.send(map[string]any{"type": "directory_changed", "seq": ev.Seq})
}
