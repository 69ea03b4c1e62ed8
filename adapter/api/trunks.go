package api

import (
	"net/http"
	"regexp"

	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/go-chi/chi/v5"
)

// SIP trunks over REST (PROTOCOLS.md section 6): admin only; the password is write-only.

var trunkName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// defaultTrunkMaxCalls applies when a PUT omits max_calls.
const defaultTrunkMaxCalls = 100

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
}

func viewTrunk(t store.Trunk) trunkView {
	return trunkView{Name: t.Name, Host: t.Host, Transport: t.Transport, Numbers: t.Numbers,
		FromNumber: t.FromNumber, Username: t.Username, Register: t.Register, Codecs: t.Codecs, MaxCalls: t.MaxCalls}
}

func trunkRoutes(a *API, r chi.Router) {
	r.Get("/trunks", a.listTrunks)
	r.Put("/trunks/{name}", a.putTrunk)
	r.Delete("/trunks/{name}", a.deleteTrunk)
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
		out = append(out, viewTrunk(t))
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
	if t.Register {
		fail(a.Log, w, r, &fieldError{field: "register", msg: "REGISTER is not supported yet; use an allow-listed host"})
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
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewTrunk(t))
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
	w.WriteHeader(http.StatusNoContent)
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
			"max_calls": obj{"type": "integer"}}}
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
