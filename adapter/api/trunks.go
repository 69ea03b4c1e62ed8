package api

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/go-chi/chi/v5"
)

// SIP trunks over REST (PROTOCOLS.md section 6): admin only; the password is write-only.

var trunkName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// defaultTrunkMaxCalls applies when a PUT omits max_calls.
const defaultTrunkMaxCalls = 100

// TrunkRegistrar is the SIP edge as the trunk routes see it (server.SIPDialer implements it).
type TrunkRegistrar interface {
	// TrunkChanged reloads acct's trunk name after a PUT or DELETE (re-registers or unregisters).
	TrunkChanged(ctx context.Context, acct, name string)
	// Registration is the trunk's REGISTER state; false when no registration runs.
	Registration(acct, name string) (TrunkRegistration, bool)
}

// TrunkRegistration is a registering trunk's state in GET /trunks.
type TrunkRegistration struct {
	Registered bool
	ExpiresAt  time.Time // zero unless Registered
	LastError  string
}

// trunkView is a trunk as GET answers it: every field but the password.
type trunkView struct {
	Name       string   `json:"name"`
	Host       string   `json:"host"`
	Transport  string   `json:"transport"`
	Numbers    []string `json:"numbers"`
	FromNumber string   `json:"from_number"`
	Username   string   `json:"username"`
	Register   bool     `json:"register"`
	Codecs     []string `json:"codecs"`
	MaxCalls   int      `json:"max_calls"`
	// REGISTER state, present when register is on.
	Registered *bool   `json:"registered,omitempty"`
	ExpiresAt  *string `json:"expires_at,omitempty"`
	LastError  *string `json:"last_error,omitempty"`
}

func viewTrunk(t store.Trunk) trunkView {
	return trunkView{Name: t.Name, Host: t.Host, Transport: t.Transport, Numbers: t.Numbers,
		FromNumber: t.FromNumber, Username: t.Username, Register: t.Register, Codecs: t.Codecs, MaxCalls: t.MaxCalls}
}

func trunkRoutes(a *API, r chi.Router) {
	r.Get("/trunks", a.listTrunks)
	r.With(a.configWrite).Put("/trunks/{name}", a.putTrunk)
	r.With(a.configWrite).Delete("/trunks/{name}", a.deleteTrunk)
}

func pathTrunkName(r *http.Request) (string, error) {
	n := chi.URLParam(r, "name")
	if !trunkName.MatchString(n) {
		return "", &fieldError{field: "name", msg: "must match ^[A-Za-z0-9._-]{1,64}$"}
	}
	return n, nil
}

func (a *API) listTrunks(w http.ResponseWriter, r *http.Request) {
	list, err := a.Store.Trunks(r.Context(), claims(r).Account)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	out := make([]trunkView, 0, len(list))
	for _, t := range list {
		out = append(out, a.withRegistration(t.Account, viewTrunk(t)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"trunks": out})
}

func (a *API) putTrunk(w http.ResponseWriter, r *http.Request) {
	name, err := pathTrunkName(r)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	var body struct {
		store.Trunk
		Password *string `json:"password"`
	}
	if err := a.decode(w, r, "rest/put_trunk", &body); err != nil {
		fail(a.Log, w, r, err)
		return
	}
	t := body.Trunk
	if body.Password != nil {
		t.Password = *body.Password
	}
	if t.Register && t.Username == "" {
		fail(a.Log, w, r, &fieldError{field: "username", msg: "is required when register is true"})
		return
	}
	t.Account, t.Name = claims(r).Account, name
	if t.Transport == "" {
		t.Transport = "udp"
	}
	if len(t.Codecs) == 0 {
		t.Codecs = []string{"PCMU", "PCMA"}
	}
	if t.MaxCalls == 0 {
		t.MaxCalls = defaultTrunkMaxCalls
	}
	created, err := a.Store.PutTrunk(r.Context(), t)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	a.trunkChanged(r.Context(), t.Account, t.Name)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, a.withRegistration(t.Account, viewTrunk(t)))
}

func (a *API) deleteTrunk(w http.ResponseWriter, r *http.Request) {
	name, err := pathTrunkName(r)
	if err == nil {
		err = a.Store.DeleteTrunk(r.Context(), claims(r).Account, name)
	}
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	a.trunkChanged(r.Context(), claims(r).Account, name)
	w.WriteHeader(http.StatusNoContent)
}

// trunkChanged tells the SIP edge (it unregisters at once, re-registers in the background).
func (a *API) trunkChanged(ctx context.Context, acct, name string) {
	if a.Registrar != nil {
		a.Registrar.TrunkChanged(ctx, acct, name)
	}
}

// withRegistration adds the REGISTER state to a registering trunk's view: registered false
// and no expires_at until the first success (also when no SIP edge runs).
func (a *API) withRegistration(acct string, v trunkView) trunkView {
	if !v.Register {
		return v
	}
	var st TrunkRegistration
	if a.Registrar != nil {
		st, _ = a.Registrar.Registration(acct, v.Name)
	}
	v.Registered = &st.Registered
	if st.Registered {
		s := st.ExpiresAt.UTC().Format(time.RFC3339)
		v.ExpiresAt = &s
	}
	if st.LastError != "" {
		v.LastError = &st.LastError
	}
	return v
}

// trunkOperations are the OpenAPI rows of the trunk routes.
func trunkOperations() []operation {
	nameParam := obj{"name": "name", "in": "path", "required": true, "description": "Trunk name.",
		"schema": obj{"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}
	str := obj{"type": "string"}
	trunk := obj{"type": "object", "required": []string{"name", "host", "transport", "numbers", "codecs", "max_calls"},
		"properties": obj{"name": str, "host": str, "transport": obj{"enum": []string{"udp", "tcp"}},
			"numbers": obj{"type": "array", "items": str}, "from_number": str, "username": str,
			"register": obj{"type": "boolean"}, "codecs": obj{"type": "array", "items": str},
			"max_calls":  obj{"type": "integer"},
			"registered": obj{"type": "boolean", "description": "Present when register is on: the last REGISTER succeeded and has not expired."},
			"expires_at": obj{"type": "string", "format": "date-time", "description": "Present while registered: when the registrar's grant ends (refreshed at 80 %)."},
			"last_error": obj{"type": "string", "description": "Present when the last REGISTER failed: the registrar's status and reason (\"403 Forbidden\") or \"no answer from the registrar\"."}}}
	return []operation{
		{method: "GET", path: "/trunks", id: "listTrunks", tag: "trunks", roles: adminRoles,
			summary: "List the account's SIP trunks",
			desc:    "Every trunk of the account, by name; passwords are never returned.",
			ok: []response{{200, "The trunks.", obj{"type": "object", "required": []string{"trunks"},
				"properties": obj{"trunks": obj{"type": "array", "items": trunk}}}}}},
		{method: "PUT", path: "/trunks/{name}", id: "putTrunk", tag: "trunks", roles: adminRoles,
			summary: "Create or replace a SIP trunk",
			desc:    "Creates the trunk or replaces it (an omitted password keeps the stored one). 409 when one of its numbers belongs to another trunk, of this account or another.",
			params:  []any{nameParam}, body: "rest/put_trunk",
			ok:   []response{{200, "The trunk existed and was replaced.", trunk}, {201, "The trunk was created.", trunk}},
			errs: []int{409, 422}},
		{method: "DELETE", path: "/trunks/{name}", id: "deleteTrunk", tag: "trunks", roles: adminRoles,
			summary: "Delete a SIP trunk", params: []any{nameParam},
			ok:   []response{{204, "The trunk was deleted.", nil}},
			errs: []int{404, 422}},
	}
}
