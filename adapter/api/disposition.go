package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
)

// POST /calls/{call_id}/disposition: body rest/set_disposition -> 200 {call_id, disposition}.
// Agents (their own calls, live or ended), admins and integrators (any call of the account).
func dispositionRoutes(a *API, r chi.Router) {
	r.Post("/calls/{call_id}/disposition", a.setDisposition)
}

func (a *API) setDisposition(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "call_id")
	if !callIDPattern.MatchString(id) {
		fail(a.Log, w, r, &fieldError{field: "call_id", msg: "must match " + callIDPattern.String()})
		return
	}
	var body struct{ Code, Notes string }
	if err := a.decode(w, r, "rest/set_disposition", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	c := claims(r)
	via := core.ViaIntegrator
	if c.Role == auth.RoleAgent {
		via = core.ViaDesktop
	}
	d, err := a.Core.SetDisposition(r.Context(), core.ActorFrom(c, via), id, body.Code, body.Notes)
	if err != nil {
		a.coreProblem(w, r, err) // errors.go
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "disposition": event.Disposition{Code: d.Code, Label: d.Label,
		Notes: d.Notes, UserID: d.UserID, At: ts(d.At)}})
}

// dispositionOperations is the OpenAPI entry of the route.
func dispositionOperations() []operation {
	str := obj{"type": "string"}
	dispo := obj{"type": "object", "required": []string{"at"},
		"properties": obj{"code": str, "label": str, "notes": str, "user_id": str, "at": obj{"type": "string", "format": "date-time"}}}
	return []operation{{method: "POST", path: "/calls/{call_id}/disposition", id: "setDisposition", tag: "calls", roles: deskRoles,
		summary: "Give a call its disposition (wrap-up code and notes)",
		desc: "During the call or after it: one of the account's disposition_codes and/or notes, saved on the call record and announced by data_updated (with disposition). " +
			"An agent may dispose of its own calls only (403 otherwise); 422 for a code the account does not define; with disposition_required, it also ends the agent's after-call work once the wrap-up time is over.",
		params: []any{obj{"name": "call_id", "in": "path", "required": true, "schema": obj{"type": "string", "pattern": callIDPattern.String()}}},
		body:   "rest/set_disposition",
		ok: []response{{200, "The disposition as saved.", obj{"type": "object", "required": []string{"call_id", "disposition"},
			"properties": obj{"call_id": str, "disposition": dispo}}}},
		errs: []int{403, 404, 409, 422}}}
}
