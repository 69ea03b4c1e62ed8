package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/command"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// The REST twins of the CTI WebSocket commands (PROTOCOLS.md section 3). They decode the request
// into the same command.Command the WebSocket decodes from a frame and run it the same way
// (Command.Run into the core), so that both edges share one code path; core errors become
// problems through the kind table of errors.go.

// commandRoutes registers the three command routes on r (which carries the role check).
func (a *API) commandRoutes(r chi.Router) {
	r.Post("/calls", a.makeCall)
	r.Post("/calls/{call_id}/variables", a.setVariables)
	r.Post("/users/{user_id}/logout", a.logoutUser)
}

// POST /calls: body commands/make_call -> 201 {call_id}.
func (a *API) makeCall(w http.ResponseWriter, r *http.Request) {
	var cmd command.MakeCall
	if err := a.decode(w, r, "commands/make_call", &cmd); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	res, ok := a.runCommand(w, r, cmd)
	if !ok {
		return
	}
	w.Header().Set("Location", "/api/v1/calls/"+res.(command.CallCreated).CallID)
	writeJSON(w, http.StatusCreated, res)
}

var callIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// POST /calls/{call_id}/variables: body rest/set_variables -> 200 {call_id, variables}.
func (a *API) setVariables(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "call_id")
	if !callIDPattern.MatchString(id) {
		fail(a.Log, w, r, &fieldError{field: "call_id", msg: "must match " + callIDPattern.String()})
		return
	}
	var body struct {
		Variables map[string]string `json:"variables"`
	}
	if err := a.decode(w, r, "rest/set_variables", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	if res, ok := a.runCommand(w, r, command.SetVariables{CallID: id, Variables: body.Variables}); ok {
		writeJSON(w, http.StatusOK, res)
	}
}

// POST /users/{user_id}/logout (no body) -> 200 {user_id}.
func (a *API) logoutUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	if res, ok := a.runCommand(w, r, command.Logout{UserID: id}); ok {
		writeJSON(w, http.StatusOK, res)
	}
}

// runCommand runs cmd as the request's integrator or admin and returns its result, or writes the
// problem and returns false.
func (a *API) runCommand(w http.ResponseWriter, r *http.Request, cmd command.Command) (any, bool) {
	start := time.Now()
	if a.Metrics != nil {
		defer func() {
			a.Metrics.CommandLatency.WithLabelValues("rest", cmd.Name()).Observe(time.Since(start).Seconds())
		}()
	}
	res, err := cmd.Run(r.Context(), a.Core, core.ActorFrom(claims(r), core.ViaIntegrator))
	if err == nil {
		return res, true
	}
	a.coreProblem(w, r, err) // errors.go; anything unknown is logged and a 500 without details
	return nil, false
}
