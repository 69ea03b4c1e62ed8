package api

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/core"
)

// The live routes serve what the desktops and the admin's live view show of the account now:
// GET /queues (each queue's waiting calls, longest wait and agents by status) and GET /directory
// (the agents' transfer directory: every agent with its live status, the queues with their
// waiting count, and the admin's quick connects). Agents may read both: the directory is theirs.
func liveRoutes(a *API, r chi.Router) {
	r.Get("/queues", a.listQueues)
	r.Get("/directory", a.directory)
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request) {
	acct := claims(r).Account
	s, err := a.Accounts.Settings(r.Context(), acct)
	if err != nil {
		fail(a.Log, w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": a.Core.Queues(acct, queueNames(s))})
}

// queueNames lists the account's queues: its queue list, then IVR choices not in it.
func queueNames(s account.Settings) []string {
	names := slices.Clone(s.Queues)
	add := func(q string) {
		if q != "" && !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	keys := make([]string, 0, len(s.IVR.Menu))
	for k := range s.IVR.Menu {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(s.IVR.Menu[k])
	}
	add(s.IVR.DefaultQueue)
	return names
}

// directoryAgent is one agent as the directory shows it: who, how to reach them, and presence.
type directoryAgent struct {
	UserID    string   `json:"user_id"`
	Name      string   `json:"name"`
	Extension string   `json:"extension,omitempty"`
	Queues    []string `json:"queues"`
	Status    string   `json:"status"`
	Reason    string   `json:"reason"`
	Since     string   `json:"since,omitempty"`
}

func (a *API) directory(w http.ResponseWriter, r *http.Request) {
	acct := claims(r).Account
	s, err := a.Accounts.Settings(r.Context(), acct)
	if err == nil {
		var users []userView
		if users, err = a.userViews(r); err == nil {
			writeJSON(w, http.StatusOK, map[string]any{
				"agents":         a.directoryAgents(acct, users),
				"queues":         a.Core.Queues(acct, queueNames(s)),
				"quick_connects": s.QuickConnects,
			})
			return
		}
	}
	fail(a.Log, w, r, err)
}

func (a *API) directoryAgents(acct string, users []userView) []directoryAgent {
	live := map[string]core.AgentView{}
	for _, v := range a.Core.Agents(acct) {
		live[v.UserID] = v
	}
	out := make([]directoryAgent, len(users))
	for i, u := range users {
		d := directoryAgent{UserID: u.UserID, Name: u.Name, Extension: u.Extension, Queues: u.Queues, Status: "offline"}
		if v, ok := live[u.UserID]; ok {
			d.Status, d.Reason, d.Since = v.Status, v.Reason, v.Since
		}
		out[i] = d
	}
	return out
}

func (a *API) userViews(r *http.Request) ([]userView, error) {
	users, err := a.Store.Users(r.Context(), claims(r).Account)
	if err != nil {
		return nil, err
	}
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
	}
	return out, nil
}

// liveOperations are the OpenAPI entries of the live routes.
func liveOperations() []operation {
	str, num := obj{"type": "string"}, obj{"type": "integer"}
	queue := obj{"type": "object",
		"required": []string{"name", "waiting", "longest_wait_ms", "agents_ready", "agents_busy", "agents_logged_in"},
		"properties": obj{"name": str, "waiting": obj{"type": "integer", "description": "Calls queued or ringing an agent, not yet answered."},
			"oldest_waiting_at": obj{"type": "string", "format": "date-time", "description": "Present while a call waits: since when the longest-waiting one waits."},
			"longest_wait_ms":   num, "agents_ready": num,
			"agents_busy":      obj{"type": "integer", "description": "Member agents in a call or in after-call work."},
			"agents_logged_in": num}}
	queues := obj{"type": "array", "items": queue}
	agentEntry := obj{"type": "object", "required": []string{"user_id", "name", "queues", "status", "reason"},
		"properties": obj{"user_id": str, "name": str, "extension": str, "queues": obj{"type": "array", "items": str},
			"status": str, "reason": str, "since": obj{"type": "string", "format": "date-time"}}}
	quick := obj{"type": "object", "required": []string{"name", "destination"}, "properties": obj{"name": str, "destination": str}}
	return []operation{
		{method: "GET", path: "/queues", id: "listQueues", tag: "live", roles: deskRoles,
			summary: "The queues' live numbers",
			desc:    "Each queue of the account (its queue list, then IVR choices not in it): calls waiting, the longest wait, and the member agents by status (an agent with no queue list serves every queue).",
			ok: []response{{200, "The queues, in the settings' order.", obj{"type": "object", "required": []string{"queues"},
				"properties": obj{"queues": queues}}}}},
		{method: "GET", path: "/directory", id: "getDirectory", tag: "live", roles: deskRoles,
			summary: "The agents' transfer directory",
			desc:    "Every agent of the account with its live status (offline when not logged in), the queues with their waiting count, and the admin's quick connects (settings quick_connects).",
			ok: []response{{200, "The directory.", obj{"type": "object", "required": []string{"agents", "queues", "quick_connects"},
				"properties": obj{"agents": obj{"type": "array", "items": agentEntry}, "queues": queues,
					"quick_connects": obj{"type": "array", "items": quick}}}}}},
	}
}
