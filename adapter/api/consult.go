package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// The REST twins of consult calls (docs/consult.md, PROTOCOLS.md section 8), for integrators and
// admins acting for an agent: start a consult from a connected call, then complete it as a
// transfer or a conference, or cancel it. A completion on a call with no consult call is 409
// with the code no_consult.

// consultRoutes registers the consult routes on r (which carries the role check).
func (a *API) consultRoutes(r chi.Router) {
	r.Post("/calls/{call_id}/consult", a.consult)
	for _, how := range []core.ConsultEnd{core.ConsultTransfer, core.ConsultConference, core.ConsultCancel} {
		r.Post("/calls/{call_id}/consult/"+string(how), func(w http.ResponseWriter, r *http.Request) { a.completeConsult(w, r, how) })
	}
}

// consultCreated is the answer to POST /calls/{call_id}/consult.
type consultCreated struct {
	CallID    string `json:"call_id"`
	ConsultOf string `json:"consult_of"`
}

// POST /calls/{call_id}/consult: body rest/consult -> 201 {call_id, consult_of}.
func (a *API) consult(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathCallID(w, r)
	if !ok {
		return
	}
	var body struct {
		Destination string            `json:"destination"`
		UserID      string            `json:"user_id"`
		Variables   map[string]string `json:"variables"`
	}
	if err := a.decode(w, r, "rest/consult", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	v, err := a.Core.Consult(r.Context(), core.ActorFrom(claims(r), core.ViaIntegrator), body.UserID, id, body.Destination, body.Variables)
	if err != nil {
		a.coreProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/calls/"+v.CallID)
	writeJSON(w, http.StatusCreated, consultCreated{CallID: v.CallID, ConsultOf: id})
}

// POST /calls/{call_id}/consult/{transfer|conference|cancel}: body rest/consult_complete (may be
// empty) -> 200 the primary call as it is now (core.CallView).
func (a *API) completeConsult(w http.ResponseWriter, r *http.Request, how core.ConsultEnd) {
	id, ok := a.pathCallID(w, r)
	if !ok {
		return
	}
	var body struct {
		UserID string `json:"user_id"`
	}
	raw, err := readBody(w, r)
	if err == nil && len(raw) > 0 {
		err = a.Schemas.Decode("rest/consult_complete", raw, &body)
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	v, err := a.Core.CompleteConsult(r.Context(), core.ActorFrom(claims(r), core.ViaIntegrator), body.UserID, id, how)
	if err != nil {
		a.coreProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// pathCallID is the {call_id} of the path, or false after answering 422.
func (a *API) pathCallID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "call_id")
	if !callIDPattern.MatchString(id) {
		fail(a.Log, w, r, &fieldError{field: "call_id", msg: "must match " + callIDPattern.String()})
		return "", false
	}
	return id, true
}

// consultOperations are the consult routes of the OpenAPI document.
func consultOperations() []operation {
	created := obj{"type": "object", "required": []string{"call_id", "consult_of"}, "properties": obj{
		"call_id":    obj{"type": "string", "description": "The consult call."},
		"consult_of": obj{"type": "string", "description": "The primary call (the one in the path), now held."}}}
	live := obj{"type": "object", "description": "The primary call as it is now (live state, not the call record).",
		"required": []string{"call_id", "state", "agents", "held"}, "properties": obj{
			"call_id": obj{"type": "string"}, "state": obj{"type": "string"}, "held": obj{"type": "boolean"},
			"agents":          obj{"type": "array", "items": obj{"type": "string"}},
			"consult_call_id": obj{"type": "string", "description": "Present while the call has a consult call."}}}
	ops := []operation{{method: "POST", path: "/calls/{call_id}/consult", id: "consult", tag: "calls", roles: staffRoles,
		summary: "Start a consult call",
		desc: "Holds the connected call in the path (the customer hears hold audio) and dials destination from the phone of its agent " +
			"(user_id, or the call's only agent) as its consult call; its events carry consult_of. 403 when the agent is not a connected " +
			"party of the call; 404 for an unknown call or destination; 409 when the call already has a consult call or the agent has another call.",
		params: []any{param("CallIDPath")}, body: "rest/consult",
		ok: []response{{201, "The consult call was placed; Location is its call record.", created}},
		headers: map[int]obj{201: {"Location": obj{"description": "/api/v1/calls/{call_id} of the consult call.",
			"schema": obj{"type": "string"}}}},
		errs: []int{404, 409}}}
	for _, c := range []struct{ how, id, summary, desc string }{
		{"transfer", "consultTransfer", "Complete a consult as a transfer",
			"The consulted party takes the agent's place on the primary (call_transferred with to_user_id or phone); the agent leaves into wrap-up and the consult call ends."},
		{"conference", "consultConference", "Complete a consult as a conference",
			"The consulted party joins the primary (party_added); all three hear each other and the consult call ends."},
		{"cancel", "consultCancel", "Cancel a consult",
			"The consult call ends and the agent retrieves the primary (call_retrieved)."},
	} {
		ops = append(ops, operation{method: "POST", path: "/calls/{call_id}/consult/" + c.how, id: c.id, tag: "calls", roles: staffRoles,
			summary: c.summary, desc: c.desc + " The path may name the primary or its consult call. 409 no_consult when there is no consult call; 409 conflict when the consult call is not answered yet (transfer, conference).",
			params: []any{param("CallIDPath")}, body: "rest/consult_complete", optionalBody: true,
			ok:   []response{{200, "The consult is over.", live}},
			errs: []int{404, 409}})
	}
	return ops
}
