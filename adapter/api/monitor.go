package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// Supervision over REST (docs/supervision.md): a supervisor token connects its /rtc phone to a
// live call (POST, again to change the mode) and disconnects it (DELETE). Supervision is not a
// desktop operation: the account's mode never limits it.

// monitorRoutes registers the monitor routes on r (which lets only supervisors through).
func monitorRoutes(a *API, r chi.Router) {
	r.Post("/calls/{call_id}/monitor", a.postMonitor)
	r.Delete("/calls/{call_id}/monitor", a.deleteMonitor)
}

// POST /calls/{call_id}/monitor: body rest/post_monitor -> 200 {call_id, mode}.
func (a *API) postMonitor(w http.ResponseWriter, r *http.Request) {
	id, ok := a.monitorCallID(w, r)
	if !ok {
		return
	}
	var body struct {
		Mode string `json:"mode"`
	}
	if err := a.decode(w, r, "rest/post_monitor", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	v, err := a.Core.Monitor(r.Context(), core.ActorFrom(claims(r), core.ViaPhone), id, body.Mode)
	if err != nil {
		a.coreProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// DELETE /calls/{call_id}/monitor -> 204.
func (a *API) deleteMonitor(w http.ResponseWriter, r *http.Request) {
	id, ok := a.monitorCallID(w, r)
	if !ok {
		return
	}
	if err := a.Core.Unmonitor(r.Context(), core.ActorFrom(claims(r), core.ViaPhone), id); err != nil {
		a.coreProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) monitorCallID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "call_id")
	if !callIDPattern.MatchString(id) {
		fail(a.Log, w, r, &fieldError{field: "call_id", msg: "must match " + callIDPattern.String()})
		return "", false
	}
	return id, true
}

// monitorOperations are the OpenAPI rows of the monitor routes.
func monitorOperations() []operation {
	sup := []string{"supervisor"}
	view := obj{"type": "object", "required": []string{"call_id", "mode"},
		"properties": obj{"call_id": obj{"type": "string"}, "mode": obj{"enum": []string{"listen", "whisper", "barge"}}}}
	return []operation{
		{method: "POST", path: "/calls/{call_id}/monitor", id: "monitorCall", tag: "calls", roles: sup,
			summary: "Monitor a live call (listen, whisper, barge)",
			desc: "Connects the supervisor's /rtc phone to a connected or held call: listen hears every party and is heard by none; whisper is heard by the agents, never by the customer; barge is a full party. Again with another mode changes the mode during the call (monitor_started with previous_mode). " +
				"Not a desktop operation: the account's mode never limits it. 404 for a call not live in this account; 409 when the call is not connected or held, the supervisor is a party of it or already monitors another call, or its phone is not connected (or its microphone not granted, for whisper and barge); 422 for a mode other than the three.",
			params: []any{param("CallIDPath")}, body: "rest/post_monitor",
			ok:   []response{{200, "The supervisor monitors the call in mode.", view}},
			errs: []int{404, 409, 422}},
		{method: "DELETE", path: "/calls/{call_id}/monitor", id: "unmonitorCall", tag: "calls", roles: sup,
			summary: "Stop monitoring a call",
			desc:    "Disconnects the supervisor's phone from the call (monitor_ended reason stopped). 404 when this supervisor does not monitor that call.",
			params:  []any{param("CallIDPath")},
			ok:      []response{{204, "The monitor ended.", nil}},
			errs:    []int{404, 422}},
	}
}
